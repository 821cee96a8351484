import type { BotContext } from '../../context.js';
import { jobIds } from '../../queues/job-ids.js';
import { Enrollment, enrollmentsOf } from '../../store/models/enrollment.js';
import { Lead, leadId, type LeadRef } from '../../store/models/lead.js';
import { recordStep } from '../../store/timeline.js';
import { stageStop, stopsSequence, type StopReason } from './policy.js';
import type { Stage } from '../vocabulary.js';

type Ctx = Pick<BotContext, 'queues' | 'sequences' | 'leads'>;

/**
 * Ends the lead's active enrollments that `reason` stops and drops their pending jobs. A step job that could not be
 * removed (already running) re-checks its enrollment under the lead lock and does nothing. Returns how many ended.
 */
export async function stopEnrollments(ctx: Ctx, lead: LeadRef, reason: StopReason): Promise<number> {
  return ctx.leads.withLock(lead, () => stopLocked(ctx, lead, reason));
}

/** stopEnrollments for a caller that holds the lead's lock; `only` ends that enrollment whatever its stopOn says. */
export async function stopLocked(ctx: Ctx, lead: LeadRef, reason: StopReason, only?: string): Promise<number> {
  // Only the sequences `reason` stops are looked up (a customer's message reads none when no sequence stops on replies).
  const stopped = () => [...ctx.sequences.keys()].filter((k) => stopsSequence(ctx.sequences.get(k), reason));
  const candidates = only ? [await Enrollment.findById(only, { sequenceKey: 1, step: 1, status: 1 }).lean()] : await enrollmentsOf(lead, stopped(), { sequenceKey: 1, step: 1, status: 1 });
  const active = candidates.filter((e): e is NonNullable<typeof e> => e?.status === 'active');
  let n = 0;
  for (const e of active) {
    if (!only && !stopsSequence(ctx.sequences.get(e.sequenceKey), reason)) continue;
    const id = String(e._id);
    await Enrollment.updateOne({ _id: e._id }, { $set: { status: 'stopped', stopReason: reason, endedAt: new Date(), dueAt: null } });
    await ctx.queues.get('nurture').remove(jobIds.nurtureStep(id, e.step)).catch(() => 0);
    await recordStep(lead, `stop|${id}`, 'enrollment_stopped', { sequence: e.sequenceKey, reason, atStep: e.step });
    n++;
  }
  return n;
}

/** Ends the enrollments a lead's new stage stops (`stopOn: stage:qualified`, every marketing one at `customer`). */
export async function stopForStage(ctx: Ctx, lead: LeadRef, stage: Stage): Promise<number> {
  const active = (await enrollmentsOf(lead, ctx.sequences.keys(), { sequenceKey: 1, status: 1 })).filter((e) => e.status === 'active');
  let n = 0;
  for (const e of active) {
    const seq = ctx.sequences.get(e.sequenceKey);
    const reason = seq ? stageStop(seq, stage) : null;
    if (reason) n += await stopLocked(ctx, lead, reason, String(e._id));
  }
  return n;
}

/**
 * A member no longer has this lead (they were deleted, or deleted the customer): the enrollments they were sending
 * move to another active owner, or stop when none is left.
 */
export async function releaseOwner(ctx: Ctx, lead: LeadRef, userId: string, reason: StopReason): Promise<void> {
  await ctx.leads.withLock(lead, async () => {
    const doc = await Lead.findById(leadId(lead.corpId, lead.externalUserId), { owners: 1, stage: 1 }).lean();
    const next = doc?.owners.find((o) => o.status === 'active' && o.userId !== userId)?.userId;
    for (const e of (await enrollmentsOf(lead, ctx.sequences.keys(), { ownerUserId: 1, status: 1 })).filter((x) => x.status === 'active')) {
      const id = String(e._id);
      if (!next || doc?.stage === 'lost') {
        await stopLocked(ctx, lead, reason, id);
      } else if (e.ownerUserId === userId) {
        await Enrollment.updateOne({ _id: e._id }, { $set: { ownerUserId: next } });
        await recordStep(lead, `owner|${id}|${userId}`, 'enrollment_owner_changed', { from: userId, to: next });
      }
    }
  });
}
