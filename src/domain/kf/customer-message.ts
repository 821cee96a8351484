import { INTENT_CLASS_NAMES, type Intent } from '../../content/replies.js';
import type { BotContext } from '../../context.js';
import type { PendingChange } from '../../store/lead-repository.js';
import { jobIds } from '../../queues/job-ids.js';
import { Lead, leadId, type LeadDoc, type LeadRef } from '../../store/models/lead.js';
import { recordStep, recordSteps } from '../../store/timeline.js';
import { addTouch } from '../../store/touch-log.js';
import type { KfSyncedMessage } from '../../wecom/types.js';
import { raiseAlert } from '../alerts/ops-alerts.js';
import { sentSince } from '../delivery/budget.js';
import { allowsMove, applyStage, moveStageLocked, recordStageChange, resubscribeStage, type StageChange } from '../leads/stage.js';
import { localDay } from '../nurture/clock.js';
import { FUNNEL, type Stage } from '../vocabulary.js';
import { stopForStage, stopLocked } from '../nurture/stop.js';
import { startClock } from './clock.js';
import { handOff } from './handoff.js';
import { matchIntent } from './intents.js';
import { openLeadLocked } from './link-lead.js';
import { sendReply, type ReplyLead } from './reply.js';
import { RunOutcomes } from './run-outcomes.js';
import { isOpen, nextOpening } from './service-hours.js';
import { clockClosedStep, openSession } from './session.js';

type Ctx = BotContext;

/** Reply outcomes that leave the customer without the answer (an `unknown` one may have gone out). */
const UNANSWERED = new Set(['rate_capped', 'window_full', 'window_closed', 'failed']);
const ENGAGED_BY = { by: 'system' as const, source: 'reply' };
const stopsOnReply = (ctx: Pick<BotContext, 'sequences'>) => [...ctx.sequences.values()].some((s) => s.stopOn.includes('reply'));
const stopsOnEngaged = (ctx: Pick<BotContext, 'sequences'>) => [...ctx.sequences.values()].some((s) => s.stopOn.includes('stage:engaged'));

/** A customer's message as the handler reads it. */
interface Said {
  m: KfSyncedMessage;
  at: Date;
  key: string;
  text: string;
  intent: Intent | null;
}

/**
 * A customer's messages (origin 3), in order, as the only writer of the lead (docs/architecture.md, "One 客服
 * message"). A run of one customer's messages from one sync page is handled together, so a chatty customer costs one
 * lead write per page, not one per message:
 * 1. the lead (linked or made), with a touch per message (`kf_conversation` for a new session, else `reply`;
 *    `intent` for a pricing question), the 客服 window (last customer message, sends since), our view of the session
 *    and the move of an `added` lead to `engaged`, applied in memory; the timeline (one insert); enrollments whose
 *    sequence lists `stopOn: reply` end;
 * 2. then each message in order: while a person serves the session (queued or state 3) the bot stays silent and the
 *    service clock runs; otherwise the strongest intent acts (unsubscribe, subscribe, hand-off, qualify, notices) and
 *    replies with one message through the window's fences; no intent → the fallback: in service hours a reply and the
 *    hand-off, outside them a reply with the hours and the hand-off when they open. What the bot does not resolve
 *    starts the service clock;
 * 3. the lead is saved once, with the replies sent counted on its window (finishRun); a message whose handling writes
 *    the lead itself (a hand-off, a clock, a stage move) has the run's change saved first. The replies' outcomes are
 *    written with the run (RunOutcomes), and the move to `engaged` goes on the timeline.
 * Every reply goes in the window of the customer's latest message (WeCom counts the 5 from it [D:94677]). A run cut
 * short before its save is run again whole: every effect is keyed by its message (touch, timeline, delivery, notice,
 * alert, clock), so a second run adds nothing and sends nothing twice.
 * Replies are service, not marketing: pauses and quiet hours do not hold them (a paused lead is still answered).
 * Returns what each message did, in order.
 */
