import mongoose, { Schema } from 'mongoose';

const deferralSchema = new Schema(
  {
    /** `<run>|<pass>|<lead id>`: a lead is held back once per pass. */
    _id: { type: String, required: true },
    runId: { type: String, required: true },
    /** The pass that tries it again. */
    pass: { type: Number, required: true },
    leadId: { type: String, required: true },
    reason: { type: String, required: true },
    at: { type: Date, required: true },
  },
  { versionKey: false },
);
deferralSchema.index({ runId: 1, pass: 1, _id: 1 });

/** A lead a campaign run held back (its daily cap was reached): tried again in the run's next pass. */
export const CampaignDeferral = mongoose.model('CampaignDeferral', deferralSchema, 'campaign_deferrals');
