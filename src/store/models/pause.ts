import mongoose, { Schema } from 'mongoose';

export const PAUSE_KINDS = ['lead', 'sequence', 'channel', 'campaign'] as const;
export type PauseKind = (typeof PAUSE_KINDS)[number];

const pauseSchema = new Schema(
  {
    /** `<kind>:<target>`: a lead id, a sequence key, a channel key or a campaign key. */
    _id: { type: String, required: true },
    kind: { type: String, enum: PAUSE_KINDS, required: true },
    target: { type: String, required: true },
    /** Who paused it (a userid, or `admin`). */
    by: { type: String, required: true },
    reason: { type: String, default: null },
    at: { type: Date, required: true },
  },
  { versionKey: false },
);

/**
 * A lead, sequence, channel or campaign staff paused: no nurture or campaign message goes to it, or through it,
 * until resumed. A cancelled campaign keeps its pause (reason `cancelled`) so senders stop at once.
 */
export const Pause = mongoose.model('Pause', pauseSchema, 'pauses');