export async function handleCustomerMessages(ctx: Ctx, openKfid: string, msgs: readonly KfSyncedMessage[]): Promise<string[]> {
  if (!msgs.length) return [];
  const ext = msgs[0]!.external_userid!;
  const ref: LeadRef = { corpId: ctx.corpId, externalUserId: ext };
  const said: Said[] = msgs.map((m) => {
    const text = m.msgtype === 'text' ? (m.text?.content ?? '') : '';
    return { m, at: new Date(m.send_time * 1000), key: `kf|${openKfid}|${m.msgid}`, text, intent: text ? matchIntent(ctx.replies, text, m.text?.menu_id) : null };
  });

  return ctx.leads.withLock(ref, async () => {
    let newSession: boolean[] = [];
    let closed: Array<{ at: Date; step: NonNullable<ReturnType<typeof clockClosedStep>> }> = [];
    let engaged: StageChange | null = null;
    const change = await openLeadLocked(ctx, openKfid, ext, said[0]!.at, (d) => {
      // Re-run whole when the save retries: nothing outside this closure is kept from a discarded run.
      newSession = [];
      closed = [];
      const kf = (d.kf ??= {} as never) as NonNullable<LeadDoc['kf']>;
      for (const { at, key, intent } of said) {
        const left = openSession(kf, openKfid, at);
        const fresh = left !== null;
        const step = left && clockClosedStep(left, 'new_session');
        if (step) closed.push({ at, step });
        newSession.push(fresh);
        if (!kf.lastInboundAt || at > kf.lastInboundAt) {
          kf.lastInboundAt = at;
          kf.sentSinceInbound = 0;
        }
        const base = { channelKey: d.firstTouch?.channelKey, at };
        // An opt-out is a touch (the lead's last), not interest: it scores nothing and is no campaign's reply.
        const kind = intent?.class === 'unsubscribe' ? 'opt_out' : fresh ? 'kf_conversation' : 'reply';
        if (addTouch(d, { ...base, eventKey: key, kind, ref: intent?.key ?? null }) && intent?.class === 'qualify') {
          addTouch(d, { ...base, eventKey: `${key}#intent`, kind: 'intent', ref: intent.key });
        }
      }
      // A reply makes an `added` lead engaged, in the same save (never backwards: the rules refuse anything else); an
      // opt-out alone does not.
      if (said.some((s) => s.intent?.class !== 'unsubscribe')) engaged = applyStage(d, 'engaged', ENGAGED_BY, said[0]!.at);
    });
    const doc = change.doc;
    // Into the log of steps (one insert): the lead's timeline document, rewritten whole by some servers on each
    // append, would grow with every message of a chatty customer.
    await recordSteps([
      ...closed.map((c) => ({ lead: ref, ...c.step, at: c.at })),
      ...said.map((s, i) => ({ lead: ref, sourceKey: s.key, type: 'kf_message' as const, detail: { text: s.text.slice(0, 500) || `[${s.m.msgtype}]`, intent: s.intent?.key ?? null, openKfid, newSession: newSession[i] ?? false }, at: s.at })),
    ]);
    // One read of the lead's active enrollments, when any sequence could stop on this (stopOn: reply).
    if (stopsOnReply(ctx)) await stopLocked(ctx, ref, 'reply');

    // What the messages before this one changed, as the next one must see it (the saved doc is not read again).
    const view: Conversation = {
      doc,
      stage: doc.stage,
      stageBeforeExit: doc.stageBeforeExit ?? null,
      state: doc.kf?.state ?? null,
      clock: Boolean(doc.kf?.clock),
      told: new Map(),
      windowFull: false,
      windowStart: doc.kf!.lastInboundAt!.getTime(),
      outcomes: new RunOutcomes(ctx),
      beforeWrite: async () => void (change.saved || (await change.save())),
    };
    const out: string[] = [];
    const finish = async () => {
      await finishRun(ctx, ref, change, view.outcomes, view.windowStart);
      const moved = engaged as StageChange | null;
      if (!moved) return;
      await recordStageChange(ref, moved, { ...ENGAGED_BY, sourceKey: `${said[0]!.key}|engaged`, at: said[0]!.at });
      if (stopsOnEngaged(ctx)) await stopForStage(ctx, ref, 'engaged');
    };
    try {
      for (const s of said) out.push(await answer(ctx, ref, openKfid, view, s));
    } catch (err) {
      // What was done before the failure is still saved, recorded and counted; the run's error is the one reported.
      await finish().catch(() => undefined);
      throw err;
    }
    await finish();
    await tellStaffOnce(ctx, change.doc, [...view.told.values()]);
    return out;
  });
}

