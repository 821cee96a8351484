import { eachById } from '../../store/by-id.js';
import type { BotContext } from '../../context.js';
import { TOKEN_ERRCODES, WecomApiError } from '../../errors.js';
import { jobIds } from '../../queues/job-ids.js';
import { deliveryOf, updateOutcome } from '../../store/delivery-ledger.js';
import { CampaignGroup } from '../../store/models/campaign-group.js';
import { Delivery, type DeliveryStatus } from '../../store/models/delivery.js';
import { leadId, type LeadRef } from '../../store/models/lead.js';
import { recordStep, recordSteps } from '../../store/timeline.js';
import type { GroupMsgSendResultResponse } from '../../wecom/types.js';
import { raiseAlert } from '../alerts/ops-alerts.js';
import { localDay } from '../nurture/clock.js';
import { exhaustMassQuota, exhaustMassQuotaMany, giveBackMassQuota } from './budget.js';
import { giveBackCases } from './give-back-case.js';
import { massQuotaPeriod } from './mass-quota.js';

/** A mass message to follow up: everything the poll needs, so it never waits for the delivery's record. */
export interface MassPoll {
  /** The delivery; for a group (one message to many customers), the group's key. */
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
  /**
   * A message to many customers (a campaign's group): each recipient's delivery key is this prefix plus its lead id,
   * and one poll settles them all (`externalUserId` is then `*`).
   */
  group?: { deliveryKeyPrefix: string };
}

/** 41063: WeCom is still dispatching the mass message; ask again later [D:92135]. */
const STILL_DISPATCHING = 41063;
/**
 * 41047 (invalid msgid): WeCom does not know the mass message at all (global errcodes [D:90313]), e.g. a task the
 * sandbox forgot when it restarted. No later try or poll can learn anything about it: the poll gives up at once.
 */
const UNKNOWN_MSGID = 41047;
/** get_groupmsg_send_result status → the delivery's status. 0 (unsent) keeps polling [D:92135]. */
const RESULT: Record<number, { status: DeliveryStatus; reason: string | null }> = {
  1: { status: 'sent', reason: null },
  2: { status: 'failed', reason: 'not_a_friend' },
  3: { status: 'capped', reason: 'customer_already_received_a_mass_message' },
};

type Ctx = Pick<BotContext, 'wecom' | 'config' | 'queues' | 'leads' | 'log' | 'redis' | 'keys'>;
type ResultRow = GroupMsgSendResultResponse['send_list'][number];

const RESULT_API = 'externalcontact/get_groupmsg_send_result';

/**
 * Learns whether the owner sent a mass message: sent, not a friend any more, or capped (status 3: the customer's
 * quota is used up for the period, so no later send tries the mass route before it ends). Polls on
 * MASS_RESULT_POLL_SCHEDULE; still unsent after the last poll → `unconfirmed`. Returns what it found.
 *
 * A poll WeCom refuses with an errcode not known to pass (refusedUnexpectedly) fails like any other, so the job backs
 * off and tries again; on the job's last attempt it gives up that poll: the next one on the schedule asks again, and
 * after the last one the deliveries it covers are `unknown` (resultUnavailable). So such a message is asked about at
 * most (polls × the job's attempts) times and for as long as the schedule (72 h by default), never for ever.
 * 41047 (WeCom does not know the msgid) is the one refusal that never changes by definition: the first try settles
 * what the poll covers as after the last poll (`unknown`), with no retry and no further poll.
 */
export async function pollMassResult(ctx: Ctx, p: MassPoll, opts: { lastAttempt?: boolean } = {}): Promise<string> {
  let rows: ResultRow[];
  try {
    rows = await readResults(ctx, p);
  } catch (err) {
    if (unknownMsgid(err)) return resultUnavailable(ctx, p, err);
    if (!opts.lastAttempt || !refusedUnexpectedly(err)) throw err;
    return resultUnavailable(ctx, p, err);
  }
  return p.group ? settleGroup(ctx, p, p.group, rows) : settleOne(ctx, p, rows);
}

/**
 * The send result of (msgid, sender), page after page: to the end for a group, until the customer's row for one
 * delivery. Nothing yet while WeCom is still dispatching the message (41063) [D:92135].
 */
