import { DelayedError, type Job } from 'bullmq';
import type { BotContext } from '../src/context.js';
import { WecomApiError } from '../src/errors.js';
import { nurtureOutcomes } from '../src/metrics.js';
import { claimDelivery, Delivery, fenceAttempt, type DeliveryDoc, type DeliveryStatus } from '../src/store/models/delivery.js';
import { Enrollment, type EnrollmentDoc } from '../src/store/models/enrollment.js';
import { Lead, leadId, type LeadDoc, type Stage } from '../src/store/models/lead.js';
import { recordStep } from '../src/store/models/timeline.js';
import { localDay, localMonth, nextAllowedTime, startOfNextDay } from '../src/domain/nurture/clock.js';
import { planDue, scheduleStep, stageStop, stopUnlocked } from '../src/domain/nurture/enrollments.js';
import { trackedUrl } from '../src/domain/delivery/tracked-links.js';
import { pickCase } from '../src/domain/nurture/pick-case.js';
import { chooseRoute, KF_WINDOW_CLOSED, sendByRoute, type Route, type StepContent } from '../src/domain/delivery/via.js';
import { pollJobId, type NurtureJobData } from '../src/queues/index.js';
import { render } from '../src/content/render.js';
import type { Sequence, SequenceStep } from '../src/content/sequences.js';

/** Delivery statuses that count as a customer-facing message for the daily cap. */
const COUNTS_FOR_CAP: DeliveryStatus[] = ['pending', 'sent', 'submitted', 'unknown'];

type Outcome = { result: string; deferTo?: number };

/**
 * Runs one due step of an enrollment, as the only writer of that lead (lead lock). Exactly once: the delivery record
 * (key = enrollment + step) is created, marked in flight, before WeCom is called — that insert is also what makes
 * this run the only one to call WeCom for the first attempt (a unique _id); later attempts each take a unique fence.
 * A run that finds the step done just moves the enrollment on; one that finds it in flight (the previous worker died
 * mid-call) marks it `unknown` and reports it, never sending it again. Quiet hours and the daily cap defer the same
 * job. A normal step costs the database three reads (enrollment, lead, the lead's nurture deliveries) and four
 * writes (delivery insert and outcome, timeline entry, enrollment).
 */
export async function runNurtureStep(job: Job<NurtureJobData>, token: string | undefined, ctx: BotContext): Promise<string> {
  let lead = job.data.l ? splitLeadId(job.data.l) : null;
  if (!lead) {
    // A job written without its lead: find the lead through the enrollment.
    const head = await Enrollment.findById(job.data.e, { corpId: 1, externalUserId: 1 }).lean();
    if (!head) return 'no_enrollment';
    lead = head;
  }
  const outcome = await ctx.leads.withLock(lead.corpId, lead.externalUserId, () => runLocked(job, ctx));
  if (outcome.deferTo !== undefined) {
    await job.moveToDelayed(outcome.deferTo, token);
    throw new DelayedError();
  }
  return outcome.result;
}

function splitLeadId(id: string): { corpId: string; externalUserId: string } | null {
  const at = id.indexOf(':');
  return at > 0 ? { corpId: id.slice(0, at), externalUserId: id.slice(at + 1) } : null;
}