/**
 * The run's lead write: its change (touches, window, session, `engaged`) with the window's count of messages sent, in
 * one save. When the run wrote the lead meanwhile (a hand-off, a clock, a stage move: it saved its change first), the
 * count is an update of its own. Then the run's outcomes are written.
 */
async function finishRun(ctx: Ctx, ref: LeadRef, change: PendingChange, outcomes: RunOutcomes, windowStart: number): Promise<void> {
  const doc = change.doc;
  // What WeCom counts in the window [D:94677]: the run's sends, and any that went out after the customer's message
  // before the bot had seen it (the lead's sent set; lost with Redis, it counts nothing).
  const before = doc.kf?.sentSinceInbound ?? 0;
  const count = Math.max(before + outcomes.sent, await sentSince(ctx.redis, ctx.keys, doc._id, windowStart));
  if (!change.saved) await change.save((d) => void (d.kf!.sentSinceInbound = count));
  else if (count !== before) await ctx.leads.setLocked(ref, { 'kf.sentSinceInbound': count });
  await outcomes.settle();
}

/** The lead and session as the messages of one run left them. */
interface Conversation {
  doc: LeadDoc;
  /** The lead's stage, and the funnel stage it left when it opted out, as this run's moves left them. */
  stage: string;
  stageBeforeExit: string | null;
  state: number | null;
  /**
   * The staff notices of this run, by intent (once per lead and day anyway: their keys): made after the run's save, so
   * they give the lead as this message left it (its grade after the touch).
   */
  told: Map<string, { intent: Intent; text: string; acts: Set<string> }>;
  /** A service clock runs (the first unresolved message started it). */
  clock: boolean;
  /** The last reply found the window's 5 used (nothing of the run's can free one: it holds the lead lock). */
  windowFull: boolean;
  /** Start (ms) of the window replies go in: the customer's latest message. */
  windowStart: number;
  /** The run's reply outcomes, written and counted with the run. */
  outcomes: RunOutcomes;
  /** Awaited before any other write of the lead: the run's change is saved first (otherwise once, at the end). */
  beforeWrite: () => Promise<void>;
}

