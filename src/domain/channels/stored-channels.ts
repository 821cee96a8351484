import { DEFAULT_TAG_GROUP, ORGANIC_KEY, type Channel } from '../../content/channels.js';
import type { BotContext } from '../../context.js';
import type { ContactWay } from '../../wecom/types.js';
import { WecomApiError } from '../../errors.js';
import { withLock } from '../../redis/lock.js';
import { createOnce } from '../../store/create-once.js';
import { ChannelRecord } from '../../store/models/channel-record.js';
import { clipChars } from '../../text-bytes.js';

/** A channel key: the 联系我 code's `state`, at most 30 characters [D:92228] (the same rule as channels.yaml). */
export const CHANNEL_KEY = /^[A-Za-z0-9_-]{1,30}$/;

/** A 联系我 code's remark: at most 30 characters [D:92228] (the channel's name, cut). */
export const REMARK_CHARS = 30;

/** How long a command waits for the WeCom client's rate limit before add_contact_way counts as not made. */
const QUOTA_WAIT_MS = 10_000;
/** Margin around the claim's time when looking for the code an earlier attempt made (clocks differ a little). */
const CLOCK_MARGIN_S = 120;
/** list_contact_way's span when none is given is the last 90 days [D:92228]: no longer one is asked for. */
const LIST_SPAN_S = 90 * 86_400 - CLOCK_MARGIN_S;

/** A channel created by command as the catalog holds it: tagged with its name in the group 渠道, no welcome or sequence. */
function asChannel(r: { key: string; name: string; userIds?: string[] | null }): Channel {
  return { key: r.key, name: r.name, tags: [{ group: DEFAULT_TAG_GROUP, name: clipChars(r.name, 30) }], owners: [...(r.userIds ?? [])] };
}

/** The channels created by command (MongoDB), for the catalog of every process. */
export async function loadStoredChannels(): Promise<Channel[]> {
  const rows = await ChannelRecord.find({ source: 'command', configId: { $ne: null } }, { key: 1, name: 1, userIds: 1 }).lean();
  return rows.map(asChannel);
}

/** What creating a channel gave. */
export type CreateChannelResult =
  /** Made now, or `completed`: the code an earlier attempt made, found in WeCom and stored (no second code). */
  | { kind: 'created'; channel: Channel; configId: string; qrCode: string | null; completed: boolean }
  | { kind: 'exists'; qrCode: string | null; fromTemplates: boolean }
  /** WeCom did not answer whether it made the code (timeout, lost connection): the same command again settles it. */
  | { kind: 'unknown' }
  /** WeCom made the code but the database did not take the channel: the same command again completes it. */
  | { kind: 'unsaved'; configId: string }
  /**
   * WeCom refused an owner it does not know (OWNER_NOT_FOUND): no code, no channel, the key free again. `unknown`: the
   * owners not among the members with 客户联系 [D:92571]; null when that list could not be read.
   */
  | { kind: 'unknown_owner'; errcode: number; unknown: string[] | null };

/**
 * add_contact_way's answers for a userid the corp does not have: 60111 "userid not found", 40003 "invalid userid"
 * (the global table [D:90313]: a userid must exist in the directory). WeCom's answer does not say which owner.
 */
const OWNER_NOT_FOUND = new Set([60111, 40003]);

type Ctx = Pick<BotContext, 'channels' | 'wecom' | 'redis' | 'keys' | 'log'>;

/**
 * Creates a channel from a chat command: its 联系我 QR code (scene 2, `state` = key) for its owners [D:92228], and the
 * channel itself, stored so it attributes new contacts in every process. Never two codes for one key:
 *
 * 1. Under a Redis lock per key (one attempt at a time), the key is claimed with a unique insert: a pending record
 *    (configId null), before WeCom is called.
 * 2. add_contact_way is called once (`retries: 0`: the client retrying an ambiguous failure could make a second
 *    code). A clear failure (WeCom refused, or nothing was sent) gives the claim back; an ambiguous one (timeout, lost
 *    connection) keeps it and answers `unknown`.
 * 3. The code's config_id and qr_code complete the record. A database that fails then leaves the claim pending and
 *    answers `unsaved`: the code is not deleted (a write that timed out may have been applied, and would then name a
 *    deleted code).
 * 4. An attempt that finds a pending claim (an earlier one answered `unknown` or `unsaved`, or died) first looks in
 *    WeCom for a code with this state made since the claim (list_contact_way, get_contact_way): found, it completes
 *    the record with it; not found, it makes the code. So the same command sent again completes rather than creates.
 */
