import type { BotContext } from '../../context.js';
import { jobIds } from '../../queues/job-ids.js';
import { LuaScript } from '../../redis/script.js';
import { clearPending, markPending } from '../../store/kf-handled.js';
import { KfMessage } from '../../store/models/kf.js';
import type { KfSyncedMessage } from '../../wecom/types.js';
import { handleInbound, type InboundBatch } from './inbound.js';

type Ctx = Pick<BotContext, 'redis' | 'keys' | 'queues' | 'log'>;

/**
 * The field of an account's set-aside hash that says the hash holds every customer with `pending` messages: it was
 * built from MongoDB after Redis last lost it (a customer's name is never this).
 */
const COMPLETE = '#complete';

/**
 * Queues a batch behind the customer's set-aside work (KEYS: the account's hash, the customer's list; ARGV: customer,
 * batch, job id). With a job id, a customer with none becomes set aside, handled by that job; without, nothing is
 * queued for a customer with none. Returns the job that handles the customer's set-aside work, or nil.
 */
const QUEUE = new LuaScript(`
local owner = redis.call('HGET', KEYS[1], ARGV[1])
if not owner then
  if ARGV[3] == '' then return false end
  owner = ARGV[3]
  redis.call('HSET', KEYS[1], ARGV[1], owner)
end
redis.call('RPUSH', KEYS[2], ARGV[2])
return owner`);

/**
 * Sets a customer aside with messages found `pending` (their work lost from Redis), at the head of their queue, unless
 * they are set aside already (KEYS as QUEUE; ARGV: customer, batch, job id). Returns 1 when it did.
 */
const RESTORE = new LuaScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('LPUSH', KEYS[2], ARGV[2])
return 1`);

/**
 * A job starts on a customer's set-aside work (KEYS as QUEUE; ARGV: customer, job id, the job's batch): 1 when the work
 * is its own (a customer with no job takes it, its batch first); 0 when another job has it (its batch queued behind).
 */
const CLAIM = new LuaScript(`
local owner = redis.call('HGET', KEYS[1], ARGV[1])
if owner == ARGV[2] then return 1 end
if not owner then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('LPUSH', KEYS[2], ARGV[3])
  return 1
end
redis.call('RPUSH', KEYS[2], ARGV[3])
return 0`);

/** The job's customer goes back to the sync's path when nothing is queued (KEYS as QUEUE; ARGV: customer, job id). */
const RELEASE = new LuaScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return -1 end
if redis.call('LLEN', KEYS[2]) > 0 then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1`);

