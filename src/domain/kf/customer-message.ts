import type { Intent } from '../../content/replies.js';
import type { BotContext } from '../../context.js';
import { jobIds } from '../../queues/job-ids.js';
import { leadId, type LeadDoc, type LeadRef } from '../../store/models/lead.js';
import { recordStep, recordSteps } from '../../store/timeline.js';
import type { KfSyncedMessage } from '../../wecom/types.js';
import { raiseAlert } from '../alerts/ops-alerts.js';
import { KF_WINDOW_MS } from '../delivery/via.js';
import { applyStage, moveStageLocked, recordStageChange, returnStage, type StageChange } from '../leads/stage.js';
import { localDay } from '../nurture/clock.js';
import { stopForStage, stopLocked } from '../nurture/stop.js';
import { startClock } from './clock.js';
import { handOff } from './handoff.js';
import { matchIntent } from './intents.js';
import { linkLeadLocked } from './link-lead.js';
import { sendReply, type ReplyLead } from './reply.js';
import { isOpen, nextOpening } from './service-hours.js';

type Ctx = BotContext;

const ENGAGED_BY = { by: 'system' as const, source: 'reply' };
const stopsOnReply = (ctx: Pick<BotContext, 'sequences'>) => [...ctx.sequences.values()].some((s) => s.stopOn.includes('reply'));
const stopsOnEngaged = (ctx: Pick<BotContext, 'sequences'>) => [...ctx.sequences.values()].some((s) => s.stopOn.includes('stage:engaged'));

/**
 * A customer's message (origin 3), as the only writer of the lead (docs/architecture.md, "One 客服 message"):
 * 1. the lead (linked or made), a touch (`kf_conversation` for a new session, else `reply`; `intent` for a pricing
 *    question), the 客服 window (last customer message, sends since) and our view of the session, in one save;
 * 2. the timeline; enrollments whose sequence lists `stopOn: reply` end; an `added` lead becomes `engaged`;
 * 3. while a person serves the session (queued or state 3) the bot stays silent and the service clock runs;
 * 4. otherwise the strongest intent acts (unsubscribe, subscribe, hand-off, qualify, notices) and replies with one
 *    message through the window's fences; no intent → the fallback: in service hours a reply and the hand-off,
 *    outside them a reply with the hours and the hand-off when they open. What the bot does not resolve starts the
 *    service clock.
 * Every effect is keyed by the message (touch, timeline, delivery, notice, alert, clock), so a second run adds nothing.
 * Replies are service, not marketing: pauses and quiet hours do not hold them (a paused lead is still answered).
 */
