import mongoose, { Schema } from 'mongoose';

const channelRecordSchema = new Schema(
  {
    key: { type: String, required: true },
    name: { type: String, required: true },
    configId: { type: String, default: null },
    qrCode: { type: String, default: null },
    userIds: { type: [String], default: [] },
    /** The channel's 微信客服 link and its account, when it declares one. */
    kfOpenKfid: { type: String, default: null },
    kfUrl: { type: String, default: null },
    syncedAt: { type: Date, default: null },
  },
  { timestamps: true },
);
channelRecordSchema.index({ key: 1 }, { unique: true });

/** What WeCom knows of a channel: its 联系我 config_id and QR code, written by `channels:sync`. */
export const ChannelRecord = mongoose.model('ChannelRecord', channelRecordSchema, 'channels');
