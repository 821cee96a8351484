import mongoose, { Schema } from 'mongoose';
import { createOnce } from './lead.js';

const timelineSchema = new Schema({
  /** `<event or delivery key>#<type>`: a handler that runs twice records a step once (primary-key insert). */
  _id: { type: String, required: true },
  corpId: { type: String, required: true },
  externalUserId: { type: String, required: true },
  type: { type: String, required: true },
  at: { type: Date, required: true },
  detail: { type: Schema.Types.Mixed, default: {} },
});
timelineSchema.index({ corpId: 1, externalUserId: 1, at: 1 });

/** One step in a lead's history: arrival, welcome, tags, profile, churn... */
export const TimelineEntry = mongoose.model('TimelineEntry', timelineSchema, 'timeline');

/** Records a step on the lead's timeline exactly once per (source key, type). */
export async function recordStep(
  lead: { corpId: string; externalUserId: string },
  sourceKey: string,
  type: string,
  detail: Record<string, unknown> = {},
  at = new Date(),
): Promise<void> {
  await createOnce(TimelineEntry, { _id: `${sourceKey}#${type}`, corpId: lead.corpId, externalUserId: lead.externalUserId, type, at, detail });
}

/** A lead's timeline, oldest first. */
export async function timelineOf(corpId: string, externalUserId: string) {
  return TimelineEntry.find({ corpId, externalUserId }).sort({ at: 1 }).lean();
}