export async function handleCustomerMessage(ctx: Ctx, openKfid: string, m: KfSyncedMessage): Promise<string> {
  const ext = m.external_userid!;
  const ref: LeadRef = { corpId: ctx.corpId, externalUserId: ext };
  const at = new Date(m.send_time * 1000);
  const key = `kf|${openKfid}|${m.msgid}`;
  const text = m.msgtype === 'text' ? (m.text?.content ?? '') : '';
  const intent = text ? matchIntent(ctx.replies, text, m.text?.menu_id) : null;

  return ctx.leads.withLock(ref, async () => {
    let newSession = false;
    let stageBefore = '';
    let engaged: StageChange | null = null;
    const doc = await linkLeadLocked(ctx, openKfid, ext, at, (d) => {
      const kf = (d.kf ??= {} as never) as NonNullable<LeadDoc['kf']>;
      const started = kf.sessionStartedAt?.getTime() ?? 0;
      // A session begins with a customer message when none is open (ended, never begun, or past its 48 h [D:94669]).
      newSession = kf.state === null || kf.state === undefined || kf.state === 4 || kf.openKfid !== openKfid || at.getTime() - started > KF_WINDOW_MS;
      if (newSession) {
        kf.state = 0;
        kf.servicer = null;
        kf.sessionStartedAt = at;
      }
      kf.openKfid = openKfid;
      if (!kf.lastInboundAt || at > kf.lastInboundAt) {
        kf.lastInboundAt = at;
        kf.sentSinceInbound = 0;
      }
      if (!d.touches.some((t) => t.eventKey === key)) {
        const base = { channelKey: d.firstTouch?.channelKey, userId: null, at };
        d.touches.push({ ...base, eventKey: key, kind: newSession ? 'kf_conversation' : 'reply', ref: intent?.key ?? null });
        if (intent?.class === 'qualify') d.touches.push({ ...base, eventKey: `${key}#intent`, kind: 'intent', ref: intent.key });
      }
      stageBefore = d.stage;
      // A reply makes an `added` lead engaged, in the same save (never backwards: the rules refuse anything else).
      engaged = applyStage(d, 'engaged', ENGAGED_BY, at);
    });
    // Into the log of steps (one insert): the lead's timeline document, rewritten whole by some servers on each
    // append, would grow with every message of a chatty customer.
    await recordSteps([{ lead: ref, sourceKey: key, type: 'kf_message', detail: { text: text.slice(0, 500) || `[${m.msgtype}]`, intent: intent?.key ?? null, openKfid, newSession }, at }]);
    if (engaged) await recordStageChange(ref, engaged, { ...ENGAGED_BY, sourceKey: `${key}|engaged`, at });
    // One read of the lead's active enrollments, when any sequence could stop on this (stopOn: reply, stage:engaged).
    if (stopsOnReply(ctx)) await stopLocked(ctx, ref, 'reply');
    if (engaged && stopsOnEngaged(ctx)) await stopForStage(ctx, ref, 'engaged');

    const lead: ReplyLead = { _id: doc._id, corpId: doc.corpId, externalUserId: ext, name: doc.name, industry: doc.industry, role: doc.role, firstTouch: doc.firstTouch };
    const windowStart = doc.kf!.lastInboundAt!.getTime();
    const replyKey = `kf-reply|${openKfid}|${m.msgid}`;
    const unresolved = async () => startClock(ctx, ref, doc, { msgid: m.msgid, at, text: text || `[${m.msgtype}]` });
    const reply = async (r: NonNullable<Intent['reply']>, intentKey: string | null, rateExempt = false) => {
      const res = await sendReply(ctx, { lead, openKfid, key: replyKey, reply: r, intent: intentKey, windowStart, rateExempt });
      // A reply moves WeCom's session from 0 to 1; the bot treats both alike, so its view is not written for it.
      if (res === 'person_serves') await ctx.leads.setLocked(ref, { 'kf.state': 3 });
      return res;
    };

    // A person serves the session (or it waits in the queue): the bot stays silent; the clock runs.
    if (doc.kf?.state === 2 || doc.kf?.state === 3) {
      await unresolved();
      return 'silent:person_serves';
    }

    if (!intent) {
      const hours = ctx.config.SERVICE_HOURS;
      const tz = ctx.config.SERVICE_TIMEZONE;
      const open = isOpen(Date.now(), hours, tz);
      const fallback = open ? ctx.replies.fallback.inHours.reply : ctx.replies.fallback.outOfHours.reply;
      const res = fallback ? await reply(fallback, null) : null;
      if (res !== 'person_serves') {
        if (open) await handOffLocked(ctx, ref, doc, openKfid, key);
        else await handOffLater(ctx, ref, openKfid, nextOpening(Date.now(), hours, tz));
      }
      await unresolved();
      return open ? 'fallback:handed_off' : 'fallback:after_hours';
    }

    const acts = new Set(intent.actions);
    if (acts.has('unsubscribe')) {
      // One confirmation per opt-out: a lead that had opted out already gets nothing more.
      if (stageBefore === 'unsubscribed') return 'unsubscribe:already';
      await moveStageLocked(ctx, ref, 'unsubscribed', { by: 'system', source: 'unsubscribe', sourceKey: `${key}|unsubscribed`, at, reason: text.slice(0, 100) });
    }
    if (acts.has('resubscribe') && stageBefore === 'unsubscribed') {
      await moveStageLocked(ctx, ref, returnStage(doc), { by: 'system', source: 'resubscribe', sourceKey: `${key}|resubscribed`, at, reason: text.slice(0, 100) });
    }
    if (acts.has('qualify')) await moveStageLocked(ctx, ref, 'qualified', { by: 'system', source: 'intent', sourceKey: `${key}|qualified`, at, reason: intent.key });
    if (acts.has('notify_owner') || acts.has('alert_ops')) await tellStaff(ctx, doc, intent, text, acts);
    const res = intent.reply ? await reply(intent.reply, intent.key, acts.has('unsubscribe')) : null;
    if (res === 'person_serves') {
      await unresolved();
      return 'silent:person_serves';
    }
    if (acts.has('handoff')) {
      await handOffLocked(ctx, ref, doc, openKfid, key);
      await unresolved();
    }
    return `intent:${intent.key}${res ? `:${res}` : ''}`;
  });
}

