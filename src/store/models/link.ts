import mongoose, { Schema } from 'mongoose';

const linkSchema = new Schema(
  {
    /** The token in /r/<token>. */
    _id: { type: String, required: true },
    url: { type: String, required: true },
    corpId: { type: String, required: true },
    externalUserId: { type: String, required: true },
    deliveryKey: { type: String, required: true },
    clicks: { type: Number, default: 0 },
    lastClickAt: { type: Date, default: null },
  },
  { timestamps: true },
);
linkSchema.index({ deliveryKey: 1 });

/** A tracked link: GET /r/<token> redirects to `url` and records the click as a touch on the lead. */
export const Link = mongoose.model('Link', linkSchema, 'links');
