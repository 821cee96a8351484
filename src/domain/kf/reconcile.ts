import type { BotContext } from '../../context.js';
import { jobIds } from '../../queues/job-ids.js';
import { KfMessage } from '../../store/models/kf.js';
import { Lead } from '../../store/models/lead.js';
import type { KfSyncedMessage } from '../../wecom/types.js';
import { scheduleClock, type KfClock } from './clock.js';
import { pruneKfMessages } from './retention.js';
import { resumeSync, resumeUnfinished } from './sync.js';

/** A message whose job Redis lost, or a sync that never ended, is taken up again after this long (it may just be late). */
const PENDING_GRACE_MS = 60_000;

/**
 * Rebuilds from MongoDB the 客服 work Redis lost (a flush, a failover): messages set aside in jobs of their own and
 * not yet handled (queued again, one job per message: a message handled meanwhile is skipped), syncs that started
 * long ago and never ended (asked for again: the new sync handles what their pages left without a mark), the alerts
 * of running service clocks, and hand-offs waiting for the service hours; and resumes the syncs asked for that no job
 * will run (a job lost with its process). Deterministic job ids make it harmless while that work is still queued.
 * Then deletes what is past its retention (pruneKfMessages, once an hour). Periodic work, so these queries may scan
 * (docs/architecture.md, "Stores").
 */
export async function reconcileKf(ctx: BotContext, graceMs = PENDING_GRACE_MS): Promise<{ messages: number; clocks: number; handoffs: number; syncs: number; pruned: { messages: number; marks: number } | null }> {
  const unfinished = await resumeUnfinished(ctx, new Date(Date.now() - graceMs));
  const pending = await KfMessage.find({ pending: true, storedAt: { $lt: new Date(Date.now() - graceMs) } }, { openKfid: 1, externalUserId: 1, raw: 1, sendTime: 1 }).sort({ sendTime: 1 }).lean();
  for (const p of pending) {
    const m = p.raw as KfSyncedMessage | null;
    if (!m?.msgid) continue;
    await ctx.queues.add('kf-inbound', { openKfid: p.openKfid, externalUserId: p.externalUserId ?? null, msgs: [m] }, { jobId: jobIds.kfInbound(p.openKfid, m.msgid) });
  }
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
  return { messages: pending.length, clocks, handoffs, syncs, pruned: await pruneKfMessages(ctx) };
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