/** Hands the session to a person now, and records where it went (the caller holds the lead lock). */
export async function handOffLocked(ctx: Ctx, ref: LeadRef, doc: LeadDoc, openKfid: string, sourceKey: string): Promise<string> {
  try {
    const res = await handOff(ctx, doc, openKfid);
    if (res.state === null) {
      await recordStep(ref, sourceKey, 'kf_handoff_failed', { reason: res.reason });
      return `not_handed_off:${res.reason}`;
    }
    await ctx.leads.setLocked(ref, { 'kf.state': res.state, 'kf.servicer': res.state === 3 ? res.servicer : null, 'kf.handoffAt': null });
    await recordStep(ref, sourceKey, 'kf_handed_off', { state: res.state, servicer: res.state === 3 ? res.servicer : null });
    ctx.log.info({ externalUserId: ref.externalUserId, state: res.state, servicer: res.state === 3 ? res.servicer : null }, 'kf session handed to a person');
    return res.state === 3 ? `servicer:${res.servicer}` : 'queue';
  } catch (err) {
    // The clock still runs and escalates: the customer is not forgotten.
    ctx.log.error({ externalUserId: ref.externalUserId, err: (err as Error).message }, 'kf hand-off failed');
    await recordStep(ref, sourceKey, 'kf_handoff_failed', { reason: (err as Error).message.slice(0, 200) });
    return 'failed';
  }
}

/** Outside service hours: the hand-off waits for them to open (one delayed job per lead and opening). */
async function handOffLater(ctx: Ctx, ref: LeadRef, openKfid: string, at: number): Promise<void> {
  if (!Number.isFinite(at)) return;
  const id = leadId(ref.corpId, ref.externalUserId);
  await ctx.leads.setLocked(ref, { 'kf.handoffAt': new Date(at) });
  await ctx.queues.add('kf-handoff', { lead: id, openKfid, at }, { jobId: jobIds.kfHandoff(id, at), delay: Math.max(0, at - Date.now()) });
}

/** A pricing / demo / trial question: the owner by app message and the ops group, once per lead per day. */
async function tellStaff(ctx: Ctx, doc: LeadDoc, intent: Intent, text: string, acts: Set<string>): Promise<void> {
  const ref = { corpId: doc.corpId, externalUserId: doc.externalUserId };
  const day = localDay(Date.now(), ctx.config.OPS_TIMEZONE);
  const who = doc.name ?? doc.externalUserId;
  const channel = ctx.channels.get(doc.firstTouch?.channelKey ?? '');
  const what = `客户「${who}」${doc.corpName ? `（${doc.corpName}）` : ''}在微信客服中问：“${text.slice(0, 100)}”（${intent.key}，${doc.grade} 级${channel ? `，来自${channel.name}` : ''}）`;
  if (acts.has('notify_owner')) {
    const active = doc.owners.filter((o) => o.status === 'active').map((o) => o.userId);
    const last = doc.lastInteraction?.userId;
    const to = last && active.includes(last) ? [last] : active.length ? active : (channel?.owners ?? []);
    const key = `notice|kf-intent|${doc._id.replace(/:/g, '_')}|${intent.key}|${day}`;
    if (to.length) await ctx.queues.add('staff-notice', { key, userIds: to, text: `【客户意向】${what}。请尽快跟进。`, lead: ref, type: 'kf_intent_notice' }, { jobId: key });
  }
  if (acts.has('alert_ops')) await raiseAlert(ctx, { key: `kf-intent|${doc._id}|${intent.key}|${day}`, kind: 'kf_intent', title: '客户意向', text: what });
}