export async function createChannel(ctx: Ctx, c: { key: string; name: string; owners: string[]; by: string }): Promise<CreateChannelResult> {
  const known = ctx.channels.get(c.key);
  if (known || c.key === ORGANIC_KEY) {
    const rec = await ChannelRecord.findOne({ key: c.key }, { qrCode: 1 }).lean();
    return { kind: 'exists', qrCode: rec?.qrCode ?? null, fromTemplates: ctx.channels.isTemplate(c.key) };
  }
  // Renewed while held, so a slow database does not let a second attempt in; a holder that dies frees it in 15 s.
  return withLock(ctx.redis, ctx.keys.channelCreateLock(c.key), () => createLocked(ctx, c), { ttlMs: 15_000, waitMs: 30_000 });
}

async function createLocked(ctx: Ctx, c: { key: string; name: string; owners: string[]; by: string }): Promise<CreateChannelResult> {
  const claim = await createOnce(ChannelRecord, { key: c.key, name: c.name, userIds: c.owners, source: 'command', createdBy: c.by, configId: null });
  let claimId: unknown = claim?._id;
  if (!claim) {
    const rec = await ChannelRecord.findOne({ key: c.key }).lean();
    if (!rec || rec.source !== 'command' || rec.configId) return { kind: 'exists', qrCode: rec?.qrCode ?? null, fromTemplates: Boolean(rec && rec.source !== 'command') };
    // A pending claim, and no other attempt runs (the lock): an earlier attempt did not finish.
    const made = await findCodeOf(ctx, c.key, rec.createdAt ?? new Date(0));
    if (made) return complete(ctx, rec._id, c, made, true);
    await ChannelRecord.updateOne({ _id: rec._id }, { $set: { name: c.name, userIds: c.owners, createdBy: c.by } });
    claimId = rec._id;
  }
  let res;
  try {
    res = await ctx.wecom.addContactWay(
      { type: c.owners.length > 1 ? 2 : 1, scene: 2, state: c.key, user: c.owners, skip_verify: true, remark: clipChars(c.name, REMARK_CHARS) },
      { retries: 0, quotaWaitMs: QUOTA_WAIT_MS },
    );
  } catch (err) {
    if (err instanceof WecomApiError && err.ambiguous) {
      ctx.log.warn({ channel: c.key, err: err.message }, 'add_contact_way may or may not have made the code; the claim is kept for the next attempt to settle');
      return { kind: 'unknown' };
    }
    // No code made (WeCom refused, or the call was never sent): the key is free again. A claim the database keeps
    // anyway is settled by the next attempt (it finds no code, and makes one).
    await ChannelRecord.deleteOne({ _id: claimId }).catch(() => undefined);
    if (err instanceof WecomApiError && OWNER_NOT_FOUND.has(err.errcode)) {
      const unknown = await ownersUnknown(ctx, c.owners);
      ctx.log.info({ channel: c.key, errcode: err.errcode, owners: c.owners, unknown }, 'add_contact_way refused an owner WeCom does not know: no channel made');
      return { kind: 'unknown_owner', errcode: err.errcode, unknown };
    }
    throw err;
  }
  const made = { configId: res.config_id, qrCode: res.qr_code ?? null, owners: c.owners };
  try {
    return await complete(ctx, claimId, c, made, false);
  } catch (err) {
    ctx.log.error({ channel: c.key, configId: res.config_id, err: (err as Error).message }, 'the 联系我 code was made but the channel not stored; the same command again completes it');
    return { kind: 'unsaved', configId: res.config_id };
  }
}

