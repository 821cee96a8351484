import type { BotContext } from '../../context.js';
import type { Sequence, SequenceStep } from '../../content/sequences.js';
import { render } from '../../content/render.js';
import { QuotaWaitError, WecomApiError } from '../../errors.js';
import { nurtureOutcomes } from '../../metrics.js';
import { jobIds } from '../../queues/job-ids.js';
import { updateById } from '../../store/batched-updates.js';
import { deliveryOf, type Outcome } from '../../store/delivery-ledger.js';
import type { DeliveryStatus } from '../../store/models/delivery.js';
import { Enrollment, ledgerId, type EnrollmentFields } from '../../store/models/enrollment.js';
import { recordStep } from '../../store/timeline.js';
import { Lead, leadId, splitLeadId, type LeadFields, type LeadRef } from '../../store/models/lead.js';
import { releaseBudget, releaseRefusedKf, takeBudget, type BudgetResult } from '../delivery/budget.js';
import { massQuotaPeriod } from '../delivery/mass-quota.js';
import { trackedUrl } from '../delivery/tracked-links.js';
import { KF_WINDOW_CLOSED, kfWindowStart, massSender, preferredVia, sendVia, type MessageContent } from '../delivery/via.js';
import type { Grade, Stage, Via } from '../vocabulary.js';
import type { SendOutcome } from '../../store/timeline-types.js';
import { localDay, localMonth, nextAllowedTime, startOfNextDay } from './clock.js';
import { pickCase } from './pick-case.js';
import { nurtureDeliveryKey, planDue, stageStop, whenHolds } from './policy.js';
import { stepJob } from './schedule.js';
import { stopLocked } from './stop.js';
import { pausedFor } from '../pause/pauses.js';

/**
 * How long a step waits for room in its owner's per-member limit of app messages (the owner route) before it waits as
 * a delayed job instead: it holds the lead's lock meanwhile.
 */
const OWNER_QUOTA_WAIT_MS = 5_000;

/** How often a paused step looks again (resuming runs it at once anyway). */
const PAUSE_RECHECK_MS = 10 * 60_000;

/** How a step run ended; `deferTo` (ms) when the same job must wait and run again then. */
export interface StepResult {
  result: string;
  deferTo?: number;
}

/** The job's view of the run. */
export interface StepRun {
  enrollmentId: string;
  step: number;
  /** The lead id from the job data (older jobs lack it: the lead is then found through the enrollment). */
  leadId?: string;
  /** True on the job's last attempt: a retryable failure then ends the step as failed. */
  lastAttempt: boolean;
}

type Enrollment = EnrollmentFields & { _id: unknown };
type StepLead = Pick<LeadFields, 'corpId' | 'externalUserId' | 'name' | 'stage' | 'industry' | 'role' | 'grade' | 'unsubscribedAt' | 'kf' | 'owners' | 'lastInteraction' | 'firstTouch'> & { _id: string };
/** What a step reads of the lead: nothing more (a projection keeps the read small). */
const LEAD_FIELDS = { corpId: 1, externalUserId: 1, name: 1, stage: 1, industry: 1, role: 1, grade: 1, unsubscribedAt: 1, kf: 1, owners: 1, lastInteraction: 1, firstTouch: 1 };
type Ctx = BotContext;

/**
 * Runs one due step of an enrollment, as the only writer of its lead (the lead lock). In the usual case it touches
 * MongoDB four times, each by _id or with an insert: it reads the enrollment and the lead, takes its fences (the
 * attempt, and the units of the lead's send budget it needs) in one insert, calls WeCom, and advances the enrollment.
 * The insert and the advance are shared with the steps running meanwhile (one command for a batch of them).
 * The delivery record and the timeline entry are written by the records queue, as welcomes are: the step's outcome
 * is queued before the enrollment moves on, so a re-run always finds it (docs/architecture.md, "A nurture step").
 */
export async function runNurtureStep(ctx: Ctx, run: StepRun): Promise<StepResult> {
  let lead: LeadRef | null = run.leadId ? splitLeadId(run.leadId) : null;
  if (!lead) {
    const head = await Enrollment.findById(run.enrollmentId, { corpId: 1, externalUserId: 1 }).lean();
    if (!head) return { result: 'no_enrollment' };
    lead = { corpId: head.corpId, externalUserId: head.externalUserId };
  }
  return ctx.leads.withLock(lead, () => runLocked(ctx, run));
}

