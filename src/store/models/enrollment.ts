import mongoose, { Schema, type HydratedDocument, type InferSchemaType } from 'mongoose';

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
  },
  { timestamps: true },
);
enrollmentSchema.index({ corpId: 1, externalUserId: 1, sequenceKey: 1 }, { unique: true });
enrollmentSchema.index({ status: 1, dueAt: 1 });
enrollmentSchema.index({ sequenceKey: 1, status: 1 });

export type EnrollmentFields = InferSchemaType<typeof enrollmentSchema>;
export type EnrollmentDoc = HydratedDocument<EnrollmentFields>;
/** A lead in a sequence: the source of truth for what is due when (Redis only schedules it). */
export const Enrollment = mongoose.model('Enrollment', enrollmentSchema, 'enrollments');
