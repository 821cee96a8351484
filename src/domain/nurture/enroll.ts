import type { BotContext } from '../../context.js';
import { createOnce, insertManyOnce } from '../../store/create-once.js';
import { Enrollment, enrollmentId, type EnrollmentDoc } from '../../store/models/enrollment.js';
import { Lead, leadId, type LeadRef } from '../../store/models/lead.js';
import { recordStep } from '../../store/timeline.js';
import type { Stage } from '../vocabulary.js';
import { planDue, stageStop } from './policy.js';
import { scheduleStep, stepJob } from './schedule.js';

type Ctx = Pick<BotContext, 'queues' | 'sequences' | 'leads'>;

/**
 * Enrolls a lead in a sequence: one enrollment per (lead, sequence), ever. Leads who are customers, have left or
 * have unsubscribed are not enrolled. The sender is `ownerUserId` while they are an active owner of the lead, else
 * another active owner (as releaseOwner moves an enrollment), else the lead is not enrolled (`owner_removed`; `no_owner` for a 微信客服 customer nobody ever had): the
 * member's deletion of the customer may have been handled between the lead's arrival and this call (events run
 * concurrently, and an add retried after a failure enrolls after a deletion handled meanwhile), and releaseOwner,
 * which ends or moves that member's enrollments, found none then. Returns the enrollment, or null when not enrolled.
 */
export async function enroll(
  ctx: Ctx,
  lead: LeadRef,
  sequenceKey: string,
  ownerUserId: string,
  at = Date.now(),
): Promise<EnrollmentDoc | null> {
  return ctx.leads.withLock(lead, () => enrollLocked(ctx, lead, sequenceKey, ownerUserId, at));
}

/** enroll for a caller that holds the lead's lock. */
export async function enrollLocked(ctx: Ctx, lead: LeadRef, sequenceKey: string, ownerUserId: string, at = Date.now()): Promise<EnrollmentDoc | null> {
  const seq = ctx.sequences.get(sequenceKey);
  if (!seq) throw new Error(`no sequence "${sequenceKey}"`);
  const doc = await Lead.findById(leadId(lead.corpId, lead.externalUserId), { stage: 1, unsubscribedAt: 1, owners: 1 }).lean();
  const active = (doc?.owners ?? []).filter((o) => o.status === 'active').map((o) => o.userId);
  const sender = active.includes(ownerUserId) ? ownerUserId : active[0];
  // No active owner: every member who had the customer removed it, or (a 微信客服 customer) nobody ever had it.
  const noSender = doc?.owners.length ? 'owner_removed' : 'no_owner';
  const blocked = !doc ? 'no_lead' : doc.unsubscribedAt ? 'unsubscribed' : (stageStop(seq, doc.stage as Stage) ?? (sender ? null : noSender));
  if (blocked || !sender) {
    await recordStep(lead, `enroll|${sequenceKey}`, 'enroll_skipped', { sequence: sequenceKey, reason: blocked ?? noSender });
    return null;
  }
  const e = await createOnce(Enrollment, { _id: enrollmentId(lead.corpId, lead.externalUserId, sequenceKey), ...lead, sequenceKey, ownerUserId: sender, enrolledAt: new Date(at), dueAt: planDue(seq, 0, at) });
  if (!e) return null; // enrolled before: a sequence is never restarted
  await scheduleStep(ctx, e);
  await recordStep(lead, `enroll|${sequenceKey}`, 'enrolled', { sequence: sequenceKey, firstStepDue: e.dueAt });
  return e;
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
        _id: enrollmentId(l.corpId, l.externalUserId, sequenceKey),
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
      // Those that existed (enrolled before) are not enrolled again; a command that failed as a whole throws.
      const failed = await insertManyOnce(Enrollment.collection, docs);
      const inserted = docs.filter((_, idx) => !failed.has(idx));
      await jobsInFlight;
      if (jobsError) throw jobsError;
      jobsInFlight = ctx.queues
        .addBulk('nurture', inserted.map((e) => stepJob({ ...e, id: String(e._id) })))
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
