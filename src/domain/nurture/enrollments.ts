import mongoose from 'mongoose';
import type { BotContext } from '../../context.js';
import { Enrollment, type EnrollmentDoc } from '../../store/models/enrollment.js';
import { createOnce, Lead, leadId, STAGES, type Stage } from '../../store/models/lead.js';
import { recordStep } from '../../store/models/timeline.js';
import { stepJob, stepJobId } from '../../queues/index.js';
import type { Sequence } from '../../content/sequences.js';
import { nextAllowedTime } from './clock.js';

/** Why an enrollment ends early. `stage:<s>` = the lead reached stage s. */
export type StopReason = 'reply' | 'unsubscribe' | 'churn' | 'owner_removed' | `stage:${Stage}`;
/** Reasons that end every enrollment whatever its stopOn says: nobody is messaged after leaving or opting out. */
const ALWAYS_STOP: ReadonlySet<StopReason> = new Set(['unsubscribe', 'churn', 'owner_removed', 'stage:customer']);
/** The funnel, in order: reaching a later stage counts as reaching an earlier one. */
const FUNNEL: readonly Stage[] = ['added', 'engaged', 'qualified', 'opportunity', 'customer'];

type Ctx = Pick<BotContext, 'queues' | 'sequences' | 'leads' | 'log'>;

/** When step `index` is due, counted from `fromMs`, moved out of the sequence's quiet hours. */
export function planDue(seq: Sequence, index: number, fromMs: number): Date {
  return new Date(nextAllowedTime(fromMs + seq.steps[index]!.delay, seq.quietHours));
}

/** Whether `reason` ends an enrollment in `seq`. */
export function stopsSequence(seq: Sequence | undefined, reason: StopReason): boolean {
  return ALWAYS_STOP.has(reason) || (seq?.stopOn as string[] | undefined)?.includes(reason) === true;
}

/** The stage-based stop that applies to a lead now, if any (`stage:qualified` stops a lead in opportunity too). */
export function stageStop(seq: Sequence, stage: Stage): StopReason | null {
  if (stage === 'lost') return 'churn';
  if (stage === 'unsubscribed') return 'unsubscribe';
  const reached = FUNNEL.indexOf(stage);
  for (const s of FUNNEL) {
    const reason = `stage:${s}` as StopReason;
    if (FUNNEL.indexOf(s) <= reached && stopsSequence(seq, reason)) return reason;
  }
  return null;
}

/** Adds the BullMQ job of the enrollment's current step (a no-op if it is already there: the id is deterministic). */
export async function scheduleStep(ctx: Pick<BotContext, 'queues'>, e: Pick<EnrollmentDoc, 'id' | 'step' | 'dueAt' | 'corpId' | 'externalUserId'>): Promise<void> {
  const job = stepJob(e);
  await ctx.queues.nurture.add(job.name, job.data, job.opts);
}

/**
 * Enrolls a lead in a sequence: one enrollment per (lead, sequence), ever. Leads who are customers, have left or
 * have unsubscribed are not enrolled. Returns the enrollment, or null when not enrolled.
 */
export async function enroll(
  ctx: Ctx,
  lead: { corpId: string; externalUserId: string },
  sequenceKey: string,
  ownerUserId: string,
  at = Date.now(),
): Promise<EnrollmentDoc | null> {
  const seq = ctx.sequences.get(sequenceKey);
  if (!seq) throw new Error(`no sequence "${sequenceKey}"`);
  return ctx.leads.withLock(lead.corpId, lead.externalUserId, async () => {
    const doc = await Lead.findById(leadId(lead.corpId, lead.externalUserId), { stage: 1, unsubscribedAt: 1 }).lean();
    const blocked = !doc ? 'no_lead' : doc.unsubscribedAt ? 'unsubscribed' : stageStop(seq, doc.stage as Stage);
    if (blocked) {
      await recordStep(lead, `enroll|${sequenceKey}`, 'enroll_skipped', { sequence: sequenceKey, reason: blocked });
      return null;
    }
    const e = await createOnce(Enrollment, { ...lead, sequenceKey, ownerUserId, enrolledAt: new Date(at), dueAt: planDue(seq, 0, at) });
    if (!e) return null; // enrolled before: a sequence is never restarted
    await scheduleStep(ctx, e);
    await recordStep(lead, `enroll|${sequenceKey}`, 'enrolled', { sequence: sequenceKey, firstStepDue: e.dueAt });
    return e;
  });
}

