import type { BotContext } from '../context.js';
import { Enrollment, type EnrollmentDoc } from '../models/enrollment.js';
import { isDuplicateKey, Lead, STAGES, type Stage } from '../models/lead.js';
import { recordStep } from '../models/timeline.js';
import { stepJobId } from '../queues/index.js';
import type { Sequence } from '../templates/sequences.js';
import { nextAllowedTime } from './clock.js';

/** Why an enrollment ends early. `stage:<s>` = the lead reached stage s. */
export type StopReason = 'reply' | 'unsubscribe' | 'churn' | `stage:${Stage}`;
/** Reasons that end every enrollment whatever its stopOn says: nobody is messaged after leaving or opting out. */
const ALWAYS_STOP: ReadonlySet<StopReason> = new Set(['unsubscribe', 'churn', 'stage:customer']);
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
export async function scheduleStep(ctx: Pick<BotContext, 'queues'>, e: Pick<EnrollmentDoc, 'id' | 'step' | 'dueAt'>): Promise<void> {
  const delay = Math.max(0, (e.dueAt?.getTime() ?? Date.now()) - Date.now());
  await ctx.queues.nurture.add('step', { e: e.id, s: e.step }, { jobId: stepJobId(e.id, e.step), delay });
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
    const doc = await Lead.findOne(lead, { stage: 1, unsubscribedAt: 1 }).lean();
    const blocked = !doc ? 'no_lead' : doc.unsubscribedAt ? 'unsubscribed' : stageStop(seq, doc.stage as Stage);
    if (blocked) {
      await recordStep(lead, `enroll|${sequenceKey}`, 'enroll_skipped', { sequence: sequenceKey, reason: blocked });
      return null;
    }
    let e: EnrollmentDoc;
    try {
      e = await Enrollment.create({ ...lead, sequenceKey, ownerUserId, enrolledAt: new Date(at), dueAt: planDue(seq, 0, at) });
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      return null; // enrolled before: a sequence is never restarted
    }
    await scheduleStep(ctx, e);
    await recordStep(lead, `enroll|${sequenceKey}`, 'enrolled', { sequence: sequenceKey, firstStepDue: e.dueAt });
    return e;
  });
}

/**
 * Ends the lead's active enrollments that `reason` stops, and drops their pending jobs. The step job re-checks
 * the enrollment under the lead lock, so a job that could not be removed (already running) does nothing.
 */
export async function stopEnrollments(ctx: Ctx, corpId: string, externalUserId: string, reason: StopReason): Promise<number> {
  const stopped = await ctx.leads.withLock(corpId, externalUserId, () => stopUnlocked(ctx, corpId, externalUserId, reason));
  return stopped;
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

/** Moves a lead to `stage` and ends the enrollments that stage stops (e.g. `stop on: stage:qualified`). */
export async function setStage(ctx: Ctx, corpId: string, externalUserId: string, stage: Stage): Promise<void> {
  if (!STAGES.includes(stage)) throw new Error(`unknown stage ${stage}`);
  await ctx.leads.withLock(corpId, externalUserId, async () => {
    await Lead.updateOne({ corpId, externalUserId }, { $set: { stage, ...(stage === 'unsubscribed' ? { unsubscribedAt: new Date() } : {}) } });
    const active = await Enrollment.find({ corpId, externalUserId, status: 'active' }, { sequenceKey: 1 }).lean();
    for (const e of active) {
      const seq = ctx.sequences.get(e.sequenceKey);
      const reason = seq ? stageStop(seq, stage) : null;
      if (reason) await stopUnlocked(ctx, corpId, externalUserId, reason, String(e._id));
    }
  });
}
