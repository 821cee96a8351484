import mongoose, { Schema } from 'mongoose';

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