async function readResults(ctx: Pick<BotContext, 'wecom'>, p: MassPoll): Promise<ResultRow[]> {
  const rows: ResultRow[] = [];
  try {
    let cursor: string | undefined;
    do {
      const res = await ctx.wecom.getGroupMsgSendResult({ msgid: p.msgid, userid: p.userId, limit: 1000, cursor });
      rows.push(...res.send_list);
      const found = !p.group && res.send_list.some((r) => r.external_userid === p.externalUserId);
      cursor = found ? undefined : res.next_cursor || undefined;
    } while (cursor);
  } catch (err) {
    if (!(err instanceof WecomApiError) || err.errcode !== STILL_DISPATCHING) throw err;
  }
  return rows;
}

/**
 * An errcode answer of get_groupmsg_send_result itself that is not known to pass with time: any but 41063 (still
 * dispatching), the retryable ones (-1 system busy, 45009 / 45033 rate limits) and a token the client could not
 * refresh (40014, 40082, 42001, 42009), which are retried as any failure, for as long as they last. A token that
 * cannot be fetched at all (gettoken) says nothing about this message: retried too (the platform alerts report it).
 */
export function refusedUnexpectedly(err: unknown): err is WecomApiError {
  return err instanceof WecomApiError && err.api === RESULT_API && err.errcode !== 0 && err.errcode !== STILL_DISPATCHING && !err.retryable && !TOKEN_ERRCODES.has(err.errcode);
}

/** get_groupmsg_send_result answered 41047: WeCom does not know this msgid, so it never will give its result. */
function unknownMsgid(err: unknown): err is WecomApiError {
  return refusedUnexpectedly(err) && err.errcode === UNKNOWN_MSGID;
}

/** Schedules poll `attempt` of the schedule, at its time counted from the submission. */
async function pollAgain(ctx: Pick<BotContext, 'config' | 'queues'>, p: MassPoll, attempt: number): Promise<void> {
  const delay = Math.max(0, p.submittedAt + ctx.config.MASS_RESULT_POLL_SCHEDULE[attempt]! - Date.now());
  await ctx.queues.add('mass-result', { ...p, attempt }, { jobId: jobIds.massPoll(p.deliveryKey, attempt), delay });
}

/** What a delivery whose send result WeCom would not give is settled with (the errcode goes beside it). */
const RESULT_UNAVAILABLE = 'send_result_unavailable';

/**
 * Every try of this poll was refused (refusedUnexpectedly). Before the last poll of the schedule, the next poll asks again
 * at its time; at the last one the message's fate cannot be learnt any more: the deliveries still `submitted` become
 * `unknown` with the errcode (never sent again, never counted as delivered), and ops staff get an alert, once per
 * errcode and day (a refusal like 60111, the sender left, or 48002 tends to hit many messages at once). A msgid
 * WeCom does not know (41047) is settled so at once, whichever poll it is.
 */