/** Hands a customer's set-aside work from a job that is gone to a new one (KEYS[1]: the hash; ARGV: customer, old, new). */
const HAND_OVER = new LuaScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1`);

const keysOf = (ctx: Pick<BotContext, 'keys'>, openKfid: string, who: string) => [ctx.keys.kfSetAside(openKfid), ctx.keys.kfSetAsideQueue(openKfid, who)];
const customer = (b: InboundBatch) => b.externalUserId ?? '';
const ids = (msgs: readonly KfSyncedMessage[]) => msgs.map((m) => m.msgid);

/**
 * Which of `customers` ('' for messages about no customer) have set-aside work not yet handled: their later messages
 * must queue behind it (docs/architecture.md, "One 客服 message"). One Redis read for a sync page. When Redis lost the
 * account's hash, it is built again first from the messages MongoDB holds `pending` (the caller holds the account's
 * sync lock, the only place a customer is set aside), so no later message passes them.
 */
export async function setAsideAmong(ctx: Ctx, openKfid: string, customers: readonly string[]): Promise<Set<string>> {
  const key = ctx.keys.kfSetAside(openKfid);
  let got = await ctx.redis.hmget(key, COMPLETE, ...customers);
  if (got[0] === null) {
    await restorePending(ctx, await KfMessage.find({ openKfid, pending: true }, { openKfid: 1, externalUserId: 1, raw: 1, sendTime: 1 }).lean());
    await ctx.redis.hset(key, COMPLETE, new Date().toISOString());
    got = await ctx.redis.hmget(key, COMPLETE, ...customers);
  }
  return new Set(customers.filter((_, i) => got[i + 1] !== null));
}

/**
 * A customer's batch whose handling failed: its messages marked `pending` (what the reconciler finds if Redis loses
 * the rest), then queued as the customer's set-aside work, handled in order by one `kf-inbound` job (retried with
 * back-off). The customer's later messages queue behind it (queueBehind) until that job has handled everything queued.
 */
export async function setAside(ctx: Ctx, b: InboundBatch): Promise<void> {
  await markPending(b.openKfid, ids(b.msgs));
  const owner = (await QUEUE.run(ctx.redis, keysOf(ctx, b.openKfid, customer(b)), [customer(b), JSON.stringify(b.msgs), jobIds.kfInbound(b.openKfid, b.msgs[0]!.msgid, Date.now())])) as string;
  await ensureJob(ctx, b, owner);
}

/**
 * Queues a batch behind its customer's set-aside work, if they still have some; false when they have none (their job
 * finished meanwhile): the batch is then the caller's to handle.
 */
export async function queueBehind(ctx: Ctx, b: InboundBatch): Promise<boolean> {
  // Pending first: once queued, the job may handle them at once (and unmark them).
  await markPending(b.openKfid, ids(b.msgs));
  const owner = (await QUEUE.run(ctx.redis, keysOf(ctx, b.openKfid, customer(b)), [customer(b), JSON.stringify(b.msgs), ''])) as string | null;
  if (owner === null) {
    await clearPending(b.openKfid, ids(b.msgs));
    return false;
  }
  await ensureJob(ctx, b, owner);
  return true;
}

/** Adds the job that handles a customer's set-aside work, unless it exists (then its own data stands). */
async function ensureJob(ctx: Ctx, b: InboundBatch, jobId: string): Promise<void> {
  await ctx.queues.add('kf-inbound', b, { jobId });
}

/**
 * A `kf-inbound` job: the customer's set-aside work, batch after batch in the order queued, each message once (marks),
 * each batch unmarked `pending` and taken off the queue once handled. When the queue is empty the customer goes back to
 * the sync's path, in the same step as the check, so nothing queued meanwhile is left behind. A failure leaves the
 * batch at the head, for the job's retry. A job whose customer's work another job has (the reconciler handed it over,
 * or a job from before the queue existed) queues its batch there and ends.
 */
export async function drainSetAside(ctx: BotContext, d: InboundBatch, jobId: string, lastAttempt: boolean): Promise<string[]> {
  const who = customer(d);
  const keys = keysOf(ctx, d.openKfid, who);
  if (!(await CLAIM.run(ctx.redis, keys, [who, jobId, JSON.stringify(d.msgs)]))) return ['queued_behind_another_job'];
  const out: string[] = [];
  // The job's last attempt gives up only on the batch that has failed before (the head when it began): a batch queued
  // behind it meanwhile gets attempts of its own (the job's next run, or the reconciler's).
  let first = true;
  for (;;) {
    const head = await ctx.redis.lindex(keys[1]!, 0);
    if (head === null) {
      const released = (await RELEASE.run(ctx.redis, keys, [who, jobId])) as number;
      if (released !== 0) return out;
      continue;
    }
    const msgs = JSON.parse(head) as KfSyncedMessage[];
    out.push(...(await handleInbound(ctx, { openKfid: d.openKfid, externalUserId: d.externalUserId, msgs }, lastAttempt && first)));
    first = false;
    await clearPending(d.openKfid, ids(msgs));
    await ctx.redis.lrem(keys[1]!, 1, head);
  }
}

/** Whether a servicer's reply (origin 5) sent since `since` waits in the customer's set-aside queue (usually empty). */
export async function replyQueuedBehind(ctx: Pick<BotContext, 'redis' | 'keys'>, openKfid: string, externalUserId: string, since: Date): Promise<boolean> {
  const batches = await ctx.redis.lrange(ctx.keys.kfSetAsideQueue(openKfid, externalUserId), 0, -1);
  return batches.some((b) => (JSON.parse(b) as KfSyncedMessage[]).some((m) => m.origin === 5 && m.send_time * 1000 >= since.getTime() - 999));
}

interface PendingDoc {
  openKfid: string;
  externalUserId?: string | null;
  raw?: unknown;
  sendTime: Date;
}

/**
 * Sets aside again, in send-time order, the `pending` messages of each customer who is not set aside (Redis lost their
 * work): one job each. Messages handled meanwhile are skipped by their marks. Returns the customers set aside.
 */
async function restorePending(ctx: Ctx, pending: readonly PendingDoc[]): Promise<number> {
  const byCustomer = new Map<string, { openKfid: string; who: string; docs: PendingDoc[] }>();
  for (const p of pending) {
    if (!(p.raw as KfSyncedMessage | null)?.msgid) continue;
    const who = p.externalUserId ?? '';
    const k = `${p.openKfid}|${who}`;
    const g = byCustomer.get(k) ?? { openKfid: p.openKfid, who, docs: [] };
    g.docs.push(p);
    byCustomer.set(k, g);
  }
  let n = 0;
  for (const g of byCustomer.values()) {
    const msgs = g.docs.sort((a, b) => a.sendTime.getTime() - b.sendTime.getTime()).map((p) => p.raw as KfSyncedMessage);
    const b: InboundBatch = { openKfid: g.openKfid, externalUserId: g.who || null, msgs };
    const jobId = jobIds.kfInbound(g.openKfid, msgs[0]!.msgid, Date.now());
    if (!(await RESTORE.run(ctx.redis, keysOf(ctx, g.openKfid, g.who), [g.who, JSON.stringify(msgs), jobId]))) continue;
    ctx.log.warn({ openKfid: g.openKfid, externalUserId: g.who, messages: msgs.length }, 'kf messages pending with no set-aside work in Redis; set aside again');
    await ensureJob(ctx, b, jobId);
    n++;
  }
  return n;
}

/**
 * The reconciler's part (docs/architecture.md, "One 客服 message"): the customers with `pending` messages stored before
 * `before` and no set-aside work in Redis are set aside again (all their pending messages, in send-time order), and each
 * account's set-aside customers whose job is gone (lost with Redis) or failed for good get a new job, which goes on
 * from the head of their queue. Periodic work: the query may scan. Returns the pending messages past the grace, the
 * customers set aside again and the jobs made anew.
 */
export async function reconcileSetAside(ctx: Ctx, before: Date, accounts: readonly string[]): Promise<{ messages: number; restored: number; revived: number }> {
  const pending = await KfMessage.find({ pending: true }, { openKfid: 1, externalUserId: 1, raw: 1, sendTime: 1, storedAt: 1 }).lean();
  const overdue = pending.filter((p) => p.storedAt < before);
  const late = new Set(overdue.map((p) => `${p.openKfid}|${p.externalUserId ?? ''}`));
  const restored = await restorePending(ctx, pending.filter((p) => late.has(`${p.openKfid}|${p.externalUserId ?? ''}`)));
  let revived = 0;
  const queue = ctx.queues.get('kf-inbound');
  for (const openKfid of accounts) {
    const held = await ctx.redis.hgetall(ctx.keys.kfSetAside(openKfid));
    for (const [who, owner] of Object.entries(held)) {
      if (who === COMPLETE) continue;
      const job = await queue.getJob(owner);
      const state = job ? await job.getState() : 'gone';
      if (!['gone', 'failed', 'completed', 'unknown'].includes(state)) continue;
      const keys = keysOf(ctx, openKfid, who);
      const head = await ctx.redis.lindex(keys[1]!, 0);
      const msgs = head ? (JSON.parse(head) as KfSyncedMessage[]) : [];
      const jobId = jobIds.kfInbound(openKfid, msgs[0]?.msgid ?? 'none', Date.now());
      if (!(await HAND_OVER.run(ctx.redis, [keys[0]!], [who, owner, jobId]))) continue;
      ctx.log.warn({ openKfid, externalUserId: who, job: owner, state }, 'kf set-aside messages: their job is gone or failed for good; a new one takes them');
      await ensureJob(ctx, { openKfid, externalUserId: who || null, msgs }, jobId);
      revived++;
    }
  }
  return { messages: overdue.length, restored, revived };
}