/** A lead to enroll in bulk, with the member who will send to it. */
export interface BulkEnrollee {
  corpId: string;
  externalUserId: string;
  ownerUserId: string;
  /**
   * The lead's stage and opt-out as the caller just read them (a campaign selects its audience from the leads).
   * When every enrollee carries `stage`, enrollMany decides eligibility from these and reads no lead itself; each
   * step still re-checks the lead under its lock before anything is sent (a lead that is gone by then ends the
   * enrollment as `lead_missing`).
   */
  stage?: string | null;
  unsubscribedAt?: Date | null;
}

/**
 * Enrolls many leads at once (campaigns, imports): per batch one insertMany of enrollments and one addBulk of their
 * first step, the database write of one batch overlapping the Redis write of the previous one (an enrollment is
 * always stored before its job exists). Eligibility is the same as enroll(): from the enrollees' own `stage` and
 * `unsubscribedAt` when they all carry them, else read from the leads. Leads already in the sequence are skipped by
 * the unique index. No per-lead lock is taken: each step re-checks the lead under its lock when it runs.
 * Returns how many were enrolled.
 */
export async function enrollMany(
  ctx: Ctx,
  leads: BulkEnrollee[],
  sequenceKey: string,
  at = Date.now(),
  opts: { batchSize?: number; scanShare?: number } = {},
): Promise<number> {
  const seq = ctx.sequences.get(sequenceKey);
  if (!seq) throw new Error(`no sequence "${sequenceKey}"`);
  const batchSize = opts.batchSize ?? 1000;
  const dueAt = planDue(seq, 0, at);
  const isEligible = (l: { stage?: string | null; unsubscribedAt?: Date | null }) => !l.unsubscribedAt && !stageStop(seq, l.stage as Stage);
  const projection = { stage: 1, unsubscribedAt: 1 };
  const carriesState = leads.every((l) => l.stage !== undefined);

  // Eligibility read: per batch by _id, or — when the input is a large share of all leads — one streaming pass
  // over the leads, which is cheaper than many `_id $in` reads (and far cheaper on servers that scan for those).
  // `scanShare` is the share of all leads from which the pass pays off (default 0.2); 0 = always, without the count
  // (for callers who know their input covers most leads: counting is itself a scan on some servers).
  let eligibleIds: Set<string> | null = null;
  const scanShare = opts.scanShare ?? 0.2;
  if (!carriesState && leads.length >= batchSize && (scanShare === 0 || leads.length >= (await Lead.estimatedDocumentCount()) * scanShare)) {
    const wanted = new Set(leads.map((l) => leadId(l.corpId, l.externalUserId)));
    eligibleIds = new Set();
    for await (const l of Lead.find({}, projection).lean().cursor({ batchSize: 5000 })) {
      if (wanted.has(l._id) && isEligible(l)) eligibleIds.add(l._id);
    }
  }
  const eligibleIn = async (batch: BulkEnrollee[]): Promise<BulkEnrollee[]> => {
    if (carriesState) return batch.filter(isEligible);
    const ids = batch.map((l) => leadId(l.corpId, l.externalUserId));
    const eligible = eligibleIds ?? new Set((await Lead.find({ _id: { $in: ids } }, projection).lean()).filter(isEligible).map((l) => l._id));
    return batch.filter((l) => eligible.has(leadId(l.corpId, l.externalUserId)));
  };

  let enrolled = 0;
  // The previous batch's addBulk, running while this batch is inserted. Its error is kept, not left unhandled.
  let jobsInFlight: Promise<void> = Promise.resolve();
  let jobsError: unknown = null;
  try {
    for (let i = 0; i < leads.length; i += batchSize) {
      const batch = await eligibleIn(leads.slice(i, i + batchSize));
      // Plain documents (a mongoose document per row costs more than the insert itself) holding only what has a
      // value: stopReason, endedAt and history take their schema defaults when mongoose loads the enrollment, and
      // every field left out makes the insert cheaper (on FerretDB 1.x SQLite: half the time for these).
      const docs = batch.map((l) => ({
        _id: new mongoose.Types.ObjectId(),
        corpId: l.corpId,
        externalUserId: l.externalUserId,
        ownerUserId: l.ownerUserId,
        sequenceKey,
        status: 'active',
        step: 0,
        dueAt,
        enrolledAt: new Date(at),
      }));
      if (!docs.length) continue;
      const failed = new Set<number>();
      try {
        await Enrollment.collection.insertMany(docs, { ordered: false });
      } catch (err) {
        const writeErrors = (err as { writeErrors?: Array<{ index: number; code?: number; err?: { code?: number } }> }).writeErrors;
        if (!writeErrors || writeErrors.some((w) => (w.code ?? w.err?.code) !== 11000)) throw err;
        for (const w of writeErrors) failed.add(w.index);
      }
      const inserted = docs.filter((_, idx) => !failed.has(idx));
      await jobsInFlight;
      if (jobsError) throw jobsError;
      jobsInFlight = ctx.queues.nurture
        .addBulk(inserted.map((e) => stepJob({ ...e, id: String(e._id) })))
        .then(
          () => undefined,
          (err: unknown) => {
            jobsError = err;
          },
        );
      enrolled += inserted.length;
    }
  } finally {
    // Also when a batch failed: the previous batch's jobs are not left half-written behind the caller's back.
    await jobsInFlight;
  }
  // Enrollments stored without their job (Redis failed mid-way) are scheduled by the reconciler.
  if (jobsError) throw jobsError;
  return enrolled;
}

