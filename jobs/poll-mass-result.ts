import type { Job } from 'bullmq';
import type { BotContext } from '../src/context.js';
import { WecomApiError } from '../src/errors.js';
import { Delivery, type DeliveryStatus } from '../src/store/models/delivery.js';
import { recordStep } from '../src/store/models/timeline.js';
import { pollJobId, type MassResultJobData } from '../src/queues/index.js';

/** 41063: WeCom is still dispatching the mass message; ask again later [D:92135]. */
const STILL_DISPATCHING = 41063;
/** get_groupmsg_send_result status → our delivery status. 0 (unsent) keeps polling. */
const RESULT: Record<number, { status: DeliveryStatus; reason: string | null }> = {
  1: { status: 'sent', reason: null },
  2: { status: 'failed', reason: 'not_a_friend' },
  3: { status: 'capped', reason: 'customer_already_received_a_mass_message' },
};

/**
 * Learns whether the owner sent a nurture mass message: sent, not a friend any more, or capped (status 3). Polls on
 * MASS_RESULT_POLL_SCHEDULE (times since submission); still unsent after the last poll → `unconfirmed`.
 */
export async function pollMassResult(job: Job<MassResultJobData>, ctx: BotContext): Promise<string> {
  const { deliveryKey, attempt } = job.data;
  const d = await Delivery.findById(deliveryKey);
  if (!d || d.status !== 'submitted' || !d.msgid) return 'nothing_to_poll';
  let status = 0;
  let sendTime: number | undefined;
  try {
    let cursor: string | undefined;
    do {
      const res = await ctx.wecom.getGroupMsgSendResult({ msgid: d.msgid, userid: d.userId, limit: 1000, cursor });
      const mine = res.send_list.find((r) => r.external_userid === d.externalUserId);
      if (mine) [status, sendTime] = [mine.status, mine.send_time];
      cursor = mine ? undefined : res.next_cursor || undefined;
    } while (cursor);
  } catch (err) {
    if (!(err instanceof WecomApiError) || err.errcode !== STILL_DISPATCHING) throw err;
  }
  const lead = { corpId: d.corpId, externalUserId: d.externalUserId };
  const known = RESULT[status];
  if (known) {
    await Delivery.updateOne({ _id: d._id, status: 'submitted' }, { $set: { status: known.status, reason: known.reason, ...(sendTime ? { sentAt: new Date(sendTime * 1000) } : {}) } });
    await recordStep(lead, deliveryKey, `mass_${known.status}`, { msgid: d.msgid, reason: known.reason });
    return known.status;
  }
  const schedule = ctx.config.MASS_RESULT_POLL_SCHEDULE;
  const next = attempt + 1;
  if (next >= schedule.length) {
    await Delivery.updateOne({ _id: d._id, status: 'submitted' }, { $set: { status: 'unconfirmed', reason: 'owner_did_not_send' } });
    await recordStep(lead, deliveryKey, 'mass_unconfirmed', { msgid: d.msgid, owner: d.userId });
    return 'unconfirmed';
  }
  const delay = Math.max(0, d.createdAt.getTime() + schedule[next]! - Date.now());
  await ctx.queues.massResult.add('poll', { deliveryKey, attempt: next }, { jobId: pollJobId(deliveryKey, next), delay });
  return 'unsent_yet';
}
