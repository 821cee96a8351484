import mongoose, { Schema, type InferSchemaType } from 'mongoose';

/**
 * Where a campaign was defined: `file` (templates/campaigns/<key>.yaml, loaded into the store at start-up) or `api`
 * (POST /admin/api/campaigns). A key belongs to one of them.
 */
export const CAMPAIGN_SOURCES = ['file', 'api'] as const;
/** active; cancelled (ended by staff: no more runs); removed (its file was deleted). Pausing is a pause (pauses.ts). */
export const CAMPAIGN_STATUSES = ['active', 'cancelled', 'removed'] as const;
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];

const campaignSchema = new Schema(
  {
    /** The campaign's key. */
    _id: { type: String, required: true },
    name: { type: String, required: true },
    source: { type: String, enum: CAMPAIGN_SOURCES, required: true },
    /** The definition as written (src/content/campaigns.ts validates it). */
    definition: { type: Schema.Types.Mixed, required: true },
    status: { type: String, enum: CAMPAIGN_STATUSES, default: 'active' },
    /** Who created it (a userid, `admin`, or `file`). */
    createdBy: { type: String, default: null },
    cancelledAt: { type: Date, default: null },
    cancelledBy: { type: String, default: null },
  },
  { timestamps: true, versionKey: false, minimize: false },
);

export type CampaignFields = InferSchemaType<typeof campaignSchema>;
/** A campaign: a scheduled send of planned content to a segment (docs/ops-guide.md, "Campaigns"). */
export const CampaignRecord = mongoose.model('Campaign', campaignSchema, 'campaigns');
