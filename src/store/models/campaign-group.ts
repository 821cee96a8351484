import mongoose, { Schema, type InferSchemaType } from 'mongoose';

const groupSchema = new Schema(
  {
    /** `cg|<run>|<n>`: also the tracked links' delivery key and the polls' key. */
    _id: { type: String, required: true },
    runId: { type: String, required: true },
    campaignKey: { type: String, required: true },
    /** The corp of its customers. */
    corpId: { type: String, required: true },
    /** mass (one add_msg_template) or owner (one reminder listing the customers). */
    via: { type: String, enum: ['mass', 'owner'], required: true },
    /** The member who confirms it (mass) or is reminded (owner). */
    sender: { type: String, required: true },
    /** Customers in it, and how many WeCom refused at once (fail_list). */
    size: { type: Number, required: true },
    refused: { type: Number, default: 0 },
    msgid: { type: String, default: null },
    /** Each recipient's delivery key is this prefix plus the lead id. */
    deliveryKeyPrefix: { type: String, required: true },
    /** submitted (waiting for the owner), settled (every recipient's fate known), sent (reminders), failed, unknown. */
    status: { type: String, required: true },
    /** Recipients by WeCom's send result, as of the last poll: sent, notAFriend, capped, unsent, unconfirmed. */
    tally: { type: Schema.Types.Mixed, default: null },
    /**
     * Recipients whose last interaction was with another member when the task was created: once they get it, mass
     * messages for them go to this sender [D:92135].
     */
    retarget: { type: [String], default: [] },
    content: { type: Schema.Types.Mixed, default: null },
    /** The case study in it (one per group: its content's), null for none; absent on groups stored before it was kept. */
    caseSlug: { type: String, default: null },
    clicks: { type: Number, default: 0 },
    lastClickAt: { type: Date, default: null },
    settledAt: { type: Date, default: null },
    /** When the campaign was cancelled and the task withdrawn (cancel_groupmsg_send): what was not sent never will be. */
    withdrawnAt: { type: Date, default: null },
    /** WeCom refused to withdraw it ({errcode, errmsg, at}): not asked again; its owner can still send it. */
    withdrawRefused: { type: Schema.Types.Mixed, default: null },
  },
  { timestamps: true, versionKey: false },
);
groupSchema.index({ runId: 1 });
groupSchema.index({ status: 1 });
groupSchema.index({ campaignKey: 1 });

export type CampaignGroupFields = InferSchemaType<typeof groupSchema>;
/**
 * One message of a campaign run to many customers: a mass message an owner confirms once for all of them, or one
 * reminder to an owner. Each customer in it still has a delivery of its own.
 */
export const CampaignGroup = mongoose.model('CampaignGroup', groupSchema, 'campaign_groups');
