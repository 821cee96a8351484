import type { BotContext } from '../../context.js';
import { WecomApiError } from '../../errors.js';
import { GroupCommit } from '../../group-commit.js';
import { jobIds } from '../../queues/job-ids.js';
import { deleteIfEqual, tryLock } from '../../redis/lock.js';
import { recordRequestsDone } from '../../redis/requests-done.js';
import { insertManyOnce } from '../../store/create-once.js';
import { KfCursor, KfMessage, kfMessageId } from '../../store/models/kf.js';
import type { KfSyncedMessage } from '../../wecom/types.js';
import { customerOf } from './inbound.js';
import { PagePipeline } from './page-pipeline.js';

/** A callback token is valid 10 min [D:94670]: keep it a little less. */
const TOKEN_TTL_S = 9 * 60;
/** How long a sync holds its account's lock without renewing it (renewed while it runs): a dead holder frees it then. */
const SYNC_LOCK_MS = 10_000;
/**
 * A sync that found the account busy looks again this much later (covered by then, or the holder died). It is the
 * account's one waiting job, so a short wait costs little, and it bounds how long a request made just after the
 * holder's last look waits.
 */
const BUSY_RECHECK_MS = 200;
/** How long a waiting sync job's mark lasts: past it, a callback adds a job of its own again. */
const QUEUED_TTL_MS = 30_000;

type SyncCtx = Pick<BotContext, 'redis' | 'keys' | 'queues'>;

/** A request for a sync: the account, the callback's token (null: the reconciler's request) and, once written, its number. */
interface SyncAsk {
  openKfid: string;
  token: string | null;
  n: number;
}

/** Each bot's requests of the moment, written together (keyed by its queues: one per bot). */
const askWriters = new WeakMap<object, GroupCommit<SyncAsk>>();

/**
 * A kf_msg_or_event callback asks for a sync of its account: the token is kept as the account's newest (valid
 * 10 min), the account's request counter goes up, and a `kf-sync` job is added unless one waits to start already
 * (it will cover this request: a sync covers every request made before it started, runSync). So a burst of callbacks
 * makes one job, not one each. The waiting mark expires after QUEUED_TTL_MS, so a job lost with its process is not
 * waited for longer than that; the reconciler also resumes an account whose requests are ahead of its syncs. The
 * requests of the moment (those made in one turn of the event loop: the callbacks of an inbox read, mostly) are
 * written together: one transaction, one count per account, whose number each of them gets.
 */
export async function requestSync(ctx: SyncCtx, openKfid: string, token: string | null): Promise<number> {
  let writer = askWriters.get(ctx.queues);
  if (!writer) askWriters.set(ctx.queues, (writer = new GroupCommit((asks) => writeAsks(ctx, asks), 1000)));
  const ask: SyncAsk = { openKfid, token, n: 0 };
  await writer.add(ask);
  return ask.n;
}

async function writeAsks(ctx: SyncCtx, asks: SyncAsk[]): Promise<void> {
  const { redis, keys } = ctx;
  // Each account once, with the newest token it was given (a request without one keeps the one before).
  const accounts = new Map<string, string | null>();
  for (const a of asks) accounts.set(a.openKfid, a.token ?? accounts.get(a.openKfid) ?? null);
  const tx = redis.multi();
  for (const [openKfid, token] of accounts) {
    tx.incr(keys.kfSyncRequested(openKfid)).get(keys.kfSyncQueued(openKfid));
    if (token !== null) tx.set(keys.kfToken(openKfid), token, 'EX', TOKEN_TTL_S);
  }
  const res = await tx.exec();
  if (!res) throw new Error('Redis discarded the sync requests (transaction aborted)');
  const failed = res.find(([err]) => err);
  if (failed) throw failed[0];
  const numbers = new Map<string, number>();
  let i = 0;
  const queued: Array<Promise<boolean>> = [];
  for (const [openKfid, token] of accounts) {
    const n = res[i]![1] as number;
    numbers.set(openKfid, n);
    if (res[i + 1]![1] === null) queued.push(queueSync(ctx, openKfid, n));
    i += token !== null ? 3 : 2;
  }
  await Promise.all(queued);
  for (const a of asks) a.n = numbers.get(a.openKfid)!;
}

/** Marks request `n`'s job as the account's waiting one, unless another is marked already; true when it now is. */
async function markWaiting(ctx: Pick<BotContext, 'redis' | 'keys'>, openKfid: string, n: number): Promise<boolean> {
  return (await ctx.redis.set(ctx.keys.kfSyncQueued(openKfid), String(n), 'PX', QUEUED_TTL_MS, 'NX')) !== null;
}

