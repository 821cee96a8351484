import mongoose, { Schema, type HydratedDocument, type InferSchemaType } from 'mongoose';
import { createOnce } from './lead.js';

/**
 * pending: claimed, not yet answered by WeCom; sent; submitted: a mass message waiting for the owner to confirm;
 * failed; expired (welcome window passed); skipped; unknown: a crash left it pending mid-call, never resent;
 * capped: WeCom skipped the customer (monthly mass-message cap); unconfirmed: the owner never sent it.
 */
export const DELIVERY_STATUSES = ['pending', 'sent', 'submitted', 'failed', 'expired', 'skipped', 'unknown', 'capped', 'unconfirmed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

const deliverySchema = new Schema(
  {
    /** The idempotency key (also kept in `key`): one customer-facing message per key, ever. */
    _id: { type: String, required: true },
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
    /** welcome | kf (微信客服 window) | mass (add_msg_template, owner confirms) | owner (reminder to the owner). */
    route: { type: String, default: null },
    /** Set just before calling WeCom, cleared when the call fails retryably: set + pending on a re-run = crashed mid-call. */
    inFlightAt: { type: Date, default: null },
    enrollmentId: { type: String, default: null },
    step: { type: Number, default: null },
    caseSlug: { type: String, default: null },
    /** Calendar day / month of the send in the nurture time zone: the daily and monthly caps count these. */
    localDay: { type: String, default: null },
    localMonth: { type: String, default: null },
    /** add_msg_template's msgid, polled with get_groupmsg_send_result. */
    msgid: { type: String, default: null },
  },
  { timestamps: true },
);
deliverySchema.index({ corpId: 1, externalUserId: 1, kind: 1 });
deliverySchema.index({ status: 1, route: 1 });

export type DeliveryFields = InferSchemaType<typeof deliverySchema>;
export type DeliveryDoc = HydratedDocument<DeliveryFields>;
/** One outbound customer-facing message and its fate. */
export const Delivery = mongoose.model('Delivery', deliverySchema, 'deliveries');

/**
 * Creates the delivery record for `key` (one insert). `created` is false when it already existed: another run got
 * there first, and `delivery` is that run's record.
 */
export async function claimDelivery(
  fields: Pick<DeliveryFields, 'key' | 'kind' | 'corpId' | 'externalUserId' | 'userId'> & Partial<DeliveryFields>,
): Promise<{ delivery: DeliveryDoc; created: boolean }> {
  const created = await createOnce(Delivery, { _id: fields.key, ...fields });
  if (created) return { delivery: created, created: true };
  const existing = await Delivery.findById(fields.key);
  if (!existing) throw new Error(`delivery ${fields.key} exists and cannot be read`);
  return { delivery: existing, created: false };
}

/** `_id` = `<delivery key>#<attempt>`. */
const sendAttemptSchema = new Schema({ _id: { type: String, required: true }, at: { type: Date, default: Date.now } });
const SendAttempt = mongoose.model('SendAttempt', sendAttemptSchema, 'send_attempts');

/**
 * Takes attempt `n` of delivery `key`: true for exactly one caller. A unique insert is atomic on MongoDB and
 * FerretDB alike, so two runners that both believe they own a step (a lock lost to a Redis failover) never both
 * call WeCom.
 */
export async function fenceAttempt(key: string, n: number): Promise<boolean> {
  return (await createOnce(SendAttempt, { _id: `${key}#${n}` })) !== null;
}