/** Step 2 of handleCustomerMessages for one message (the caller holds the lead lock). */
async function answer(ctx: Ctx, ref: LeadRef, openKfid: string, v: Conversation, s: Said): Promise<string> {
  const { doc } = v;
  const { m, at, key, text, intent } = s;
  const lead: ReplyLead = { _id: doc._id, corpId: doc.corpId, externalUserId: ref.externalUserId, name: doc.name, industry: doc.industry, role: doc.role, firstTouch: doc.firstTouch };
  const replyKey = `kf-reply|${openKfid}|${m.msgid}`;
  // One clock at a time: a message of this run started one already, or the lead had one (doc.kf.clock).
  const unresolved = async () => {
    if (v.clock) return;
    await v.beforeWrite();
    if (await startClock(ctx, ref, doc, { msgid: m.msgid, at, text: text || `[${m.msgtype}]` })) v.clock = true;
  };
  const reply = async (r: NonNullable<Intent['reply']>, intentKey: string | null, rateExempt = false) => {
    const res = await sendReply(ctx, { lead, openKfid, key: replyKey, reply: r, intent: intentKey, windowStart: v.windowStart, rateExempt, windowFull: v.windowFull, outcomes: v.outcomes });
    v.windowFull = res === 'window_full';
    // A reply moves WeCom's session from 0 to 1; the bot treats both alike, so its view is not written for it.
    if (res === 'person_serves') {
      await v.beforeWrite();
      await ctx.leads.setLocked(ref, { 'kf.state': 3 });
      v.state = 3;
    }
    return res;
  };
  const handOffNow = async () => {
    await v.beforeWrite();
    const res = await handOffLocked(ctx, ref, doc, openKfid, key);
    if (res === 'queue') v.state = 2;
    else if (res.startsWith('servicer:')) v.state = 3;
    return res;
  };

  // A person serves the session (or it waits in the queue): the bot stays silent; the clock runs. An opt-out (or its
  // undoing) still counts, silently: the person sees the message, and nurture and campaigns must stop meanwhile.
  if (v.state === 2 || v.state === 3) {
    const acts = new Set(intent?.actions ?? []);
    if (acts.has('unsubscribe') || acts.has('resubscribe')) {
      const done = await optOut(ctx, ref, v, s, acts);
      return done === 'none' ? 'silent:person_serves' : `silent:person_serves:${done}`;
    }
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
      if (open) await handOffNow();
      else {
        await v.beforeWrite();
        await handOffLater(ctx, ref, openKfid, nextOpening(Date.now(), hours, tz));
      }
    }
    await unresolved();
    return open ? 'fallback:handed_off' : 'fallback:after_hours';
  }

  const acts = new Set(intent.actions);
  let res: string | null = null;
  if (acts.has('unsubscribe')) {
    // One confirmation per opt-out: a lead that had opted out already gets nothing more. The confirmation goes before
    // the move: a run cut short between the two is run again whole, finds the lead still subscribed, and finds its
    // confirmation fenced (sent once); the other way round, the retry would take the opt-out for an earlier one.
    if (v.stage === 'unsubscribed') return 'unsubscribe:already';
    if (intent.reply) res = await reply(intent.reply, intent.key, true);
  }
  await optOut(ctx, ref, v, s, acts);
  const qualify = { by: 'system' as const, source: 'intent', sourceKey: `${key}|qualified`, at, reason: intent.key };
  // Only a move the rules allow is tried (a lead qualified already is not written again for each pricing question).
  if (acts.has('qualify') && allowsMove(v.stage as Stage, 'qualified', qualify)) {
    await v.beforeWrite();
    if (await moveStageLocked(ctx, ref, 'qualified', qualify)) v.stage = 'qualified';
  }
  if ((acts.has('notify_owner') || acts.has('alert_ops')) && !v.told.has(intent.key)) v.told.set(intent.key, { intent, text, acts });
  if (intent.reply && !acts.has('unsubscribe')) res = await reply(intent.reply, intent.key);
  if (res === 'person_serves') {
    await unresolved();
    return 'silent:person_serves';
  }
  if (acts.has('handoff')) {
    await handOffNow();
    await unresolved();
  } else if (res && UNANSWERED.has(res) && !acts.has('unsubscribe') && !acts.has('resubscribe')) {
    // The answer did not go out (the cap, the window's 5, a refusal): the message waits for a person, on the clock.
    // An opt-out or its undoing is done whether or not its confirmation went.
    await unresolved();
  }
  return `intent:${intent.key}${res ? `:${res}` : ''}`;
}

/** The message's opt-out or its undoing, when it asks for one (the caller holds the lead lock); what it did. */
async function optOut(ctx: Ctx, ref: LeadRef, v: Conversation, s: Said, acts: ReadonlySet<string>): Promise<'unsubscribed' | 'resubscribed' | 'none'> {
  const { key, at, text } = s;
  const reason = text.slice(0, 100);
  if (acts.has('unsubscribe') && v.stage !== 'unsubscribed') {
    await v.beforeWrite();
    await moveStageLocked(ctx, ref, 'unsubscribed', { by: 'system', source: 'unsubscribe', sourceKey: `${key}|unsubscribed`, at, reason });
    if (FUNNEL.includes(v.stage as Stage)) v.stageBeforeExit = v.stage;
    v.stage = 'unsubscribed';
    return 'unsubscribed';
  }
  if (acts.has('resubscribe') && v.stage === 'unsubscribed') {
    // Back where it was; a customer who writes 订阅 has replied, so a lead that opted out before anything else (an
    // opt-out alone does not engage) comes back engaged.
    const back = resubscribeStage({ stageBeforeExit: v.stageBeforeExit, owners: v.doc.owners });
    const to = back === 'added' ? 'engaged' : back;
    await v.beforeWrite();
    await moveStageLocked(ctx, ref, to, { by: 'system', source: 'resubscribe', sourceKey: `${key}|resubscribed`, at, reason });
    v.stage = to;
    return 'resubscribed';
  }
  return 'none';
}

