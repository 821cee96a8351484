import mongoose, { Schema, type InferSchemaType } from 'mongoose';
import { isDuplicateKey } from './lead.js';

export const DELIVERY_STATUSES = ['pending', 'sent', 'failed', 'expired', 'skipped', 'unknown'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

const deliverySchema = new Schema(
  {
    /** Idempotency key: one customer-facing message per key, ever. */
    key: { type: String, required: true },
    kind: { type: String, required: true },
    corpId: { type: String, required: true },
    externalUserId: { type: String, required: true },
    userId: { type: String, required: true },
    status: { type: String, enum: DELIVERY_STATUSES, default: 'pending' },
    attempts: { type: Number, default: 0 },
    errcode: { type: Number, default: null },
    reason: { type: String, default: null },
    content: { type: Schema.Types.Mixed, default: null },
    sentAt: { type: Date, default: null },
  },
  { timestamps: true },
);
deliverySchema.index({ key: 1 }, { unique: true });
deliverySchema.index({ corpId: 1, externalUserId: 1 });

export type DeliveryFields = InferSchemaType<typeof deliverySchema>;
/** One outbound customer-facing message and its fate. */
export const Delivery = mongoose.model('Delivery', deliverySchema, 'deliveries');

/** Creates the delivery record for `key`, or returns the existing one (another run got there first). */
export async function claimDelivery(
  fields: Pick<DeliveryFields, 'key' | 'kind' | 'corpId' | 'externalUserId' | 'userId'>,
) {
  try {
    return await Delivery.create(fields);
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    const existing = await Delivery.findOne({ key: fields.key });
    if (!existing) throw err;
    return existing;
  }
}
