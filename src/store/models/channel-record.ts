import mongoose, { Schema } from 'mongoose';

const channelRecordSchema = new Schema(
  {
    key: { type: String, required: true },
    name: { type: String, required: true },
    configId: { type: String, default: null },
    qrCode: { type: String, default: null },
    userIds: { type: [String], default: [] },
    /** The code's type as made: 1 单人 (one member), 2 多人 [D:92228]; null for one stored before it was kept. */
    wayType: { type: Number, default: null },
    /** Codes made for the channel before its current one (replaced when a 单人 code needed more owners): still live. */
    retiredConfigIds: { type: [String], default: [] },
    /** The channel's 微信客服 link and its account, when it declares one. */
    kfOpenKfid: { type: String, default: null },
    kfUrl: { type: String, default: null },
    syncedAt: { type: Date, default: null },
    /** templates (channels.yaml, written by channels:sync) or command (created in the ops group with 渠道 new). */
    source: { type: String, enum: ['templates', 'command'], default: 'templates' },
    /** Who created it, for a channel created by command. */
    createdBy: { type: String, default: null },
  },
  { timestamps: true },
);
channelRecordSchema.index({ key: 1 }, { unique: true });

/**
 * What WeCom knows of a channel: its 联系我 config_id and QR code, written by `channels:sync`; for a channel created by
 * a chat command, also the channel itself (name, owners), which joins the catalog in every process.
 */
export const ChannelRecord = mongoose.model('ChannelRecord', channelRecordSchema, 'channels');