async function runLocked(ctx: Ctx, run: StepRun): Promise<StepResult> {
  // The step's reads and its advance go to the driver directly: by _id, with documents formed in full here, they need
  // nothing of mongoose's query building and casting, which took a tenth of a busy worker's CPU.
  const e = (await Enrollment.collection.findOne({ _id: run.enrollmentId as never })) as Enrollment | null;
  if (!e || e.status !== 'active' || e.step !== run.step) return { result: 'stale' };
  const seq = ctx.sequences.get(e.sequenceKey);
  const lead = (await Lead.collection.findOne({ _id: leadId(e.corpId, e.externalUserId) as never }, { projection: LEAD_FIELDS })) as StepLead | null;
  if (!seq || !lead) return end(e, seq ? 'lead_missing' : 'sequence_removed');
  // The sequence's file lost the steps from this one on (edited since the lead enrolled): nothing more to send.
  if (!seq.steps[e.step]) return end(e, 'steps_removed');
  const ref = { corpId: e.corpId, externalUserId: e.externalUserId };
  const stop = lead.unsubscribedAt ? 'unsubscribe' : stageStop(seq, lead.stage as Stage);
  if (stop) {
    await stopLocked(ctx, ref, stop, String(e._id));
    return { result: `stopped:${stop}` };
  }

  // Paused by staff (the lead, its sequence or its channel): the step waits where it is, without a trace, and is
  // run at once when the pause ends (src/domain/pause/pauses.ts); until then it looks again now and then.
  const paused = await pausedFor(ctx, { lead: lead._id, sequence: seq.key, channel: lead.firstTouch?.channelKey });
  if (paused) return { result: `paused:${paused.kind}`, deferTo: Date.now() + PAUSE_RECHECK_MS };

  const now = Date.now();
  // A copy of the job that runs early (a duplicate, a manual retry) waits for the step's time without a trace.
  if (e.dueAt && e.dueAt.getTime() > now + 1000) return { result: 'not_due', deferTo: e.dueAt.getTime() };
  const allowed = nextAllowedTime(now, seq.quietHours);
  if (allowed > now + 1000) return defer(e, allowed, 'quiet_hours');
  const step = seq.steps[e.step]!;
  if (step.when && !whenHolds(step.when, lead.stage as Stage)) return advance(ctx, e, seq, { outcome: 'skipped', detail: { reason: 'condition' } });

  const key = nurtureDeliveryKey(ledgerId(e), e.step);
  const attempt = (e.attempts ?? 0) + 1;
  const tz = ctx.config.NURTURE_TIMEZONE;
  const budgetFor = (via: 'kf' | 'mass', caseSlug: string | null, n: number) =>
    takeBudget(ctx.redis, ctx.keys, {
      lead: lead._id,
      key,
      attempt: n,
      via,
      // The lead's grade may set its own daily cap (templates/scoring.yaml, perGrade).
      day: { key: localDay(now, tz), cap: ctx.scoring.perGrade[lead.grade as Grade]?.nurtureDailyCap ?? ctx.config.NURTURE_DAILY_CAP },
      mass: massQuotaPeriod(ctx.config.MASS_MESSAGE_CAP, now),
      kfWindow: kfWindowStart(lead, now),
      caseSlug,
    });

  // The case study: the best one this lead has not had. Another sequence may have sent it meanwhile: then the next.
  // A step's case that WeCom did not deliver (casesReturned: src/domain/delivery/give-back-case.ts) was not had.
  const returned = new Set(e.casesReturned ?? []);
  const sentCases = new Set((e.history ?? []).filter((h) => h.caseSlug && h.outcome !== 'failed' && !returned.has(h.deliveryKey ?? '')).map((h) => h.caseSlug!));
  let caseSlug: string | null = null;
  let budget: BudgetResult;
  for (;;) {
    if (step.caseStudy) {
      const picked = pickCase(ctx.cases, lead, sentCases);
      if (!picked) return advance(ctx, e, seq, { outcome: 'skipped', detail: { reason: 'no_case_left' } });
      caseSlug = picked.slug;
    }
    budget = await budgetFor(preferredVia(lead, now), caseSlug, attempt);
    if (budget.kind !== 'case_taken') break;
    sentCases.add(budget.slug);
  }
  if (budget.kind === 'day_full') return defer(e, nextAllowedTime(startOfNextDay(now, tz), seq.quietHours), 'daily_cap');
  if (budget.kind === 'attempt_held') return settleHeldAttempt(ctx, e, seq, key);

  let { via, held } = budget;
  let n = attempt;
  const content = await buildContent(ctx, step, lead, caseSlug, key);
  const base = { key, kind: 'nurture', corpId: e.corpId, externalUserId: e.externalUserId, enrollmentId: String(e._id), sequenceKey: seq.key, step: e.step, caseSlug, localDay: localDay(now, tz), localMonth: localMonth(now, tz), content };
  for (;;) {
    const userId = via === 'mass' ? massSender(lead, e.ownerUserId) : e.ownerUserId;
    const delivery = { ...base, via, userId, attempts: n };
    let sent: { msgid?: string; rejected?: string };
    try {
      sent = await sendVia(ctx, via, lead, userId, content, key, { quotaWaitMs: OWNER_QUOTA_WAIT_MS });
    } catch (err) {
      if (err instanceof WecomApiError && err.ambiguous) {
        // A timeout or lost connection: WeCom may have sent it. At most once means never trying again.
        ctx.log.error({ deliveryKey: key, via, reason: err.errmsg }, 'nurture send outcome unknown: not retried');
        return finish(ctx, e, seq, { ...delivery, status: 'unknown', reason: `ambiguous: ${err.errmsg}` }, 'unknown');
      }
      if (err instanceof WecomApiError && via === 'kf' && KF_WINDOW_CLOSED.has(err.errcode)) {
        // The window closed since the lead was read: the same message goes the next way, as the next attempt.
        await releaseRefusedKf(ctx, key, held, { errcode: err.errcode, lead: lead._id, windowStart: kfWindowStart(lead, now)! });
        const next = await budgetFor('mass', caseSlug, ++n);
        if (next.kind !== 'ok') return settleRefusedKf(ctx, e, seq, { ...delivery, attempts: n }, next);
        ({ via, held } = next);
        continue;
      }
      if (err instanceof QuotaWaitError) {
        // The owner has had as many app messages as the per-member limit allows [D:90236] and nothing went out: the
        // budget goes back, the attempt is counted, and the step waits until there is room (not an attempt of the job).
        await releaseBudget(ctx, key, held);
        return defer(e, err.retryAt, 'member_limit', { attempts: n });
      }
      const retryable = !(err instanceof WecomApiError) || err.retryable;
      if (retryable && !run.lastAttempt) {
        // Nothing went out: give the budget back, count the attempt, and let BullMQ back off and run the step again.
        await releaseBudget(ctx, key, held);
        await Enrollment.updateOne({ _id: e._id }, { $set: { attempts: n } });
        throw err;
      }
      await releaseBudget(ctx, key, held);
      const errcode = err instanceof WecomApiError ? err.errcode : null;
      const reason = retryable ? 'retries_exhausted' : (err as WecomApiError).errmsg;
      return finish(ctx, e, seq, { ...delivery, status: 'failed', errcode, reason }, 'failed');
    }
    if (sent.rejected) {
      await releaseBudget(ctx, key, held);
      return finish(ctx, e, seq, { ...delivery, status: 'failed', reason: sent.rejected }, 'failed');
    }
    if (via === 'mass') {
      await ctx.queues.add(
        'mass-result',
        { deliveryKey: key, attempt: 0, msgid: sent.msgid!, userId, corpId: e.corpId, externalUserId: e.externalUserId, submittedAt: Date.now() },
        { jobId: jobIds.massPoll(key, 0), delay: ctx.config.MASS_RESULT_POLL_SCHEDULE[0] ?? 60_000 },
      );
      return finish(ctx, e, seq, { ...delivery, status: 'submitted', msgid: sent.msgid ?? null }, 'submitted');
    }
    // A kf message's msgid is kept: a later msg_send_fail names it [D:94670].
    return finish(ctx, e, seq, { ...delivery, status: 'sent', sentAt: new Date(), msgid: sent.msgid ?? null }, via === 'owner' ? 'reminded' : 'sent');
  }
}

