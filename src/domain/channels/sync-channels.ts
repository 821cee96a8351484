import type { BotContext } from '../../context.js';
import { WecomApiError } from '../../errors.js';
import { ChannelRecord } from '../../store/models/channel-record.js';
import { ORGANIC_KEY, type Channel } from '../../content/channels.js';

/** What `channels:sync` did for one channel. */
export interface ChannelSyncResult {
  key: string;
  action: 'created' | 'updated' | 'skipped';
  configId?: string;
  qrCode?: string;
  reason?: string;
}

/** UNCONFIRMED: the errcode update_contact_way answers for a config_id that no longer exists; we then re-create. */
const CONFIG_GONE = new Set([41044, 40058]);

/**
 * Creates or updates each channel's 联系我 QR code (scene 2, state = channel key) [D:92228], resolving its tags
 * to ids first (creating missing ones), and stores config_id and qr_code in MongoDB.
 */
export async function syncChannels(ctx: Pick<BotContext, 'channels' | 'wecom' | 'tags'>): Promise<ChannelSyncResult[]> {
  const results: ChannelSyncResult[] = [];
  for (const channel of ctx.channels.all()) {
    if (channel.key === ORGANIC_KEY) continue; // organic is where contacts without a code land: it has no code
    if (!ctx.channels.isTemplate(channel.key)) continue; // created by a chat command, with its code: not ours to change
    await ctx.tags.resolve(channel.tags);
    if (!channel.owners.length) {
      results.push({ key: channel.key, action: 'skipped', reason: 'no owners: a 联系我 code needs at least one member' });
      continue;
    }
    results.push(await syncOne(ctx, channel));
  }
  return results;
}

async function syncOne(ctx: Pick<BotContext, 'wecom'>, channel: Channel): Promise<ChannelSyncResult> {
  const way = {
    type: channel.owners.length > 1 ? (2 as const) : (1 as const),
    scene: 2 as const,
    state: channel.key,
    user: channel.owners,
    skip_verify: true,
    remark: channel.name.slice(0, 30),
  };
  const existing = await ChannelRecord.findOne({ key: channel.key }).lean();
  if (existing?.configId) {
    try {
      const { type: _type, scene: _scene, ...changes } = way;
      await ctx.wecom.updateContactWay({ config_id: existing.configId, ...changes });
      await ChannelRecord.updateOne({ key: channel.key }, { $set: { name: channel.name, userIds: channel.owners, syncedAt: new Date() } });
      return { key: channel.key, action: 'updated', configId: existing.configId, qrCode: existing.qrCode ?? undefined };
    } catch (err) {
      if (!(err instanceof WecomApiError) || !CONFIG_GONE.has(err.errcode)) throw err;
    }
  }
  const res = await ctx.wecom.addContactWay(way);
  await ChannelRecord.updateOne(
    { key: channel.key },
    { $set: { name: channel.name, configId: res.config_id, qrCode: res.qr_code, userIds: channel.owners, syncedAt: new Date() } },
    { upsert: true },
  );
  return { key: channel.key, action: 'created', configId: res.config_id, qrCode: res.qr_code };
}
