import mongoose, { Schema, type HydratedDocument, type InferSchemaType } from 'mongoose';
import { leadId } from './lead.js';

const historySchema = new Schema(
  {
    step: Number,
    at: Date,
    /** sent | submitted | reminded | skipped | failed | unknown | deferred */
    outcome: String,
    via: { type: String, default: null },
    deliveryKey: { type: String, default: null },
    /** The case study the step sent, if any: a case is never sent to a lead twice. */
    caseSlug: { type: String, default: null },
    detail: { type: Schema.Types.Mixed, default: null },
  },
  { _id: false },
);

const enrollmentSchema = new Schema(
  {
    /** enrollmentId(corp, customer, sequence): a lead's enrollments are found by primary key (one per sequence). */
    _id: { type: String, required: true },
    /** The ObjectId an enrollment stored before 0.2 had (src/store/migrate-enrollment-ids.ts): its delivery keys keep it. */
    legacyId: { type: String, default: undefined },
    corpId: { type: String, required: true },
    externalUserId: { type: String, required: true },
    sequenceKey: { type: String, required: true },
    /** The member who sends (mass route) or is reminded (owner route). */
    ownerUserId: { type: String, required: true },
    status: { type: String, enum: ['active', 'completed', 'stopped'], default: 'active' },
    stopReason: { type: String, default: null },
    /** Index of the next step to run. */
    step: { type: Number, default: 0 },
    /** Attempts of that step that ended without sending (WeCom refused clearly): the next one takes the next fence. */
    attempts: { type: Number, default: 0 },
    /** When that step is due (after quiet hours and caps); null once the enrollment ended. */
    dueAt: { type: Date, default: null },
    enrolledAt: { type: Date, required: true },
    endedAt: { type: Date, default: null },
    history: { type: [historySchema], default: [] },
    /**
     * Delivery keys of its steps whose case study WeCom did not deliver (a mass message the customer was not sent:
     * src/domain/delivery/give-back-case.ts): their case studies do not count as sent to the lead.
     */
    casesReturned: { type: [String], default: undefined },
  },
  { timestamps: true },
);
enrollmentSchema.index({ corpId: 1, externalUserId: 1, sequenceKey: 1 }, { unique: true });
enrollmentSchema.index({ status: 1, dueAt: 1 });
enrollmentSchema.index({ sequenceKey: 1, status: 1 });

export type EnrollmentFields = InferSchemaType<typeof enrollmentSchema>;
export type EnrollmentDoc = HydratedDocument<EnrollmentFields>;
/** The primary key of a lead's enrollment in a sequence (one per lead and sequence, ever). */
export function enrollmentId(corpId: string, externalUserId: string, sequenceKey: string): string {
  return `${leadId(corpId, externalUserId)}|${sequenceKey}`;
}

/** The id an enrollment's delivery keys are made of (the exactly-once ledger): its legacy id when it has one. */
export function ledgerId(e: { _id: unknown; legacyId?: string | null }): string {
  return e.legacyId ?? String(e._id);
}

/** A lead in a sequence: the source of truth for what is due when (Redis only schedules it). */
export const Enrollment = mongoose.model('Enrollment', enrollmentSchema, 'enrollments');

/**
 * A lead's enrollments in `sequenceKeys` (every sequence there is), oldest first: one primary-key read per sequence,
 * where a filter on the lead would scan the collection on some MongoDB-wire servers (FerretDB 1.x).
 */
export async function enrollmentsOf(lead: { corpId: string; externalUserId: string }, sequenceKeys: Iterable<string>, projection?: Record<string, 1>) {
  const found = await Promise.all([...sequenceKeys].map((k) => Enrollment.findById(enrollmentId(lead.corpId, lead.externalUserId, k), projection).lean()));
  return found.filter((e): e is NonNullable<typeof e> => e !== null).sort((a, b) => (a.enrolledAt?.getTime() ?? 0) - (b.enrolledAt?.getTime() ?? 0));
}