/** The kf window closed and the fallback found no budget: the step waits (daily cap) or is settled as the ledger says. */
async function settleRefusedKf(ctx: Ctx, e: Enrollment, seq: Sequence, delivery: Omit<DeliveryFieldsLike, 'status'>, next: BudgetResult): Promise<StepResult> {
  if (next.kind === 'day_full') {
    // Nothing was sent: the next attempt is the one after the refused kf call.
    await Enrollment.updateOne({ _id: e._id }, { $set: { attempts: delivery.attempts } });
    return defer(e, nextAllowedTime(startOfNextDay(Date.now(), ctx.config.NURTURE_TIMEZONE), seq.quietHours), 'daily_cap');
  }
  if (next.kind === 'attempt_held') return settleHeldAttempt(ctx, e, seq, delivery.key);
  // The case went elsewhere between the two attempts: this step sends nothing.
  return finish(ctx, e, seq, { ...delivery, status: 'skipped', reason: 'case_sent_elsewhere' }, 'skipped');
}

type DeliveryFieldsLike = NonNullable<Outcome['delivery']> & { key: string; attempts: number };

/**
 * This attempt's fence is held already: an earlier run of this step got as far as calling WeCom. Its outcome is
 * taken from the records queue or the ledger; with none, that run died mid-call and WeCom may have sent it, so the
 * step is `unknown` and is never sent again.
 */