async function runLocked(job: Job<NurtureJobData>, ctx: BotContext): Promise<Outcome> {
  const e = await Enrollment.findById(job.data.e);
  if (!e || e.status !== 'active' || e.step !== job.data.s) return { result: 'stale' };
  const seq = ctx.sequences.get(e.sequenceKey);
  const lead = await Lead.findById(leadId(e.corpId, e.externalUserId));
  if (!seq || !lead) return end(e, 'stopped', seq ? 'lead_missing' : 'sequence_removed');
  const stop = lead.unsubscribedAt ? 'unsubscribe' : stageStop(seq, lead.stage as Stage);
  if (stop) {
    await stopUnlocked(ctx, e.corpId, e.externalUserId, stop, e.id);
    return { result: `stopped:${stop}` };
  }

  const step = seq.steps[e.step]!;
  const key = `nurture|${e.id}|${e.step}`;
  // Every nurture delivery of this lead in one read: this step's own record (a re-run), and what the daily cap,
  // the monthly mass quota and the never-repeat rule for case studies count.
  const past = await Delivery.find(
    { corpId: e.corpId, externalUserId: e.externalUserId, kind: 'nurture' },
    { status: 1, route: 1, localDay: 1, localMonth: 1, caseSlug: 1 },
  ).lean();
  let delivery = past.some((d) => d._id === key) ? await Delivery.findById(key) : null;
  if (delivery && delivery.status !== 'pending') return advance(ctx, e, seq, delivery.status, { route: delivery.route });
  if (delivery?.inFlightAt) return leftInFlight(ctx, e, seq, delivery);

  const now = Date.now();
  // A copy of the job that runs early (a duplicate, a manual retry) waits for the step's time without a trace.
  if (e.dueAt && e.dueAt.getTime() > now + 1000) return { result: 'not_due', deferTo: e.dueAt.getTime() };
  // Quiet hours hold for a retry of a claimed step too (it may have been claimed just before they began).
  const allowed = nextAllowedTime(now, seq.quietHours);
  if (allowed > now + 1000) return defer(e, allowed, 'quiet_hours');
  // One calendar for the cap across every sequence: the sequences' quiet-hour zones may differ.
  const tz = ctx.config.NURTURE_TIMEZONE;
  const massIn = (month: string) => past.filter((d) => d.route === 'mass' && d.localMonth === month).map((d) => d.status);
  const tried = new Set<Route>();
  let content: StepContent;
  let route: Route;
  let attempt: number;
  if (!delivery) {
    if (step.when && !whenHolds(step.when, lead.stage as Stage)) return advance(ctx, e, seq, 'skipped', { reason: 'condition' });
    const day = localDay(now, tz);
    if (ctx.config.NURTURE_DAILY_CAP > 0) {
      const today = past.filter((d) => d.localDay === day && (d.route === 'kf' || d.route === 'mass') && COUNTS_FOR_CAP.includes(d.status)).length;
      if (today >= ctx.config.NURTURE_DAILY_CAP) return defer(e, nextAllowedTime(startOfNextDay(now, tz), seq.quietHours), 'daily_cap');
    }
    let caseSlug: string | null = null;
    if (step.caseStudy) {
      const sent = new Set(past.filter((d) => d.caseSlug && d.status !== 'failed' && d.status !== 'skipped').map((d) => d.caseSlug!));
      const picked = pickCase(ctx.cases, lead, sent);
      if (!picked) return advance(ctx, e, seq, 'skipped', { reason: 'no_case_left' });
      caseSlug = picked.slug;
    }
    const month = localMonth(now, tz);
    route = chooseRoute(ctx, lead, massIn(month), now);
    content = await buildContent(ctx, step, lead, caseSlug, key);
    const fields = { key, kind: 'nurture', corpId: e.corpId, externalUserId: e.externalUserId, userId: e.ownerUserId, route, enrollmentId: e.id, step: e.step, caseSlug, localDay: day, localMonth: month, content };
    // The claim, in flight, attempt 1: one insert. Losing it to another runner means that runner owns the step.
    const claim = await claimDelivery({ ...fields, inFlightAt: new Date(), attempts: 1 });
    if (!claim.created) return { result: 'stale' }; // another runner claimed it since we looked: it owns the step
    delivery = claim.delivery;
    attempt = 1;
  } else {
    // A retry after a clear failure (nothing was sent): attempt n+1, under its own fence.
    content = await buildContent(ctx, step, lead, delivery.caseSlug ?? null, key);
    route = delivery.route as Route;
    attempt = await nextAttempt(delivery, key, route, content);
    if (!attempt) return { result: 'stale' }; // another runner holds this attempt
  }

  for (;;) {
    let sent: { msgid?: string; rejected?: string };
    try {
      sent = await sendByRoute(ctx, route, lead, e.ownerUserId, content, key);
    } catch (err) {
      if (!(err instanceof WecomApiError)) {
        await Delivery.updateOne({ _id: delivery._id }, { $set: { inFlightAt: null } });
        throw err;
      }
      if (err.ambiguous) {
        // A timeout or lost connection: WeCom may have sent it. At most once means never trying again.
        await finish(delivery._id, 'unknown', { reason: `ambiguous: ${err.errmsg}` });
        ctx.log.error({ deliveryKey: key, route, reason: err.errmsg }, 'nurture send outcome unknown: not retried');
        return advance(ctx, e, seq, 'unknown', { route, reason: err.errmsg });
      }
      if (route === 'kf' && KF_WINDOW_CLOSED.has(err.errcode)) {
        // The window closed since we looked: fall back to the next route for the same message.
        tried.add('kf');
        route = chooseRoute(ctx, lead, massIn(delivery.localMonth ?? localMonth(now, tz)), Date.now(), tried);
        attempt = await nextAttempt(delivery, key, route, content, attempt);
        if (!attempt) return { result: 'stale' };
        continue;
      }
      const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      if (err.retryable && !lastAttempt) {
        await Delivery.updateOne({ _id: delivery._id }, { $set: { inFlightAt: null } });
        throw err; // BullMQ backs off and runs the step again
      }
      await finish(delivery._id, 'failed', { errcode: err.errcode, reason: err.retryable ? 'retries_exhausted' : err.errmsg });
      return advance(ctx, e, seq, 'failed', { route, errcode: err.errcode });
    }
    if (sent.rejected) {
      await finish(delivery._id, 'failed', { reason: sent.rejected });
      return advance(ctx, e, seq, 'failed', { route, reason: sent.rejected });
    }
    if (route === 'kf') {
      await Lead.updateOne({ _id: lead._id }, { $inc: { 'kf.sentSinceInbound': 1 } });
    }
    if (route === 'mass') {
      await finish(delivery._id, 'submitted', { msgid: sent.msgid });
      await ctx.queues.massResult.add('poll', { deliveryKey: key, attempt: 0 }, { jobId: pollJobId(key, 0), delay: ctx.config.MASS_RESULT_POLL_SCHEDULE[0] ?? 60_000 });
      return advance(ctx, e, seq, 'submitted', { route });
    }
    await finish(delivery._id, 'sent', { sentAt: new Date() });
    return advance(ctx, e, seq, route === 'owner' ? 'reminded' : 'sent', { route });
  }
}