/** Adds the account's waiting sync job, unless another is marked waiting meanwhile; returns whether it added one. */
async function queueSync(ctx: SyncCtx, openKfid: string, n: number, jobId = jobIds.kfSync(openKfid, n)): Promise<boolean> {
  if (!(await markWaiting(ctx, openKfid, n))) return false;
  try {
    await ctx.queues.add('kf-sync', { openKfid, n }, { jobId });
  } catch (err) {
    // No job: the next callback must add one (and this callback's event job is retried).
    await deleteIfEqual(ctx.redis, ctx.keys.kfSyncQueued(openKfid), String(n)).catch(() => undefined);
    throw err;
  }
  return true;
}

/**
 * Runs the syncs of an account's request `n`, serially per account across every process (docs/architecture.md, "One
 * 客服 message"): the job is no longer the waiting one (later callbacks queue the next) and covers every request
 * made until then (those made while it waited relied on it). Requests an earlier sync covered are done at once;
 * otherwise the account's lock, then passes of kf/sync_msg from the stored cursor until a pass starts after the
 * newest request, and until the pages fetched are handled. The lock is renewed while held and freed by a holder's
 * death within SYNC_LOCK_MS. A job that finds the account busy looks again BUSY_RECHECK_MS later as the account's one
 * waiting job; when another waits already, that one will look, and this one ends. At a shutdown the sync fetches no
 * further page: those fetched are handled and their cursor stored, and the job waits a second to go on.
 */
export async function runSync(ctx: BotContext, d: { openKfid: string; n: number }): Promise<{ result: string; deferTo?: number }> {
  const { redis, keys } = ctx;
  await deleteIfEqual(redis, keys.kfSyncQueued(d.openKfid), String(d.n));
  const asked = async () => Number(await redis.get(keys.kfSyncRequested(d.openKfid))) || 0;
  // Read after the mark is gone: every request made while it was set relied on this job, and is covered by it.
  let target = Math.max(d.n, await asked());
  let passes = 0;
  for (;;) {
    const done = Number(await redis.get(keys.kfSyncDone(d.openKfid))) || 0;
    if (done >= target) return { result: passes ? `synced:${passes}` : 'covered' };
    const lock = await tryLock(redis, keys.kfSyncLock(d.openKfid), SYNC_LOCK_MS);
    if (!lock) {
      if (!(await markWaiting(ctx, d.openKfid, d.n))) return { result: 'busy:next_covers' };
      return { result: 'busy', deferTo: Date.now() + BUSY_RECHECK_MS };
    }
    let pipeline: PagePipeline | null = null;
    try {
      pipeline = await openPipeline(ctx, d.openKfid);
      for (;;) {
        // Everything asked for before this pass starts is in WeCom already: the pass covers it.
        const covering = Math.max(await asked(), target);
        if ((await syncPages(ctx, d.openKfid, pipeline)) === 'stopped') {
          // A shutdown: the pages fetched are handled and their cursor stored, then the job waits a second for a worker
          // still running, or the restart, to fetch the rest (its requests are not done yet).
          await pipeline.drain();
          await closePipeline(ctx, d.openKfid, pipeline.startedAt);
          ctx.log.info({ openKfid: d.openKfid, passes }, 'kf sync stopped for the shutdown: it goes on from the stored cursor');
          return { result: 'stopped:shutdown', deferTo: Date.now() + 1000 };
        }
        passes++;
        // Asked again meanwhile, with room to handle more: the next pass fetches while this one's pages are handled.
        // Without room it waits for them, so a busy account's next page gathers more of each customer's messages.
        if (pipeline.hasRoom && (await asked()) > covering) continue;
        await pipeline.drain();
        if (!(await recordRequestsDone(redis, keys.kfSyncRequested(d.openKfid), keys.kfSyncDone(d.openKfid), covering))) {
          // Redis lost the counts during the pass: what is asked now may have come after the pass started. Another
          // pass covers it, counted afresh.
          target = await asked();
          continue;
        }
        if ((await asked()) <= covering) break;
      }
      await closePipeline(ctx, d.openKfid, pipeline.startedAt);
    } catch (err) {
      // Nothing of this sync still runs once its lock is free.
      await pipeline?.settle();
      throw err;
    } finally {
      await lock.release();
    }
    // A request made between the last check and the release found the lock held: it is ours to cover.
    target = Math.max(target, await asked());
  }
}

/** Resumes an account whose requests are ahead of its syncs and that has no waiting job (a job lost with its process). */
export async function resumeSync(ctx: SyncCtx, openKfid: string): Promise<boolean> {
  const [asked, done] = (await ctx.redis.mget(ctx.keys.kfSyncRequested(openKfid), ctx.keys.kfSyncDone(openKfid))).map((v) => Number(v) || 0);
  // A job id of its own: request `asked` may have had a job already, which ended leaving the request to a lost one.
  return asked! > done! && queueSync(ctx, openKfid, asked!, `${jobIds.kfSync(openKfid, asked!)}|resumed|${Date.now()}`);
}

const cursorId = (ctx: Pick<BotContext, 'corpId'>, openKfid: string) => `${ctx.corpId}:${openKfid}`;

