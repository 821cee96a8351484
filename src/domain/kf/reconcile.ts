import type { BotContext } from '../../context.js';
import { jobIds } from '../../queues/job-ids.js';
import { Lead } from '../../store/models/lead.js';
import { scheduleClock, type KfClock } from './clock.js';
import { pruneKfMessages } from './retention.js';
import { reconcileSetAside } from './set-aside.js';
import { resumeSync, resumeUnfinished, syncedAccounts } from './sync.js';

/** A message whose job Redis lost, or a sync that never ended, is taken up again after this long (it may just be late). */
const PENDING_GRACE_MS = 60_000;

/**
 * Rebuilds from MongoDB the 客服 work Redis lost (a flush, a failover): messages set aside and not yet handled (their
 * customer set aside again, all their pending messages in order, one job: a message handled meanwhile is skipped; and
 * a set-aside customer whose job is gone or failed for good gets a new one: reconcileSetAside), syncs that started
 * long ago and never ended (asked for again: the new sync handles what their pages left without a mark), the alerts
 * of running service clocks, and hand-offs waiting for the service hours; and resumes the syncs asked for that no job
 * will run (a job lost with its process). Deterministic job ids (and one set-aside job per customer, named in Redis)
 * make it harmless while that work is still queued.
 * Then deletes what is past its retention (pruneKfMessages, once an hour). Periodic work, so these queries may scan
 * (docs/architecture.md, "Stores").
 */
export async function reconcileKf(
  ctx: BotContext,
  graceMs = PENDING_GRACE_MS,
): Promise<{ messages: number; setAside: { restored: number; revived: number }; clocks: number; handoffs: number; syncs: number; pruned: { messages: number; marks: number } | null }> {
  const unfinished = await resumeUnfinished(ctx, new Date(Date.now() - graceMs));
  const { messages, restored, revived } = await reconcileSetAside(ctx, new Date(Date.now() - graceMs), await syncedAccounts(ctx));
  let clocks = 0;
  let handoffs = 0;
  const open = { $or: [{ 'kf.clock.id': { $type: 'string' } }, { 'kf.handoffAt': { $type: 'date' } }] };
  for await (const l of Lead.find(open, { corpId: 1, externalUserId: 1, kf: 1 }).lean().cursor({ batchSize: 200 })) {
    const ref = { corpId: l.corpId, externalUserId: l.externalUserId };
    const clock = l.kf?.clock as KfClock | null | undefined;
    if (clock) {
      await scheduleClock(ctx, ref, clock, clock.level >= 1 ? 2 : 1);
      clocks++;
    }
    if (l.kf?.handoffAt && l.kf.openKfid) {
      const at = l.kf.handoffAt.getTime();
      await ctx.queues.add('kf-handoff', { lead: l._id, openKfid: l.kf.openKfid, at }, { jobId: jobIds.kfHandoff(l._id, at), delay: Math.max(0, at - Date.now()) });
      handoffs++;
    }
  }
  const syncs = unfinished + (await resumeSyncs(ctx));
  return { messages, setAside: { restored, revived }, clocks, handoffs, syncs, pruned: await pruneKfMessages(ctx) };
}

/** Accounts whose callbacks asked for a sync that no job will run (lost with its process): a job for each. */
async function resumeSyncs(ctx: BotContext): Promise<number> {
  // Each account's request counter: its key's fixed head and tail around the account.
  const [head, tail] = ctx.keys.kfSyncRequested('\u0000').split('\u0000') as [string, string];
  let cursor = '0';
  let n = 0;
  do {
    const [next, found] = await ctx.redis.scan(cursor, 'MATCH', `${head}*${tail}`, 'COUNT', 1000);
    cursor = next;
    for (const key of found) if (await resumeSync(ctx, key.slice(head.length, key.length - tail.length))) n++;
  } while (cursor !== '0');
  return n;
}