/**
 * Which of the owners WeCom does not know: the only one, or those not among the members with 客户联系
 * (get_follow_user_list [D:92571], the members a 联系我 code can be made for [D:92228]). Null when that cannot be told.
 */
async function ownersUnknown(ctx: Pick<BotContext, 'wecom' | 'log'>, owners: readonly string[]): Promise<string[] | null> {
  if (owners.length === 1) return [...owners];
  try {
    const { follow_user: members } = await ctx.wecom.getFollowUserList();
    const known = new Set(members ?? []);
    const unknown = owners.filter((o) => !known.has(o));
    return unknown.length ? unknown : null;
  } catch (err) {
    ctx.log.warn({ owners, err: (err as Error).message }, 'get_follow_user_list failed: the unknown owner cannot be named');
    return null;
  }
}

/** Stores the code in the claimed record and adds the channel to this process's catalog. */
async function complete(ctx: Ctx, id: unknown, c: { key: string; name: string }, made: { configId: string; qrCode: string | null; owners: string[] }, completed: boolean): Promise<CreateChannelResult> {
  await ChannelRecord.updateOne(
    { _id: id },
    { $set: { name: c.name, userIds: made.owners, configId: made.configId, qrCode: made.qrCode, wayType: made.owners.length > 1 ? 2 : 1, syncedAt: new Date() } },
  );
  const channel = asChannel({ key: c.key, name: c.name, userIds: made.owners });
  ctx.channels.addStored([channel]);
  return { kind: 'created', channel, configId: made.configId, qrCode: made.qrCode, completed };
}

/**
 * add_contact_way for a code that must be made once [D:92228] (channels:sync): never retried blindly by the client,
 * as a retry after a lost answer makes a second code. A call whose answer was lost (timeout, connection) is settled by
 * looking the code up by its state among those made since the call (not `not`, a code the channel had before); a
 * call WeCom clearly refused for now (busy, rate limit) is made again; three calls at most.
 */
export async function addContactWayOnce(ctx: Pick<BotContext, 'wecom'>, way: ContactWay & { state: string }, opts: { not?: string } = {}): Promise<{ config_id: string; qr_code: string | null }> {
  const since = new Date();
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await ctx.wecom.addContactWay(way, { retries: 0 });
      return { config_id: res.config_id, qr_code: res.qr_code ?? null };
    } catch (err) {
      if (!(err instanceof WecomApiError) || !err.retryable || attempt >= 3) throw err;
      if (err.ambiguous) {
        const made = await findCodeOf(ctx, way.state, since);
        if (made && made.configId !== opts.not) return { config_id: made.configId, qr_code: made.qrCode };
      }
      await new Promise((r) => setTimeout(r, 500 * 2 ** (attempt - 1)));
    }
  }
}

/**
 * The 联系我 code with `state` made since `since` (less a margin), if WeCom has one: list_contact_way for that span,
 * then get_contact_way for each, the last listed first [D:92228]. A short list in practice: the codes made since the
 * claim.
 */
async function findCodeOf(ctx: Pick<BotContext, 'wecom'>, state: string, since: Date): Promise<{ configId: string; qrCode: string | null; owners: string[] } | null> {
  const now = Math.floor(Date.now() / 1000);
  const start = Math.max(Math.floor(since.getTime() / 1000) - CLOCK_MARGIN_S, now - LIST_SPAN_S);
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await ctx.wecom.listContactWay({ start_time: start, end_time: now + CLOCK_MARGIN_S, limit: 1000, ...(cursor ? { cursor } : {}) });
    ids.push(...page.contact_way.map((w) => w.config_id));
    cursor = page.next_cursor || undefined;
  } while (cursor);
  for (const id of ids.reverse()) {
    const { contact_way: way } = await ctx.wecom.getContactWay(id);
    if (way.state === state) return { configId: id, qrCode: way.qr_code ?? null, owners: [...(way.user ?? [])] };
  }
  return null;
}
