import type { BotContext } from '../../context.js';
import { WecomApiError } from '../../errors.js';
import { jobIds } from '../../queues/job-ids.js';
import { deleteIfEqual, tryLock } from '../../redis/lock.js';
import { insertManyOnce } from '../../store/create-once.js';
import { KfCursor, KfMessage } from '../../store/models/kf.js';
import type { KfSyncedMessage } from '../../wecom/types.js';

type Ctx = Pick<BotContext, 'wecom' | 'redis' | 'keys' | 'queues' | 'corpId' | 'log'>;

/** A callback token is valid 10 min [D:94670]: keep it a little less. */
const TOKEN_TTL_S = 9 * 60;
/** How long a sync holds its account's lock without renewing it (renewed while it runs): a dead holder frees it then. */
const SYNC_LOCK_MS = 10_000;
/** A sync that found the account busy looks again this much later (covered by then, or the holder died). */
const BUSY_RECHECK_MS = 1_000;

/**
 * A kf_msg_or_event callback asks for a sync of its account: the token is kept as the account's newest (valid
 * 10 min), the account's request counter goes up, and a `kf-sync` job for that request is added. Requests coalesce:
 * a sync covers every request made before it started (runSync).
 */
export async function requestSync(ctx: Pick<BotContext, 'redis' | 'keys' | 'queues'>, openKfid: string, token: string): Promise<number> {
  const [[, n]] = (await ctx.redis.multi().incr(ctx.keys.kfSyncRequested(openKfid)).set(ctx.keys.kfToken(openKfid), token, 'EX', TOKEN_TTL_S).exec()) as [[unknown, number], unknown];
  await ctx.queues.add('kf-sync', { openKfid, n }, { jobId: jobIds.kfSync(openKfid, n) });
  return n;
}

/**
 * Runs the syncs of an account's request `n`, serially per account across every process (docs/architecture.md, "One
 * 客服 message"): a request an earlier sync covered is done at once; otherwise the account's lock, then passes of
 * kf/sync_msg from the stored cursor until a pass starts after the newest request. The lock is renewed while held
 * and freed by a holder's death within SYNC_LOCK_MS; a request that finds the account busy looks again a second
 * later, so nothing waits on a dead holder.
 */
export async function runSync(ctx: Ctx, d: { openKfid: string; n: number }): Promise<{ result: string; deferTo?: number }> {
  const { redis, keys } = ctx;
  const asked = async () => Number(await redis.get(keys.kfSyncRequested(d.openKfid))) || 0;
  let target = d.n;
  let passes = 0;
  for (;;) {
    const done = Number(await redis.get(keys.kfSyncDone(d.openKfid))) || 0;
    if (done >= target) return { result: passes ? `synced:${passes}` : 'covered' };
    const lock = await tryLock(redis, keys.kfSyncLock(d.openKfid), SYNC_LOCK_MS);
    if (!lock) return { result: 'busy', deferTo: Date.now() + BUSY_RECHECK_MS };
    try {
      for (;;) {
        // Everything asked for before this pass starts is in WeCom already: the pass covers it.
        const covering = Math.max(await asked(), target);
        await syncPages(ctx, d.openKfid);
        passes++;
        await redis.set(keys.kfSyncDone(d.openKfid), covering);
        if ((await asked()) <= covering) break;
      }
    } finally {
      await lock.release();
    }
    // A request made between the last check and the release found the lock held: it is ours to cover.
    target = Math.max(target, await asked());
  }
}

/**
 * Pages through kf/sync_msg from the account's stored cursor [D:94670]: while `has_more` is 1 (an empty page with
 * has_more 1 is not the end). Each page: its messages stored (a unique insert per msgid), their handling queued (one
 * job per customer, in order), then the cursor stored — in that order, so a sync killed mid-page fetches the page
 * again and adds nothing twice.
 */
export async function syncPages(ctx: Ctx, openKfid: string): Promise<number> {
  const id = `${ctx.corpId}:${openKfid}`;
  let cursor = (await KfCursor.findById(id, { cursor: 1 }).lean())?.cursor ?? undefined;
  let total = 0;
  for (let page = 0; page < 100_000; page++) {
    const res = await syncOnce(ctx, openKfid, cursor);
    if (res.msg_list.length) {
      await storeMessages(openKfid, res.msg_list);
      await dispatch(ctx, openKfid, res.msg_list);
      total += res.msg_list.length;
    }
    if (res.next_cursor && res.next_cursor !== cursor) {
      cursor = res.next_cursor;
      await KfCursor.updateOne({ _id: id }, { $set: { cursor, at: new Date() } }, { upsert: true });
    }
    if (res.has_more !== 1) break;
  }
  return total;
}

/** One page with the account's newest token; a token WeCom refuses (95007) is dropped and the page asked for without. */
async function syncOnce(ctx: Ctx, openKfid: string, cursor: string | undefined) {
  const token = (await ctx.redis.get(ctx.keys.kfToken(openKfid))) ?? undefined;
  try {
    return await ctx.wecom.kfSyncMsg({ open_kfid: openKfid, ...(cursor ? { cursor } : {}), ...(token ? { token } : {}), limit: 1000 });
  } catch (err) {
    if (!token || !(err instanceof WecomApiError) || err.errcode !== 95007) throw err;
    await deleteIfEqual(ctx.redis, ctx.keys.kfToken(openKfid), token);
    ctx.log.warn({ openKfid }, 'kf/sync_msg: the callback token was refused (95007); syncing without one (rate limited)');
    return ctx.wecom.kfSyncMsg({ open_kfid: openKfid, ...(cursor ? { cursor } : {}), limit: 1000 });
  }
}

/** The customer a message or event is about (events carry it inside `event` [D:94670]). */
export const customerOf = (m: KfSyncedMessage): string | null => m.external_userid ?? m.event?.external_userid ?? null;

/** Stores a page's messages, one document per msgid (a duplicate, from a page fetched again, is no error). */
async function storeMessages(openKfid: string, msgs: KfSyncedMessage[]): Promise<void> {
  const now = new Date();
  const docs = msgs.map((m) => ({ _id: `${openKfid}|${m.msgid}`, openKfid, externalUserId: customerOf(m), origin: m.origin, msgtype: m.msgtype, sendTime: new Date(m.send_time * 1000), raw: m, pending: true, storedAt: now, handledAt: null, outcome: null }));
  await insertManyOnce(KfMessage.collection, docs);
}

/** Queues the handling of a page: one `kf-inbound` job per customer with its messages in order (named by its first). */
async function dispatch(ctx: Pick<BotContext, 'queues'>, openKfid: string, msgs: KfSyncedMessage[]): Promise<void> {
  const groups = new Map<string, KfSyncedMessage[]>();
  for (const m of msgs) {
    const who = customerOf(m) ?? '';
    const list = groups.get(who) ?? [];
    list.push(m);
    groups.set(who, list);
  }
  await ctx.queues.addBulk(
    'kf-inbound',
    [...groups].map(([who, list]) => ({ data: { openKfid, externalUserId: who || null, msgs: list }, opts: { jobId: jobIds.kfInbound(openKfid, list[0]!.msgid) } })),
  );
}
