import type { BotContext } from '../../context.js';
import { WecomApiError } from '../../errors.js';
import { jobIds } from '../../queues/job-ids.js';
import { deliveryOf, updateOutcome } from '../../store/delivery-ledger.js';
import type { DeliveryStatus } from '../../store/models/delivery.js';
import { leadId } from '../../store/models/lead.js';
import { recordStep } from '../../store/timeline.js';
import { exhaustMassQuota } from './budget.js';
import { massQuotaPeriod } from './mass-quota.js';

/** A mass message to follow up: everything the poll needs, so it never waits for the delivery's record. */
export interface MassPoll {
  deliveryKey: string;
  /** Index into MASS_RESULT_POLL_SCHEDULE of this poll. */
  attempt: number;
  msgid: string;
  /** The member who was asked to send it. */
  userId: string;
  corpId: string;
  externalUserId: string;
  /** When add_msg_template accepted it (ms): the poll schedule counts from here. */
  submittedAt: number;
}

/** 41063: WeCom is still dispatching the mass message; ask again later [D:92135]. */
const STILL_DISPATCHING = 41063;
/** get_groupmsg_send_result status → the delivery's status. 0 (unsent) keeps polling [D:92135]. */
const RESULT: Record<number, { status: DeliveryStatus; reason: string | null }> = {
  1: { status: 'sent', reason: null },
  2: { status: 'failed', reason: 'not_a_friend' },
  3: { status: 'capped', reason: 'customer_already_received_a_mass_message' },
};

/**
 * Learns whether the owner sent a mass message: sent, not a friend any more, or capped (status 3: the customer's
 * quota is used up for the period, so no later send tries the mass route before it ends). Polls on
 * MASS_RESULT_POLL_SCHEDULE; still unsent after the last poll → `unconfirmed`. Returns what it found.
 */
export async function pollMassResult(ctx: Pick<BotContext, 'wecom' | 'config' | 'queues' | 'leads' | 'log'>, p: MassPoll): Promise<string> {
  let status = 0;
  let sendTime: number | undefined;
  try {
    let cursor: string | undefined;
    do {
      const res = await ctx.wecom.getGroupMsgSendResult({ msgid: p.msgid, userid: p.userId, limit: 1000, cursor });
      const mine = res.send_list.find((r) => r.external_userid === p.externalUserId);
      if (mine) [status, sendTime] = [mine.status, mine.send_time];
      cursor = mine ? undefined : res.next_cursor || undefined;
    } while (cursor);
  } catch (err) {
    if (!(err instanceof WecomApiError) || err.errcode !== STILL_DISPATCHING) throw err;
  }
  const lead = { corpId: p.corpId, externalUserId: p.externalUserId };
  const known = RESULT[status];
  if (known) {
    const at = sendTime ? new Date(sendTime * 1000) : new Date();
    await settle(p, known.status, { reason: known.reason, ...(known.status === 'sent' ? { sentAt: at } : {}) });
    if (known.status === 'capped') await exhaustMassQuota(leadId(p.corpId, p.externalUserId), massQuotaPeriod(ctx.config.MASS_MESSAGE_CAP, p.submittedAt), p.deliveryKey);
    // The sender just messaged the customer: mass-message tasks for this customer now go to them [D:92135].
    if (known.status === 'sent') await ctx.leads.withLock(lead, () => ctx.leads.setLocked(lead, { lastInteraction: { userId: p.userId, at } }));
    await recordStep(lead, p.deliveryKey, `mass_${known.status}`, { msgid: p.msgid, reason: known.reason });
    ctx.log.info({ externalUserId: p.externalUserId, owner: p.userId, deliveryKey: p.deliveryKey, status: known.status }, known.status === 'sent' ? 'mass message sent by the owner' : 'mass message not delivered');
    return known.status;
  }
  const schedule = ctx.config.MASS_RESULT_POLL_SCHEDULE;
  const next = p.attempt + 1;
  if (next >= schedule.length) {
    await settle(p, 'unconfirmed', { reason: 'owner_did_not_send' });
    await recordStep(lead, p.deliveryKey, 'mass_unconfirmed', { msgid: p.msgid, owner: p.userId });
    ctx.log.info({ externalUserId: p.externalUserId, owner: p.userId, deliveryKey: p.deliveryKey }, 'mass message never sent by the owner');
    return 'unconfirmed';
  }
  const delay = Math.max(0, p.submittedAt + schedule[next]! - Date.now());
  await ctx.queues.add('mass-result', { ...p, attempt: next }, { jobId: jobIds.massPoll(p.deliveryKey, next), delay });
  return 'unsent_yet';
}

/** Moves the delivery on from `submitted`; its record may still be on its way through the records queue. */
async function settle(p: MassPoll, status: DeliveryStatus, set: Record<string, unknown>): Promise<void> {
  if (await updateOutcome(p.deliveryKey, ['submitted'], { status, ...set })) return;
  // Not moved: settled by an earlier poll (fine), or not recorded yet (poll again once the record exists).
  if (!(await deliveryOf(p.deliveryKey))) throw new Error(`delivery ${p.deliveryKey} is not recorded yet; polling again`);
}