async function resultUnavailable(ctx: Ctx, p: MassPoll, err: WecomApiError): Promise<string> {
  const where = { deliveryKey: p.deliveryKey, msgid: p.msgid, owner: p.userId, errcode: err.errcode, attempt: p.attempt };
  const unknown = err.errcode === UNKNOWN_MSGID;
  const next = p.attempt + 1;
  if (!unknown && next < ctx.config.MASS_RESULT_POLL_SCHEDULE.length) {
    ctx.log.warn(where, 'mass message result refused by WeCom on every try of this poll: asking again at the next poll');
    await pollAgain(ctx, p, next);
    return 'result_refused';
  }
  // Raised before anything is settled: a failure after it retries the whole of this, and the alert is once per key.
  await raiseAlert(ctx, {
    key: `mass-result|${err.errcode}|${localDay(Date.now(), ctx.config.OPS_TIMEZONE)}`,
    kind: 'mass_result_unavailable',
    title: `群发结果查询失败（错误码 ${err.errcode}）`,
    text: unknown
      ? `企业微信不认识这条群发（get_groupmsg_send_result，错误码 ${err.errcode}：msgid 无效），如群发 \`${p.deliveryKey}\`（员工 ${p.userId}），其结果再也查不到，已停止查询。这些客户的送达记为「结果未知」，不会自动重发。同一错误码今天不再重复提醒。`
      : `企业微信在最后一次查询时仍拒绝返回群发结果（get_groupmsg_send_result，错误码 ${err.errcode}），如群发 \`${p.deliveryKey}\`（员工 ${p.userId}）。这些客户的送达记为「结果未知」，不会自动重发。同一错误码今天不再重复提醒。`,
  });
  const set = { errcode: err.errcode, reason: RESULT_UNAVAILABLE };
  if (!p.group) {
    await settle(p, 'unknown', set);
    await recordStep({ corpId: p.corpId, externalUserId: p.externalUserId }, p.deliveryKey, 'mass_unknown', { msgid: p.msgid, ...set });
  } else {
    const keyOf = groupKeyOf(p, p.group);
    const left = await Delivery.find({ group: p.deliveryKey, status: 'submitted' }, { externalUserId: 1 }).lean();
    await settleMany(p, keyOf, left.map((d) => d.externalUserId), 'unknown', set);
    const group = await CampaignGroup.findById(p.deliveryKey, { tally: 1 }).lean();
    const before = (group?.tally ?? {}) as Partial<GroupTally>;
    const tally: GroupTally = { sent: 0, notAFriend: 0, capped: 0, unconfirmed: 0, ...before, unsent: 0, unknown: (before.unknown ?? 0) + left.length };
    await CampaignGroup.updateOne({ _id: p.deliveryKey }, { $set: { tally, status: 'settled', settledAt: new Date() } });
  }
  ctx.log.error(where, unknown ? 'mass message unknown to WeCom (41047, invalid msgid): polling stopped, its deliveries are unknown' : 'mass message result unavailable after the last poll: its deliveries are unknown');
  return 'unknown';
}

