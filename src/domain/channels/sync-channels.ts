import type { BotContext } from '../../context.js';
import { WecomApiError } from '../../errors.js';
import { ChannelRecord } from '../../store/models/channel-record.js';
import { ORGANIC_KEY, type Channel } from '../../content/channels.js';
import { clipChars } from '../../text-bytes.js';
import { addContactWayOnce, REMARK_CHARS } from './stored-channels.js';

/** What `channels:sync` did for one channel. */
export interface ChannelSyncResult {
  key: string;
  /**
   * `replaced`: a new code, because the old one's kind (单人 / 多人) cannot change; the old one still works. `failed`:
   * WeCom refused the channel (or did not answer), said in `reason`; the other channels are synced all the same.
   */
  action: 'created' | 'updated' | 'replaced' | 'skipped' | 'failed';
  configId?: string;
  qrCode?: string;
  reason?: string;
  /** The channel's 微信客服 link, when it declares one (kf/add_contact_way [D:94665]). */
  kfUrl?: string;
}

/** UNCONFIRMED: the errcode update_contact_way answers for a config_id that no longer exists; we then re-create. */
const CONFIG_GONE = new Set([41044, 40058]);

/**
 * Creates or updates each channel's 联系我 QR code (scene 2, state = channel key) [D:92228], resolving its tags
 * to ids first (creating missing ones), and stores config_id and qr_code in MongoDB.
 */
export async function syncChannels(ctx: Pick<BotContext, 'channels' | 'wecom' | 'tags'>): Promise<ChannelSyncResult[]> {
  const results: ChannelSyncResult[] = [];
  let accounts: Array<{ open_kfid: string; name: string }> | null = null;
  for (const channel of ctx.channels.all()) {
    if (channel.key === ORGANIC_KEY) continue; // organic is where contacts without a code land: it has no code
    if (!ctx.channels.isTemplate(channel.key)) continue; // created by a chat command, with its code: not ours to change
    // One channel WeCom refuses (e.g. an owner it does not know) is reported as such; the next ones are still synced,
    // and the codes made before it (a `replaced` one must be printed anew) are still listed.
    let result: ChannelSyncResult;
    try {
      await ctx.tags.resolve(channel.tags);
      result = channel.owners.length
        ? await syncOne(ctx, channel)
        : { key: channel.key, action: 'skipped', reason: 'no owners: a 联系我 code needs at least one member' };
    } catch (err) {
      if (!(err instanceof WecomApiError)) throw err;
      result = { key: channel.key, action: 'failed', reason: err.message };
    }
    if (channel.kf) {
      let kfResult: { url?: string; reason?: string };
      try {
        accounts ??= (await ctx.wecom.kfAccountList({ limit: 100 })).account_list;
        kfResult = await syncKfLink(ctx, channel, accounts);
      } catch (err) {
        if (!(err instanceof WecomApiError)) throw err;
        kfResult = { reason: `微信客服 link not made: ${err.message}` };
      }
      Object.assign(result, kfResult.url ? { kfUrl: kfResult.url } : { reason: [result.reason, kfResult.reason].filter(Boolean).join('; ') });
    }
    results.push(result);
  }
  return results;
}

/**
 * Creates the channel's 微信客服 link (kf/add_contact_way [D:94665]) on its account (an open_kfid or an account's name;
 * default the first account the app manages) with its scene (default the channel key), and stores it. A customer who
 * enters by it arrives with that scene in enter_session, which attributes them to the channel. The link is made
 * anew at each sync (WeCom keeps no list of them); an old one keeps working, with the same scene.
 */
async function syncKfLink(ctx: Pick<BotContext, 'wecom'>, channel: Channel, accounts: Array<{ open_kfid: string; name: string }>): Promise<{ url?: string; reason?: string }> {
  const wanted = channel.kf!.account;
  const account = wanted ? accounts.find((a) => a.open_kfid === wanted || a.name === wanted) : accounts[0];
  if (!account) return { reason: wanted ? `no 微信客服 account "${wanted}" managed by this app` : 'no 微信客服 account managed by this app' };
  const { url } = await ctx.wecom.kfAddContactWay({ open_kfid: account.open_kfid, scene: channel.kf!.scene ?? channel.key });
  await ChannelRecord.updateOne({ key: channel.key }, { $set: { name: channel.name, kfOpenKfid: account.open_kfid, kfUrl: url, syncedAt: new Date() } }, { upsert: true });
  return { url };
}

/** A 联系我 code's kind for its members: 单人 (type 1) for one, 多人 (type 2) for several [D:92228]. */
const typeFor = (members: readonly string[]) => (members.length > 1 ? (2 as const) : (1 as const));

async function syncOne(ctx: Pick<BotContext, 'wecom'>, channel: Channel): Promise<ChannelSyncResult> {
  const way = {
    type: typeFor(channel.owners),
    scene: 2 as const,
    state: channel.key,
    user: channel.owners,
    skip_verify: true,
    remark: clipChars(channel.name, REMARK_CHARS),
  };
  const existing = await ChannelRecord.findOne({ key: channel.key }).lean();
  // A code's type is fixed once made (update_contact_way changes members, not type) and a 单人 code takes one member
  // [D:92228]: a channel whose one owner becomes several needs a new code. A 多人 code may keep a single member, so
  // the way back is an update. (A code stored before its type was kept: guessed from its members.)
  const madeAs = existing?.wayType ?? (existing?.userIds.length ? typeFor(existing.userIds) : null);
  const typeChanged = Boolean(existing?.configId && madeAs === 1 && way.type === 2);
  if (existing?.configId && !typeChanged) {
    try {
      const { type: _type, scene: _scene, ...changes } = way;
      await ctx.wecom.updateContactWay({ config_id: existing.configId, ...changes });
      // The type is kept from the first update on (guessed right for a code stored before: the sync then always made a
      // new code across the type line), so a 多人 code later down to one member is not taken for a 单人 one.
      await ChannelRecord.updateOne({ key: channel.key }, { $set: { name: channel.name, userIds: channel.owners, syncedAt: new Date(), ...(madeAs ? { wayType: madeAs } : {}) } });
      return { key: channel.key, action: 'updated', configId: existing.configId, qrCode: existing.qrCode ?? undefined };
    } catch (err) {
      if (!(err instanceof WecomApiError) || !CONFIG_GONE.has(err.errcode)) throw err;
    }
  }
  // Made once: a call whose answer was lost is settled by the code's state, not made again (stored-channels.ts).
  const made = await addContactWayOnce(ctx, way, { not: existing?.configId ?? undefined });
  const res = { config_id: made.config_id, qr_code: made.qr_code ?? undefined };
  await ChannelRecord.updateOne(
    { key: channel.key },
    { $set: { name: channel.name, configId: res.config_id, qrCode: res.qr_code, userIds: channel.owners, wayType: way.type, syncedAt: new Date() }, ...(typeChanged ? { $push: { retiredConfigIds: existing!.configId! } } : {}) },
    { upsert: true },
  );
  if (!typeChanged) return { key: channel.key, action: 'created', configId: res.config_id, qrCode: res.qr_code };
  // The old code is left live: copies of it may be printed, and a customer who scans one is still attributed to this
  // channel (same state), added to its old members. Ops replace the printed copies (docs/ops-guide.md).
  return {
    key: channel.key,
    action: 'replaced',
    configId: res.config_id,
    qrCode: res.qr_code,
    reason: `a one-owner (单人) code cannot take more owners: print this new code; the old one (config_id=${existing!.configId}, qr_code=${existing!.qrCode ?? '?'}) still works for this channel but adds customers to ${existing!.userIds.join(', ')}`,
  };
}