async function settleHeldAttempt(ctx: Ctx, e: Enrollment, seq: Sequence, key: string): Promise<StepResult> {
  const queued = (await ctx.queues.get('records').getJob(jobIds.record(key)))?.data as Outcome | undefined;
  const status = queued?.delivery?.status ?? (await deliveryOf(key))?.status;
  if (status) {
    const via = (queued?.delivery?.via ?? null) as Via | null;
    return advance(ctx, e, seq, { outcome: outcomeOfStatus(status as DeliveryStatus, via), via, deliveryKey: key, detail: { recovered: true } });
  }
  ctx.log.error({ deliveryKey: key }, 'nurture delivery left in flight by a crash: marked unknown, not resent');
  const delivery = { key, kind: 'nurture', corpId: e.corpId, externalUserId: e.externalUserId, userId: e.ownerUserId, enrollmentId: String(e._id), sequenceKey: seq.key, step: e.step, attempts: (e.attempts ?? 0) + 1 };
  return finish(ctx, e, seq, { ...delivery, status: 'unknown', reason: 'left_in_flight' }, 'unknown');
}

function outcomeOfStatus(status: DeliveryStatus, via: Via | null): SendOutcome {
  if (status === 'sent') return via === 'owner' ? 'reminded' : 'sent';
  return status;
}

/** Queues the delivery's outcome (record and timeline entry), then moves the enrollment on. */
async function finish(ctx: Ctx, e: Enrollment, seq: Sequence, delivery: DeliveryFieldsLike & { status: DeliveryStatus }, outcome: SendOutcome): Promise<StepResult> {
  const detail = { via: delivery.via ?? null, ...(delivery.errcode ? { errcode: delivery.errcode } : {}), ...(delivery.reason ? { reason: delivery.reason } : {}) };
  const record: Outcome = {
    delivery,
    step: { type: `nurture_${outcome}`, detail: { sequence: seq.key, step: e.step, ...detail }, at: new Date() },
  };
  await ctx.queues.add('records', record, { jobId: jobIds.record(delivery.key) });
  if (delivery.status === 'sent' || delivery.status === 'submitted') {
    const what = delivery.status === 'submitted' ? 'nurture mass message submitted: the owner confirms it in the client' : delivery.via === 'owner' ? 'nurture reminder sent to the owner' : 'nurture message sent';
    ctx.log.info({ externalUserId: e.externalUserId, sequence: seq.key, step: e.step, via: delivery.via ?? null, userId: delivery.userId }, what);
  }
  return advance(ctx, e, seq, { outcome, via: (delivery.via ?? null) as Via | null, deliveryKey: delivery.key, caseSlug: delivery.caseSlug ?? null, detail }, true);
}

/**
 * Records the step's outcome on the enrollment and moves it to the next step (scheduled), or completes it: one update
 * by _id. An outcome without a delivery (a skipped step) has its timeline entry queued here.
 */
