import mongoose, { Schema } from 'mongoose';

const funnelDaySchema = new Schema(
  {
    /** `<day>|<channel>`: the leads added that day (OPS_TIMEZONE) through that channel. */
    _id: { type: String, required: true },
    day: { type: String, required: true },
    channel: { type: String, required: true },
    /** Counters: added, reached.<stage>, lost, unsubscribed, grades.<grade>, roles.<role>.<same counters>. */
    counts: { type: Schema.Types.Mixed, default: {} },
  },
  { versionKey: false, minimize: false },
);
funnelDaySchema.index({ day: 1, channel: 1 });

/**
 * The funnel of one day's leads from one channel, kept from the leads (src/domain/funnel/rollup.ts), so a funnel for
 * any period reads one small document per day and channel instead of every lead.
 */
export const FunnelDay = mongoose.model('FunnelDay', funnelDaySchema, 'funnel_days');
