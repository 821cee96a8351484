import type { BotContext } from '../../context.js';
import { jobIds } from '../../queues/job-ids.js';
import { createOnce } from '../../store/create-once.js';
import { KfResponse } from '../../store/models/kf.js';
import { Lead, leadId, splitLeadId, type LeadFields, type LeadRef } from '../../store/models/lead.js';
import { recordStep } from '../../store/timeline.js';
import { raiseAlert } from '../alerts/ops-alerts.js';
import type { Grade } from '../vocabulary.js';
import { addServiceSeconds, serviceSecondsBetween } from './service-hours.js';
import { addToServiceDay, dayEntry } from './service-days.js';
import { replyQueuedBehind } from './set-aside.js';
import { requestSync } from './sync.js';

type Ctx = Pick<BotContext, 'config' | 'scoring' | 'queues' | 'leads' | 'redis' | 'keys' | 'wecom' | 'log' | 'channels'>;

/** A running service clock, as kept on the lead (`kf.clock`). */
export interface KfClock {
  id: string;
  msgid: string;
  excerpt: string;
  startedAt: Date;
  targetSeconds: number;
  firstDue: Date;
  secondDue: Date;
  level: number;
}

/** The conversation of a customer with a 客服 account: `<corp>:<open_kfid>:<external_userid>`. */
export const conversationId = (corpId: string, openKfid: string, externalUserId: string) => `${corpId}:${openKfid}:${externalUserId}`;

/** How long a lead of `grade` may wait for a person (scoring.yaml perGrade.replyTargetSeconds, else SERVICE_REPLY_TARGET_SECONDS). */
export function replyTargetSeconds(ctx: Pick<BotContext, 'config' | 'scoring'>, grade: string | null | undefined): number {
  return ctx.scoring.perGrade[(grade ?? 'C') as Grade]?.replyTargetSeconds ?? ctx.config.SERVICE_REPLY_TARGET_SECONDS;
}

/**
 * Starts the service clock for a customer message the bot did not resolve, unless one already runs (it measures from
 * the first unanswered message) or a person replied after this message (a replay). Its deadlines count only service
 * hours; one delayed job per clock and level fires at its deadline (deterministic ids). The caller holds the lead lock.
 */
export async function startClock(ctx: Ctx, ref: LeadRef, lead: Pick<LeadFields, 'grade' | 'kf'>, msg: { msgid: string; at: Date; text: string }): Promise<KfClock | null> {
  if (lead.kf?.clock) return null;
  if (lead.kf?.lastServicerAt && lead.kf.lastServicerAt >= msg.at) return null;
  const openKfid = lead.kf?.openKfid ?? '';
  const target = replyTargetSeconds(ctx, lead.grade);
  const { SERVICE_HOURS: hours, SERVICE_TIMEZONE: tz } = ctx.config;
  const start = msg.at.getTime();
  const clock: KfClock = {
    id: `${conversationId(ref.corpId, openKfid, ref.externalUserId)}|${msg.msgid}`,
    msgid: msg.msgid,
    excerpt: msg.text.slice(0, 60),
    startedAt: msg.at,
    targetSeconds: target,
    firstDue: new Date(addServiceSeconds(start, target, hours, tz)),
    secondDue: new Date(addServiceSeconds(start, 2 * target, hours, tz)),
    level: 0,
  };
  await ctx.leads.setLocked(ref, { 'kf.clock': clock });
  await scheduleClock(ctx, ref, clock, 1);
  return clock;
}

/** The delayed job of a clock's alert at `level` (1 at the target, 2 at twice the target). */
export async function scheduleClock(ctx: Pick<BotContext, 'queues'>, ref: LeadRef, clock: Pick<KfClock, 'id' | 'firstDue' | 'secondDue'>, level: 1 | 2): Promise<void> {
  const due = (level === 1 ? clock.firstDue : clock.secondDue).getTime();
  if (!Number.isFinite(due)) return;
  await ctx.queues.add('kf-clock', { lead: leadId(ref.corpId, ref.externalUserId), clock: clock.id, level }, { jobId: jobIds.kfClock(clock.id, level), delay: Math.max(0, due - Date.now()) });
}