/**
 * The account's page pipeline, fetching from its stored cursor and storing each handled page's cursor. The account is
 * marked `syncing` in the same write that reads the cursor: until the sync ends with its pages handled, the messages
 * it stores may wait for nothing in Redis but this sync, and the reconciler resumes a sync left marked.
 */
async function openPipeline(ctx: BotContext, openKfid: string): Promise<PagePipeline> {
  const id = cursorId(ctx, openKfid);
  const startedAt = new Date();
  // No projection: FerretDB 1.x refuses findAndModify's `fields`.
  const before = await KfCursor.findOneAndUpdate({ _id: id }, { $set: { syncing: startedAt } }, { upsert: true }).lean();
  const store = async (cursor: string) => void (await KfCursor.updateOne({ _id: id }, { $set: { cursor, at: new Date() } }, { upsert: true }));
  return new PagePipeline(ctx, openKfid, before?.cursor ?? undefined, store, ctx.config.KF_CONCURRENCY, startedAt);
}

/**
 * The sync that started at `startedAt` ended with every page it fetched handled (or set aside in a job) and the cursor
 * stored behind them. Only its own mark is cleared: a sync that took over meanwhile (this one's lock lost) keeps its.
 */
async function closePipeline(ctx: BotContext, openKfid: string, startedAt: Date): Promise<void> {
  await KfCursor.updateOne({ _id: cursorId(ctx, openKfid), syncing: startedAt }, { $set: { syncing: null } });
}

/**
 * Asks again for a sync of each account whose last sync started before `before`, has not ended and holds no lock (its
 * process died, maybe with messages stored but not handled, and Redis may have lost its request): the new sync pages
 * from the stored cursor and handles what has no mark. A sync still running holds the account's lock, renewed while
 * it runs, and is left alone. One document per account, so the scan is small.
 */
export async function resumeUnfinished(ctx: BotContext, before: Date): Promise<number> {
  const prefix = cursorId(ctx, '');
  let n = 0;
  for (const c of await KfCursor.find({ syncing: { $lt: before } }, { _id: 1 }).lean()) {
    if (!c._id.startsWith(prefix)) continue;
    const openKfid = c._id.slice(prefix.length);
    if (await ctx.redis.exists(ctx.keys.kfSyncLock(openKfid))) continue;
    await requestSync(ctx, openKfid, null);
    n++;
  }
  return n;
}

/** The accounts this corp has synced (each has a cursor document: one per account, so the read is small). */
export async function syncedAccounts(ctx: Pick<BotContext, 'corpId'>): Promise<string[]> {
  const prefix = cursorId(ctx, '');
  return (await KfCursor.find({}, { _id: 1 }).lean()).filter((c) => c._id.startsWith(prefix)).map((c) => c._id.slice(prefix.length));
}

/**
 * Pages through kf/sync_msg from where the pipeline's last page ended [D:94670]: while `has_more` is 1 (an empty page
 * with has_more 1 is not the end). Each page's messages are stored (a unique insert per msgid) and queued on the
 * pipeline, which handles them and stores the cursor once they are handled (PagePipeline): a sync killed mid-page
 * fetches the page again and handles nothing twice. A busier account gets larger pages, so its messages are handled
 * in larger batches (one lead write per customer per page).
 */
export async function syncPages(ctx: BotContext, openKfid: string, pipeline: PagePipeline): Promise<'done' | 'stopped'> {
  for (let page = 0; page < 100_000; page++) {
    // The process is shutting down: no more pages; those fetched are handled and their cursor stored (runSync).
    if (ctx.stopping.aborted) return 'stopped';
    const res = await syncOnce(ctx, openKfid, pipeline.cursor);
    const next = res.next_cursor && res.next_cursor !== pipeline.cursor ? res.next_cursor : null;
    const fresh = res.msg_list.length ? await storeMessages(openKfid, res.msg_list) : new Set<string>();
    await pipeline.add(res.msg_list, fresh, next);
    if (next) pipeline.cursor = next;
    if (res.has_more !== 1) break;
  }
  return 'done';
}

/** One page with the account's newest token; a token WeCom refuses (95007) is dropped and the page asked for without. */
async function syncOnce(ctx: BotContext, openKfid: string, cursor: string | undefined) {
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

/** Stores a page's messages, one document per msgid (a duplicate, from a page fetched again, is no error). Returns the msgids stored now. */
async function storeMessages(openKfid: string, msgs: KfSyncedMessage[]): Promise<Set<string>> {
  const now = new Date();
  const docs = msgs.map((m) => ({ _id: kfMessageId(openKfid, m.msgid), openKfid, externalUserId: customerOf(m), origin: m.origin, msgtype: m.msgtype, sendTime: new Date(m.send_time * 1000), raw: m, storedAt: now }));
  const existed = await insertManyOnce(KfMessage.collection, docs);
  return new Set(msgs.filter((_, i) => !existed.has(i)).map((m) => m.msgid));
}