/** One customer's delivery, by its row of the send result (none: not sent yet). */
async function settleOne(ctx: Ctx, p: MassPoll, rows: readonly ResultRow[]): Promise<string> {
  let status = 0;
  let sendTime: number | undefined;
  const mine = rows.find((r) => r.external_userid === p.externalUserId);
  if (mine) [status, sendTime] = [mine.status, mine.send_time];
  const lead = { corpId: p.corpId, externalUserId: p.externalUserId };
  const known = RESULT[status];
  if (known) {
    const at = sendTime ? new Date(sendTime * 1000) : new Date();
    await settle(p, known.status, { reason: known.reason, ...(known.status === 'sent' ? { sentAt: at } : {}) });
    if (known.status === 'capped') await exhaustMassQuota(leadId(p.corpId, p.externalUserId), massQuotaPeriod(ctx.config.MASS_MESSAGE_CAP, p.submittedAt), p.deliveryKey);
    if (known.reason === 'not_a_friend') await giveBackMassQuota([{ lead: leadId(p.corpId, p.externalUserId), holder: p.deliveryKey }], massQuotaPeriod(ctx.config.MASS_MESSAGE_CAP, p.submittedAt));
    if (known.status !== 'sent') await giveBackCaseOf(ctx, p, known.status);
    // The sender just messaged the customer: mass-message tasks for this customer now go to them [D:92135].
    if (known.status === 'sent') await noteInteraction(ctx, lead, p.userId, at);
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
  await pollAgain(ctx, p, next);
  return 'unsent_yet';
}

/** The message did not reach the customer (status 2 or 3): the case study it carried, if any, may go to them later. */
async function giveBackCaseOf(ctx: Ctx, p: MassPoll, status: DeliveryStatus): Promise<void> {
  const d = await deliveryOf(p.deliveryKey);
  if (!d?.caseSlug || d.status !== status) return;
  await giveBackCases(ctx, [{ lead: { corpId: p.corpId, externalUserId: p.externalUserId }, deliveryKey: p.deliveryKey, caseSlug: d.caseSlug, enrollmentId: d.enrollmentId }]);
}

/** Moves the delivery on from `submitted`; its record may still be on its way through the records queue. */
async function settle(p: MassPoll, status: DeliveryStatus, set: Record<string, unknown>): Promise<void> {
  if (await updateOutcome(p.deliveryKey, ['submitted'], { status, ...set })) return;
  // Not moved: settled by an earlier poll (fine), or not recorded yet (poll again once the record exists).
  if (!(await deliveryOf(p.deliveryKey))) throw new Error(`delivery ${p.deliveryKey} is not recorded yet; polling again`);
}

/**
 * The sender messaged the customer at `at`: mass-message tasks for them now go to the sender [D:92135], unless the
 * customer has interacted with someone since (polls run hours apart; a newer owner's add must not be written over).
 */
async function noteInteraction(ctx: Pick<BotContext, 'leads'>, lead: LeadRef, userId: string, at: Date): Promise<void> {
  await ctx.leads.update(lead, { $or: [{ lastInteraction: null }, { 'lastInteraction.at': { $lte: at } }] }, { $set: { lastInteraction: { userId, at } } });
}

/** What a group's recipients came to, by get_groupmsg_send_result's status, as of a poll. */
export interface GroupTally {
  sent: number;
  notAFriend: number;
  capped: number;
  /** Not sent yet (the owner has not confirmed); after the last poll they are `unconfirmed`. */
  unsent: number;
  unconfirmed: number;
  /** Not sent when the campaign was cancelled and the task withdrawn: never will be. */
  withdrawn?: number;
  /** WeCom would not give the result up to the last poll (an errcode): whether they got it is not known. */
  unknown?: number;
}

/** A group's recipient's delivery key, by external user id. */
const groupKeyOf = (p: MassPoll, g: { deliveryKeyPrefix: string }) => (ext: string) => `${g.deliveryKeyPrefix}${leadId(p.corpId, ext)}`;

/** Moves a group's recipients on from `submitted` (one update each, by _id) and notes it on their timelines. */
async function settleMany(p: MassPoll, keyOf: (ext: string) => string, ids: readonly string[], status: DeliveryStatus, set: Record<string, unknown>): Promise<void> {
  if (!ids.length) return;
  await eachById(ids, (ext) => Delivery.updateOne({ _id: keyOf(ext), status: 'submitted' }, { $set: { status, ...set } }));
  const detail = { msgid: p.msgid, reason: set.reason ?? null, ...(set.errcode ? { errcode: set.errcode } : {}) };
  await recordSteps(ids.map((ext) => ({ lead: { corpId: p.corpId, externalUserId: ext }, sourceKey: keyOf(ext), type: `mass_${status}`, detail })));
}

/**
 * A poll of a mass message to many customers (a campaign's group): one get_groupmsg_send_result per (msgid,
 * sender), read to the end, settles every recipient's delivery [D:92135] — sent, not a friend, capped (status 3: the
 * customer's quota is used up for the period), or still unsent (polled again; unconfirmed after the last poll). Each
 * class of recipients is settled in one update. The group keeps the tally.
 */
async function settleGroup(ctx: Ctx, p: MassPoll, g: { deliveryKeyPrefix: string }, rows: readonly ResultRow[]): Promise<string> {
  const schedule = ctx.config.MASS_RESULT_POLL_SCHEDULE;
  const last = p.attempt + 1 >= schedule.length;
  const group = await CampaignGroup.findById(p.deliveryKey, { retarget: 1, size: 1, refused: 1, withdrawnAt: 1, caseSlug: 1 }).lean();
  const keyOf = groupKeyOf(p, g);
  const tally: GroupTally = { sent: 0, notAFriend: 0, capped: 0, unsent: 0, unconfirmed: 0 };
  // Recipients WeCom does not list (still dispatching) are unsent too.
  const listed = new Set(rows.map((r) => r.external_userid));
  const expected = (group?.size ?? rows.length) - (group?.refused ?? 0);
  tally.unsent = Math.max(0, expected - listed.size);
  const settle = (ids: string[], status: DeliveryStatus, set: Record<string, unknown>) => settleMany(p, keyOf, ids, status, set);
  const bySendTime = new Map<number, string[]>();
  const notFriends: string[] = [];
  const capped: string[] = [];
  const unsent: string[] = [];
  for (const r of rows) {
    if (r.status === 1) {
      const at = r.send_time ?? Math.floor(Date.now() / 1000);
      bySendTime.set(at, [...(bySendTime.get(at) ?? []), r.external_userid]);
      tally.sent++;
    } else if (r.status === 2) {
      notFriends.push(r.external_userid);
      tally.notAFriend++;
    } else if (r.status === 3) {
      capped.push(r.external_userid);
      tally.capped++;
    } else {
      unsent.push(r.external_userid);
      tally.unsent++;
    }
  }
  for (const [at, ids] of bySendTime) await settle(ids, 'sent', { sentAt: new Date(at * 1000), reason: null });
  await settle(notFriends, 'failed', { reason: 'not_a_friend' });
  await settle(capped, 'capped', { reason: 'customer_already_received_a_mass_message' });
  const period = massQuotaPeriod(ctx.config.MASS_MESSAGE_CAP, p.submittedAt);
  const holders = (ids: readonly string[]) => ids.map((ext) => ({ lead: leadId(p.corpId, ext), holder: keyOf(ext) }));
  if (capped.length) await exhaustMassQuotaMany(holders(capped), period);
  await giveBackMassQuota(holders(notFriends), period);
  await giveBackGroupCases(ctx, p, keyOf, group?.caseSlug, [...notFriends, ...capped]);
  // The sender just messaged these customers: their mass-message tasks now go to the sender [D:92135]. Only those who
  // last interacted with someone else are written.
  const retarget = new Set(group?.retarget ?? []);
  for (const [at, ids] of bySendTime) {
    for (const ext of ids.filter((x) => retarget.has(x))) {
      const lead = { corpId: p.corpId, externalUserId: ext };
      await noteInteraction(ctx, lead, p.userId, new Date(at * 1000));
    }
  }
  if (group?.withdrawnAt && tally.unsent) {
    // The campaign was cancelled and the task withdrawn: whoever was not sent it yet never will be.
    const unlisted = await Delivery.find({ group: p.deliveryKey, status: 'submitted' }, { externalUserId: 1 }).lean();
    const withdrawn = [...new Set([...unsent, ...unlisted.map((d) => d.externalUserId)])];
    await settle(withdrawn, 'skipped', { reason: 'campaign_cancelled' });
    // Withdrawn before the owner sent it, so it can never reach them [D:97611]: its case study may go to them later,
    // and their quota's unit is theirs again.
    await giveBackGroupCases(ctx, p, keyOf, group?.caseSlug, withdrawn);
    await giveBackMassQuota(holders(withdrawn), period);
    [tally.withdrawn, tally.unsent] = [tally.unsent, 0];
  } else if (last && tally.unsent) {
    await settle(unsent, 'unconfirmed', { reason: 'owner_did_not_send' });
    // Unlisted recipients (never dispatched) too.
    const unlisted = await Delivery.find({ group: p.deliveryKey, status: 'submitted' }, { externalUserId: 1 }).lean();
    await settle(unlisted.map((d) => d.externalUserId), 'unconfirmed', { reason: 'owner_did_not_send' });
    [tally.unconfirmed, tally.unsent] = [tally.unsent, 0];
  }
  const done = tally.unsent === 0;
  await CampaignGroup.updateOne({ _id: p.deliveryKey }, { $set: { tally, status: done ? 'settled' : 'submitted', ...(done ? { settledAt: new Date() } : {}) } });
  ctx.log.info({ group: p.deliveryKey, owner: p.userId, ...tally }, done ? 'campaign mass message settled' : 'campaign mass message: some customers not sent yet');
  if (done) return 'settled';
  await pollAgain(ctx, p, p.attempt + 1);
  return 'unsent_yet';
}

/**
 * The recipients of a group the message did not reach (status 2 or 3, or withdrawn before the owner sent it): the
 * group's case study, if it had one, may go to them later. Those the owner never confirmed keep it taken: WeCom sets
 * no end to a task, so the owner may still send it after the last poll. A group stored before it kept its case study (`caseSlug` absent) has it read from their deliveries.
 */
async function giveBackGroupCases(ctx: Ctx, p: MassPoll, keyOf: (ext: string) => string, caseSlug: string | null | undefined, ids: readonly string[]): Promise<void> {
  if (!ids.length || caseSlug === null) return;
  const slugs = caseSlug !== undefined ? ids.map(() => caseSlug) : await eachById(ids, async (ext) => (await Delivery.findById(keyOf(ext), { caseSlug: 1 }).lean())?.caseSlug ?? null);
  const cases = ids.flatMap((ext, i) => (slugs[i] ? [{ lead: { corpId: p.corpId, externalUserId: ext }, deliveryKey: keyOf(ext), caseSlug: slugs[i]! }] : []));
  await giveBackCases(ctx, cases);
}
