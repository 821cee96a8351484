import mongoose, { Schema } from 'mongoose';

/**
 * What a fence stands for: `attempt` (one attempt at one delivery), or a unit of a lead's send budget: `day` (the
 * daily nurture cap), `mass` (the mass-message quota of a period), `kf` (the 微信客服 window's messages) or `case`
 * (a case study, never sent twice).
 */
export const FENCE_KINDS = ['attempt', 'day', 'mass', 'kf', 'case'] as const;
export type FenceKind = (typeof FENCE_KINDS)[number];

const fenceSchema = new Schema(
  {
    /** Deterministic: `<delivery key>#<attempt>`, or `<kind>|<lead id>|<period>|<n>` for a budget unit. */
    _id: { type: String, required: true },
    kind: { type: String, enum: FENCE_KINDS, required: true },
    /** The delivery that holds it. */
    for: { type: String, required: true },
    at: { type: Date, default: Date.now },
  },
  { versionKey: false },
);

/**
 * A fence: a document with a deterministic _id, inserted once. Whoever inserts it holds what it stands for; a unique
 * insert is atomic on every MongoDB-wire database and cheap on all of them (docs/architecture.md, "Exactly once").
 */
export const Fence = mongoose.model('Fence', fenceSchema, 'fences');