async function advance(
  ctx: Ctx,
  e: Enrollment,
  seq: Sequence,
  o: { outcome: SendOutcome; via?: Via | null; deliveryKey?: string; caseSlug?: string | null; detail: Record<string, unknown> },
  recorded = false,
): Promise<StepResult> {
  const now = Date.now();
  const id = String(e._id);
  const deliveryKey = o.deliveryKey ?? nurtureDeliveryKey(ledgerId(e), e.step);
  if (!recorded) {
    const step: Outcome = { step: { type: `nurture_${o.outcome}`, detail: { sequence: seq.key, step: e.step, ...o.detail }, at: new Date(now), lead: { corpId: e.corpId, externalUserId: e.externalUserId }, sourceKey: deliveryKey } };
    await ctx.queues.add('records', step, { jobId: jobIds.record(`${deliveryKey}|${o.outcome}`) });
  }
  nurtureOutcomes.inc({ outcome: o.outcome });
  const next = e.step + 1;
  const done = next >= seq.steps.length;
  const history = { step: e.step, at: new Date(now), outcome: o.outcome, via: o.via ?? null, deliveryKey, caseSlug: o.caseSlug ?? null, detail: o.detail };
  const dueAt = done ? null : planDue(seq, next, now);
  // Every field of the history entry is set (the schema's defaults included), and updatedAt as mongoose would. The
  // update shares one bulkWrite with the steps advancing meanwhile (src/store/batched-updates.ts).
  try {
    await updateById(Enrollment.collection, e._id, {
      $set: { step: next, dueAt, attempts: 0, updatedAt: new Date(now), ...(done ? { status: 'completed', endedAt: new Date(now) } : {}) },
      $push: { history },
    });
  } catch (err) {
    // A batch fails as one, though this step's own update may have been applied (MongoDB applies the rest of an
    // unordered batch): if it was, the step goes on to schedule the next one, which a retry (finding the enrollment
    // moved on: `stale`) would not. Only this runner moves the enrollment on from this step (the lead lock).
    const moved = await Enrollment.collection.findOne({ _id: e._id as never }, { projection: { step: 1 } });
    if (moved?.step !== next) throw err;
  }
  if (!done) {
    const job = stepJob({ id, step: next, dueAt, corpId: e.corpId, externalUserId: e.externalUserId }, now);
    await ctx.queues.add('nurture', job.data, job.opts);
  }
  return { result: done ? 'completed' : o.outcome };
}

/**
 * Holds the step until `until` (quiet hours, daily cap, the owner's app message limit): the enrollment says when, the
 * job waits in Redis.
 */
async function defer(e: Enrollment, until: number, reason: string, set: { attempts?: number } = {}): Promise<StepResult> {
  await Enrollment.updateOne(
    { _id: e._id },
    { $set: { dueAt: new Date(until), ...set }, $push: { history: { step: e.step, at: new Date(), outcome: 'deferred', detail: { reason, until: new Date(until) } } } },
  );
  nurtureOutcomes.inc({ outcome: `deferred_${reason}` });
  return { result: `deferred:${reason}`, deferTo: until };
}

/**
 * Ends an enrollment that can no longer run (its sequence was removed or lost this step, its lead is gone). The lead's
 * timeline says so, as for an enrollment stopped for any other reason (stop.ts).
 */
async function end(e: Enrollment, reason: string): Promise<StepResult> {
  await Enrollment.updateOne({ _id: e._id }, { $set: { status: 'stopped', stopReason: reason, endedAt: new Date(), dueAt: null } });
  if (reason !== 'lead_missing') await recordStep({ corpId: e.corpId, externalUserId: e.externalUserId }, `stop|${e._id}`, 'enrollment_stopped', { sequence: e.sequenceKey, reason, atStep: e.step });
  return { result: `stopped:${reason}` };
}

/** The step's text (placeholders filled) and link or case study, every link tracked. */
async function buildContent(ctx: Ctx, step: SequenceStep, lead: StepLead, caseSlug: string | null, key: string): Promise<MessageContent> {
  const channel = ctx.channels.get(lead.firstTouch?.channelKey ?? '')?.name;
  const name = lead.name ?? (step.text?.includes('name') ? await lookUpName(ctx, lead.externalUserId) : null);
  const text = step.text ? render(step.text, { name, channel }) : null;
  const found = caseSlug ? ctx.cases.find((c) => c.slug === caseSlug) : undefined;
  const raw = found ? { title: found.title, url: found.url, desc: found.summary, picurl: found.picurl } : step.link;
  const link = raw ? { ...raw, url: trackedUrl(ctx.publicBaseUrl, ctx.linkSecret, { url: raw.url, lead: { corpId: lead.corpId, externalUserId: lead.externalUserId }, deliveryKey: key, caseSlug }) } : null;
  return { text, link };
}

/** The customer's name when the profile sync has not stored it yet (best effort: none on failure). */
async function lookUpName(ctx: Ctx, externalUserId: string): Promise<string | null> {
  try {
    return (await ctx.wecom.getExternalContact(externalUserId, { retries: 0, timeoutMs: 2_000 })).external_contact.name ?? null;
  } catch {
    return null;
  }
}