/** Hands the session to a person now, and records where it went (the caller holds the lead lock). */
export async function handOffLocked(ctx: Ctx, ref: LeadRef, doc: LeadDoc, openKfid: string, sourceKey: string): Promise<string> {
  try {
    const res = await handOff(ctx, doc, openKfid);
    if (res.state === null) {
      // The session cannot be moved (it ended): a hand-off waiting for the hours is dropped, not tried again.
      if (doc.kf?.handoffAt) await ctx.leads.setLocked(ref, { 'kf.handoffAt': null });
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

/** What a staff notice tells of the lead. */
const TOLD_FIELDS = { corpId: 1, externalUserId: 1, name: 1, corpName: 1, grade: 1, owners: 1, lastInteraction: 1, firstTouch: 1 } as const;
type ToldLead = Pick<LeadDoc, '_id' | keyof typeof TOLD_FIELDS>;

/**
 * The staff notices of a run, each intent once per lead and day: those not told yet today (a hint in Redis spares a
 * chatty customer's later runs the lead's read, the notice's job and the alert's insert), about the lead as the run
 * left it (a stage move after the run's save may have changed its grade).
 */
async function tellStaffOnce(ctx: Ctx, doc: LeadDoc, told: ReadonlyArray<{ intent: Intent; text: string; acts: Set<string> }>): Promise<void> {
  if (!told.length) return;
  const day = localDay(Date.now(), ctx.config.OPS_TIMEZONE);
  const keys = told.map((t) => ctx.keys.kfTold(doc._id, t.intent.key, day));
  const done = await ctx.redis.mget(...keys).catch(() => keys.map(() => null));
  const left = told.filter((_, i) => !done[i]);
  if (!left.length) return;
  const now = (await Lead.findById(doc._id, TOLD_FIELDS).lean()) ?? doc;
  for (const t of left) {
    await tellStaff(ctx, now, t.intent, t.text, t.acts, day);
    await ctx.redis.set(ctx.keys.kfTold(doc._id, t.intent.key, day), '1', 'EX', 2 * 86_400).catch(() => null);
  }
}

/** A pricing / demo / trial question: the owner by app message and the ops group, once per lead per day. */
async function tellStaff(ctx: Ctx, doc: ToldLead, intent: Intent, text: string, acts: Set<string>, day: string): Promise<void> {
  const ref = { corpId: doc.corpId, externalUserId: doc.externalUserId };
  const who = doc.name ?? doc.externalUserId;
  const channel = ctx.channels.get(doc.firstTouch?.channelKey ?? '');
  const kind = `${INTENT_CLASS_NAMES[intent.class]}${intent.key === intent.class ? '' : ` ${intent.key}`}`;
  const what = `客户「${who}」${doc.corpName ? `（${doc.corpName}）` : ''}在微信客服中问：“${text.slice(0, 100)}”（${kind}，${doc.grade} 级${channel ? `，渠道「${channel.name}」` : ''}）`;
  if (acts.has('notify_owner')) {
    const active = doc.owners.filter((o) => o.status === 'active').map((o) => o.userId);
    const last = doc.lastInteraction?.userId;
    const to = last && active.includes(last) ? [last] : active.length ? active : (channel?.owners ?? []);
    const key = `notice|kf-intent|${doc._id.replace(/:/g, '_')}|${intent.key}|${day}`;
    if (to.length) await ctx.queues.add('staff-notice', { key, userIds: to, text: `【客户意向】${what}。请尽快跟进。`, lead: ref, type: 'kf_intent_notice' }, { jobId: key });
  }
  if (acts.has('alert_ops')) await raiseAlert(ctx, { key: `kf-intent|${doc._id}|${intent.key}|${day}`, kind: 'kf_intent', title: '客户意向', text: what });
}