/**
 * A person replied (origin 5): the clock stops, its response time is stored once per conversation and clock (wall
 * clock and service hours), and its pending alerts are dropped (a job that runs anyway finds no clock). The caller
 * holds the lead lock and clears `kf.clock`.
 */
export async function recordResponse(ctx: Ctx, ref: LeadRef, lead: Pick<LeadFields, 'grade' | 'firstTouch'>, clock: KfClock, openKfid: string, servicer: string | null, repliedAt: Date): Promise<void> {
  const { SERVICE_HOURS: hours, SERVICE_TIMEZONE: tz } = ctx.config;
  const record = {
    _id: clock.id,
    conversation: conversationId(ref.corpId, openKfid, ref.externalUserId),
    corpId: ref.corpId,
    openKfid,
    externalUserId: ref.externalUserId,
    channelKey: lead.firstTouch?.channelKey ?? null,
    servicer,
    grade: lead.grade ?? null,
    startedAt: clock.startedAt,
    repliedAt,
    seconds: Math.max(0, Math.round((repliedAt.getTime() - clock.startedAt.getTime()) / 1000)),
    serviceSeconds: serviceSecondsBetween(clock.startedAt.getTime(), repliedAt.getTime(), hours, tz),
    targetSeconds: clock.targetSeconds,
    level: clock.level,
  };
  await createOnce(KfResponse, record);
  // Also when the record existed (a retry after a crash between the two writes): a day keeps each record once.
  await addToServiceDay(ctx, ctx.config.OPS_TIMEZONE, dayEntry(record));
  for (const level of [1, 2]) await ctx.queues.get('kf-clock').remove(jobIds.kfClock(clock.id, level)).catch(() => 0);
}

/** Without a callback token kept, a deadline asks for no sync within this long of another deadline's ask (fireClock). */
const CLOCK_SYNC_GAP_MS = 20_000;

/**
 * A clock's deadline: still no person's reply → at level 1 an app message to the servicer (else the owner, else the
 * channel's owners), at level 2 one alert to the ops group. Each once (the notice's key, the alert's key), and never
 * after the reply: the job re-reads the clock under the lead lock, waits while a sync of the account is pending (the
 * reply may be in it), and while a reply fetched already waits behind the customer's set-aside work. With no sync
 * pending it asks for one first, once per deadline: a servicer may have replied in the client with WeCom's callback
 * still on its way, and sync_msg has the reply already [D:94670]. The account's deadlines share these syncs: without
 * a callback token kept the call is strictly rate limited, so a deadline then relies on another's ask of the last
 * CLOCK_SYNC_GAP_MS.
 */
