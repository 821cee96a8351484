import mongoose, { Schema } from 'mongoose';

const entrySchema = new Schema(
  {
    /** `<event or delivery key>#<type>`: a step recorded twice (a handler that runs again) is kept once. */
    id: { type: String, required: true },
    type: { type: String, required: true },
    at: { type: Date, required: true },
    detail: { type: Schema.Types.Mixed, default: {} },
  },
  { _id: false },
);

const timelineSchema = new Schema({
  /** The lead's id (leadId): a lead's whole history is one primary-key read, on every MongoDB-wire database. */
  _id: { type: String, required: true },
  corpId: { type: String, required: true },
  externalUserId: { type: String, required: true },
  /** The entries' ids, for the write that skips a step already recorded (a filter on a list of strings). */
  ids: { type: [String], default: [] },
  /** In the order they were recorded (readers sort by `at`). */
  entries: { type: [entrySchema], default: [] },
});

/** A lead's history: arrival, welcome, tags, profile, messages, deliveries, stage moves, churn... */
export const Timeline = mongoose.model('Timeline', timelineSchema, 'timelines');

/** Stage moves, one document each (also on the lead's timeline), for reports that count the moves of a day. */
const stageMoveSchema = new Schema({
  /** The timeline entry's id: a move recorded twice is kept once. */
  _id: { type: String, required: true },
  corpId: { type: String, required: true },
  externalUserId: { type: String, required: true },
  at: { type: Date, required: true },
  from: { type: String, required: true },
  to: { type: String, required: true },
  by: { type: String, required: true },
});
stageMoveSchema.index({ at: 1 });

export const StageMove = mongoose.model('StageMove', stageMoveSchema, 'stage_moves');

const logEntrySchema = new Schema({
  /** `<delivery key>#<type>`: a step recorded twice is kept once (primary-key insert). */
  _id: { type: String, required: true },
  corpId: { type: String, required: true },
  externalUserId: { type: String, required: true },
  type: { type: String, required: true },
  at: { type: Date, required: true },
  detail: { type: Schema.Types.Mixed, default: {} },
});

/**
 * Steps recorded in bulk (a campaign's batch: thousands of leads at once), one document each: one insert for the
 * batch, where appending to each lead's timeline document would be one write per lead. A lead's timeline reads them
 * through the ids the lead index keeps per lead (src/store/timeline.ts).
 */
export const TimelineEntry = mongoose.model('TimelineEntry', logEntrySchema, 'timeline');
