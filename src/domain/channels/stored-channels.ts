import { DEFAULT_TAG_GROUP, ORGANIC_KEY, type Channel } from '../../content/channels.js';
import type { BotContext } from '../../context.js';
import { createOnce } from '../../store/create-once.js';
import { ChannelRecord } from '../../store/models/channel-record.js';

/** A channel key: the 联系我 code's `state`, at most 30 characters [D:92228] (the same rule as channels.yaml). */
export const CHANNEL_KEY = /^[A-Za-z0-9_-]{1,30}$/;

/** How long a channel key claimed by a command may wait for its 联系我 code before the claim counts as abandoned. */
const STALE_CLAIM_MS = 10 * 60_000;

/** A channel created by command as the catalog holds it: tagged with its name in the group 渠道, no welcome or sequence. */
function asChannel(r: { key: string; name: string; userIds?: string[] | null }): Channel {
  return { key: r.key, name: r.name, tags: [{ group: DEFAULT_TAG_GROUP, name: [...r.name].slice(0, 30).join('') }], owners: [...(r.userIds ?? [])] };
}

/** The channels created by command (MongoDB), for the catalog of every process. */
export async function loadStoredChannels(): Promise<Channel[]> {
  const rows = await ChannelRecord.find({ source: 'command', configId: { $ne: null } }, { key: 1, name: 1, userIds: 1 }).lean();
  return rows.map(asChannel);
}

/** What creating a channel gave. */
export type CreateChannelResult =
  | { kind: 'created'; channel: Channel; configId: string; qrCode: string | null }
  | { kind: 'exists'; qrCode: string | null; fromTemplates: boolean };

/**
 * Creates a channel from a chat command: its 联系我 QR code (scene 2, `state` = key) for its owners [D:92228], and the
 * channel itself, stored so it attributes new contacts in every process. The key is claimed first (a unique insert),
 * so two commands for one key never create two codes; if WeCom refuses, the claim is given back.
 */
export async function createChannel(ctx: Pick<BotContext, 'channels' | 'wecom'>, c: { key: string; name: string; owners: string[]; by: string }): Promise<CreateChannelResult> {
  const known = ctx.channels.get(c.key);
  if (known || c.key === ORGANIC_KEY) {
    const rec = await ChannelRecord.findOne({ key: c.key }, { qrCode: 1 }).lean();
    return { kind: 'exists', qrCode: rec?.qrCode ?? null, fromTemplates: ctx.channels.isTemplate(c.key) };
  }
  const claim = () => createOnce(ChannelRecord, { key: c.key, name: c.name, userIds: c.owners, source: 'command', createdBy: c.by, configId: null });
  let claimed = await claim();
  if (!claimed) {
    // A claim whose creator died before WeCom answered (no code after minutes) is given back, once.
    const stale = await ChannelRecord.deleteOne({ key: c.key, source: 'command', configId: null, createdAt: { $lt: new Date(Date.now() - STALE_CLAIM_MS) } });
    if (stale.deletedCount) claimed = await claim();
  }
  if (!claimed) {
    const rec = await ChannelRecord.findOne({ key: c.key }, { qrCode: 1, source: 1 }).lean();
    return { kind: 'exists', qrCode: rec?.qrCode ?? null, fromTemplates: rec?.source !== 'command' };
  }
  let res;
  try {
    res = await ctx.wecom.addContactWay({
      type: c.owners.length > 1 ? 2 : 1,
      scene: 2,
      state: c.key,
      user: c.owners,
      skip_verify: true,
      remark: [...c.name].slice(0, 30).join(''),
    });
  } catch (err) {
    await ChannelRecord.deleteOne({ _id: claimed._id });
    throw err;
  }
  await ChannelRecord.updateOne({ _id: claimed._id }, { $set: { configId: res.config_id, qrCode: res.qr_code ?? null, syncedAt: new Date() } });
  const channel = asChannel({ key: c.key, name: c.name, userIds: c.owners });
  ctx.channels.addStored([channel]);
  return { kind: 'created', channel, configId: res.config_id, qrCode: res.qr_code ?? null };
}