export async function fireClock(ctx: Ctx, d: { lead: string; clock: string; level: number }): Promise<{ result: string; deferTo?: number }> {
  const ref = splitLeadId(d.lead);
  if (!ref) return { result: 'bad_lead' };
  const pre = await Lead.findById(d.lead, { kf: 1 }).lean();
  const openKfid = pre?.kf?.openKfid;
  if (openKfid && pre?.kf?.clock?.id === d.clock) {
    const mineKey = ctx.keys.kfClockSync(d.clock, d.level);
    const [asked, done, token, last, mine] = await ctx.redis.mget(ctx.keys.kfSyncRequested(openKfid), ctx.keys.kfSyncDone(openKfid), ctx.keys.kfToken(openKfid), ctx.keys.kfClockSyncAt(openKfid), mineKey);
    const due = (d.level === 1 ? pre.kf.clock.firstDue : pre.kf.clock.secondDue).getTime();
    const now = Date.now();
    // Waited for 15 s from the deadline, or from this deadline's own ask when that came later (the job ran late).
    if ((Number(asked) || 0) > (Number(done) || 0) && now - Math.max(due, Number(mine) || 0) < 15_000) return { result: 'waiting_for_sync', deferTo: now + 500 };
    // The account's deadlines share their syncs: one asked for at or after this deadline covers it and, without a
    // callback token kept (kf/sync_msg is strictly limited then [D:94670]), one asked for within CLOCK_SYNC_GAP_MS is
    // relied on, so many deadlines at once (a morning's, counted from the opening of the service hours) make few calls.
    const lastAsk = Number(last) || 0;
    if (mine === null && lastAsk < due && (token !== null || now - lastAsk >= CLOCK_SYNC_GAP_MS) && (await ctx.redis.set(mineKey, String(now), 'PX', 3_600_000, 'NX'))) {
      try {
        await ctx.redis.set(ctx.keys.kfClockSyncAt(openKfid), String(now), 'PX', 60_000);
        await requestSync(ctx, openKfid, null);
      } catch (err) {
        // Not asked: the job's retry asks again.
        await ctx.redis.del(mineKey).catch(() => 0);
        throw err;
      }
      return { result: 'syncing_first', deferTo: Date.now() + 300 };
    }
    // A servicer's reply already fetched may wait behind the customer's set-aside work (set-aside.ts): the reply was
    // given, so no alert; the clock stops once it is handled.
    if (await replyQueuedBehind(ctx, openKfid, ref.externalUserId, pre.kf.clock.startedAt)) return { result: 'reply_queued', deferTo: Date.now() + 5_000 };
  }
  return ctx.leads.withLock(ref, async () => {
    const lead = await Lead.findById(d.lead, { kf: 1, owners: 1, lastInteraction: 1, firstTouch: 1, name: 1, grade: 1, externalUserId: 1 }).lean();
    const clock = lead?.kf?.clock as KfClock | null | undefined;
    if (!lead || !clock || clock.id !== d.clock) return { result: 'stopped' };
    if (clock.level >= d.level) return { result: 'done_before' };
    const who = lead.name ?? lead.externalUserId;
    const waited = Math.round((Date.now() - clock.startedAt.getTime()) / 60_000);
    const target = Math.round(clock.targetSeconds / 60);
    if (d.level === 1) {
      const to = noticeRecipients(ctx, lead);
      if (to.length) {
        const key = `notice|${jobIds.kfClock(clock.id, 1)}`;
        const text = `【客服超时】客户「${who}」的消息已等待约 ${waited} 分钟（目标 ${target} 分钟，按服务时间计）仍无人回复：“${clock.excerpt}”。请尽快在企业微信「微信客服」中回复。`;
        await ctx.queues.add('staff-notice', { key, userIds: to, text, lead: ref, type: 'kf_clock_notice' }, { jobId: key });
      } else {
        await recordStep(ref, `${clock.id}|1`, 'kf_clock_unassigned', { reason: 'no servicer, owner or channel owner to tell' });
      }
      await ctx.leads.setLocked(ref, { 'kf.clock.level': 1 });
      await scheduleClock(ctx, ref, clock, 2);
    } else {
      await raiseAlert(ctx, {
        key: `kf-clock|${clock.id}|2`,
        kind: 'service_breach',
        title: '客服回复超时',
        text: `客户「${who}」的消息已等待约 ${waited} 分钟，超过目标（${target} 分钟）的两倍：“${clock.excerpt}”。负责人：${noticeRecipients(ctx, lead).join('、') || '无'}。`,
      });
      await ctx.leads.setLocked(ref, { 'kf.clock.level': 2 });
    }
    await recordStep(ref, `${clock.id}|${d.level}`, 'kf_clock_alert', { level: d.level, waitedMinutes: waited, targetSeconds: clock.targetSeconds });
    return { result: `alerted:${d.level}` };
  });
}

/** Who is told at the first deadline: the servicer serving the session, else the lead's owner, else the channel's owners. */
function noticeRecipients(ctx: Pick<BotContext, 'channels'>, lead: Pick<LeadFields, 'kf' | 'owners' | 'lastInteraction' | 'firstTouch'>): string[] {
  if (lead.kf?.servicer) return [lead.kf.servicer];
  const active = lead.owners.filter((o) => o.status === 'active').map((o) => o.userId);
  const last = lead.lastInteraction?.userId;
  if (last && active.includes(last)) return [last];
  if (active.length) return active;
  return ctx.channels.get(lead.firstTouch?.channelKey ?? '')?.owners ?? [];
}