/**
 * Takes the next attempt of a claimed delivery: the record is marked in flight with this attempt's route and content
 * first, then the attempt's fence is taken (unique: a second runner gets 0 and backs off). In that order, a run cut
 * off between the two leaves the record in flight, which the next run reports as `unknown` instead of finding the
 * fence taken and the step stuck.
 */
async function nextAttempt(delivery: DeliveryDoc, key: string, route: Route, content: StepContent, after = delivery.attempts): Promise<number> {
  const attempt = after + 1;
  await Delivery.updateOne({ _id: delivery._id }, { $set: { route, inFlightAt: new Date(), content, attempts: attempt } });
  return (await fenceAttempt(key, attempt)) ? attempt : 0;
}

/** The previous run died while WeCom was answering: it may have been delivered. Never send it blindly again. */
async function leftInFlight(ctx: BotContext, e: EnrollmentDoc, seq: Sequence, delivery: DeliveryDoc): Promise<Outcome> {
  await Delivery.updateOne({ _id: delivery._id }, { $set: { status: 'unknown', inFlightAt: null } });
  ctx.log.error({ deliveryKey: delivery._id, route: delivery.route }, 'nurture delivery left in flight by a crash: marked unknown, not resent');
  return advance(ctx, e, seq, 'unknown', { route: delivery.route });
}

function whenHolds(when: NonNullable<SequenceStep['when']>, stage: Stage): boolean {
  return (!when.stage || when.stage.includes(stage)) && (!when.notStage || !when.notStage.includes(stage));
}

async function finish(id: unknown, status: DeliveryStatus, fields: Record<string, unknown>): Promise<void> {
  await Delivery.updateOne({ _id: id }, { $set: { status, inFlightAt: null, ...fields } });
}

/** The step's text (placeholders filled) and link or case study, every link tracked. */
async function buildContent(ctx: BotContext, step: SequenceStep, lead: LeadDoc, caseSlug: string | null, key: string): Promise<StepContent> {
  const who = { corpId: lead.corpId, externalUserId: lead.externalUserId };
  const channel = ctx.channels.get(lead.firstTouch?.channelKey ?? '')?.name;
  const name = lead.name ?? (step.text?.includes('name') ? await lookUpName(ctx, lead.externalUserId) : null);
  const text = step.text ? render(step.text, { name, channel }) : null;
  const found = caseSlug ? ctx.cases.find((c) => c.slug === caseSlug) : undefined;
  const raw = found ? { title: found.title, url: found.url, desc: found.summary, picurl: found.picurl } : step.link;
  const link = raw ? { ...raw, url: await trackedUrl(ctx.publicBaseUrl, raw.url, who, key) } : null;
  return { text, link };
}

/** The customer's name when the profile sync has not stored it yet (best effort: empty on failure). */
async function lookUpName(ctx: BotContext, externalUserId: string): Promise<string | null> {
  try {
    return (await ctx.wecom.getExternalContact(externalUserId, { retries: 0, timeoutMs: 2_000 })).external_contact.name ?? null;
  } catch {
    return null;
  }
}

async function defer(e: EnrollmentDoc, until: number, reason: string): Promise<Outcome> {
  e.dueAt = new Date(until);
  e.history.push({ step: e.step, at: new Date(), outcome: 'deferred', detail: { reason, until: new Date(until) } });
  await e.save();
  nurtureOutcomes.inc({ outcome: `deferred_${reason}` });
  return { result: `deferred:${reason}`, deferTo: until };
}

async function end(e: EnrollmentDoc, status: 'stopped' | 'completed', reason: string | null): Promise<Outcome> {
  e.status = status;
  e.stopReason = reason;
  e.endedAt = new Date();
  e.dueAt = null;
  await e.save();
  return { result: `${status}${reason ? `:${reason}` : ''}` };
}

/** Records the step's outcome and moves the enrollment to the next step (scheduled), or completes it. */
async function advance(ctx: BotContext, e: EnrollmentDoc, seq: Sequence, outcome: string, detail: Record<string, unknown>): Promise<Outcome> {
  const now = Date.now();
  const deliveryKey = `nurture|${e.id}|${e.step}`;
  e.history.push({ step: e.step, at: new Date(now), outcome, route: (detail.route as string) ?? null, deliveryKey, detail });
  await recordStep({ corpId: e.corpId, externalUserId: e.externalUserId }, deliveryKey, `nurture_${outcome}`, { sequence: seq.key, step: e.step, ...detail });
  nurtureOutcomes.inc({ outcome });
  e.step += 1;
  if (e.step >= seq.steps.length) return end(e, 'completed', null);
  e.dueAt = planDue(seq, e.step, now);
  await e.save();
  await scheduleStep(ctx, e);
  return { result: outcome };
}
