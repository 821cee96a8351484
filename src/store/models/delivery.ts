import mongoose, { Schema, type HydratedDocument, type InferSchemaType } from 'mongoose';
import { VIAS } from '../../domain/vocabulary.js';

/**
 * sent; submitted: a mass message waiting for the owner to confirm; failed; expired (the welcome window passed);
 * skipped; unknown: WeCom may or may not have acted (a timeout, or a runner died mid-call), never resent; capped:
 * WeCom skipped the customer (mass-message quota); unconfirmed: the owner never sent it. `pending` is kept for
 * records written before outcomes were recorded once, after the call.
 */
export const DELIVERY_STATUSES = ['pending', 'sent', 'submitted', 'failed', 'expired', 'skipped', 'unknown', 'capped', 'unconfirmed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

const deliverySchema = new Schema(
  {
    /** The idempotency key (also kept in `key`): one customer-facing message per key, ever. */
    _id: { type: String, required: true },
    key: { type: String, required: true },
    /** welcome | nurture | campaign | notice | kf_reply | kf_welcome */
    kind: { type: String, required: true },
    corpId: { type: String, required: true },
    externalUserId: { type: String, required: true },
    /** The member who sent it (welcome, mass) or was reminded to (owner). */
    userId: { type: String, required: true },
    status: { type: String, enum: DELIVERY_STATUSES, required: true },
    via: { type: String, enum: [...VIAS, null], default: null },
    attempts: { type: Number, default: 0 },
    errcode: { type: Number, default: null },
    reason: { type: String, default: null },
    content: { type: Schema.Types.Mixed, default: null },
    sentAt: { type: Date, default: null },
    enrollmentId: { type: String, default: null },
    /** The sequence (nurture) it belongs to. */
    sequenceKey: { type: String, default: null },
    step: { type: Number, default: null },
    caseSlug: { type: String, default: null },
    /** Calendar day and month of the send in the nurture time zone. */
    localDay: { type: String, default: null },
    localMonth: { type: String, default: null },
    /** add_msg_template's msgid (polled with get_groupmsg_send_result), or our own kf msgid (named by msg_send_fail). */
    msgid: { type: String, default: null },
    /** The campaign run it belongs to (`<campaign key>|<slot>`), if any. */
    runId: { type: String, default: null },
    /** The campaign group it went out in (one mass message or reminder for many customers), if any. */
    group: { type: String, default: null },
    /** Opens of the message's tracked links. */
    clicks: { type: Number, default: 0 },
    lastClickAt: { type: Date, default: null },
  },
  { timestamps: true },
);
deliverySchema.index({ corpId: 1, externalUserId: 1, kind: 1 });
deliverySchema.index({ status: 1, via: 1 });
deliverySchema.index({ sequenceKey: 1, step: 1 });
deliverySchema.index({ runId: 1, status: 1 });
// A 微信客服 msg_send_fail names the failed message by msgid (rare: read by msgid only then).
deliverySchema.index({ msgid: 1 }, { sparse: true });

export type DeliveryFields = InferSchemaType<typeof deliverySchema>;
export type DeliveryDoc = HydratedDocument<DeliveryFields>;
/** One outbound customer-facing message and its fate, written once its outcome is known (the delivery ledger). */
export const Delivery = mongoose.model('Delivery', deliverySchema, 'deliveries');