/**
 * Ends the lead's active enrollments that `reason` stops, and drops their pending jobs. The step job re-checks
 * the enrollment under the lead lock, so a job that could not be removed (already running) does nothing.
 */
export async function stopEnrollments(ctx: Ctx, corpId: string, externalUserId: string, reason: StopReason): Promise<number> {
  return ctx.leads.withLock(corpId, externalUserId, async () => {
    // Opting out is a property of the lead, not of one enrollment: no later channel or campaign enrolls it again.
    if (reason === 'unsubscribe') await Lead.updateOne({ _id: leadId(corpId, externalUserId) }, { $set: { unsubscribedAt: new Date(), stage: 'unsubscribed' } });
    return stopUnlocked(ctx, corpId, externalUserId, reason);
  });
}

/** stopEnrollments for a caller that already holds the lead lock. */
export async function stopUnlocked(ctx: Ctx, corpId: string, externalUserId: string, reason: StopReason, only?: string): Promise<number> {
  const active = await Enrollment.find({ corpId, externalUserId, status: 'active', ...(only ? { _id: only } : {}) });
  let n = 0;
  for (const e of active) {
    if (!stopsSequence(ctx.sequences.get(e.sequenceKey), reason) && !only) continue;
    e.status = 'stopped';
    e.stopReason = reason;
    e.endedAt = new Date();
    e.dueAt = null;
    await e.save();
    await ctx.queues.nurture.remove(stepJobId(e.id, e.step)).catch(() => 0);
    await recordStep({ corpId, externalUserId }, `stop|${e.id}`, 'enrollment_stopped', { sequence: e.sequenceKey, reason, atStep: e.step });
    n++;
  }
  return n;
}

/**
 * A member no longer has this lead (they were deleted, or deleted the customer): enrollments they were sending are
 * handed to another active owner, or stopped when none is left.
 */
export async function releaseOwner(ctx: Ctx, corpId: string, externalUserId: string, userId: string, reason: StopReason): Promise<void> {
  await ctx.leads.withLock(corpId, externalUserId, async () => {
    const lead = await Lead.findById(leadId(corpId, externalUserId), { owners: 1, stage: 1 }).lean();
    const next = lead?.owners.find((o) => o.status === 'active' && o.userId !== userId)?.userId;
    for (const e of await Enrollment.find({ corpId, externalUserId, status: 'active' })) {
      if (!next || lead?.stage === 'lost') {
        await stopUnlocked(ctx, corpId, externalUserId, reason, e.id);
      } else if (e.ownerUserId === userId) {
        e.ownerUserId = next;
        await e.save();
        await recordStep({ corpId, externalUserId }, `owner|${e.id}|${userId}`, 'enrollment_owner_changed', { from: userId, to: next });
      }
    }
  });
}

/** Moves a lead to `stage` and ends the enrollments that stage stops (e.g. `stop on: stage:qualified`). */
export async function setStage(ctx: Ctx, corpId: string, externalUserId: string, stage: Stage): Promise<void> {
  if (!STAGES.includes(stage)) throw new Error(`unknown stage ${stage}`);
  await ctx.leads.withLock(corpId, externalUserId, async () => {
    await Lead.updateOne({ _id: leadId(corpId, externalUserId) }, { $set: { stage, ...(stage === 'unsubscribed' ? { unsubscribedAt: new Date() } : {}) } });
    const active = await Enrollment.find({ corpId, externalUserId, status: 'active' }, { sequenceKey: 1 }).lean();
    for (const e of active) {
      const seq = ctx.sequences.get(e.sequenceKey);
      const reason = seq ? stageStop(seq, stage) : null;
      if (reason) await stopUnlocked(ctx, corpId, externalUserId, reason, String(e._id));
    }
  });
}
