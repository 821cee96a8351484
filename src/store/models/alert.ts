import mongoose, { Schema } from 'mongoose';

const alertSchema = new Schema(
  {
    /** The alert's dedupe key: each alert once. */
    _id: { type: String, required: true },
    kind: { type: String, required: true },
    title: { type: String, required: true },
    text: { type: String, default: '' },
    /**
     * queued | sent | digested (went out in a digest) | failed | unknown | off (no ops webhook configured) |
     * superseded (a lead's upgrade no longer so when it was to be posted, `reason`: a later upgrade saved, whose alert
     * tells the newer grade; a lower grade pinned meanwhile; the lead opted out)
     */
    status: { type: String, default: 'queued' },
    reason: { type: String, default: null },
    raisedAt: { type: Date, required: true },
    sentAt: { type: Date, default: null },
  },
  { versionKey: false },
);
alertSchema.index({ raisedAt: -1 });

/** An alert to the ops group and what became of it. */
export const Alert = mongoose.model('Alert', alertSchema, 'alerts');
