import type { BotContext } from '../../context.js';
import { tryLock } from '../../redis/lock.js';
import { sequenceStats } from './sequence-stats.js';

type Ctx = Pick<BotContext, 'redis' | 'keys' | 'sequences' | 'config' | 'log'>;
type Stats = Awaited<ReturnType<typeof sequenceStats>>;
interface Cached {
  asOf: number;
  /** The sequences (keys and step counts) it was computed for: a changed template makes it void. */
  shape: string;
  stats: Stats;
}

const shapeOf = (ctx: Ctx) => [...ctx.sequences.values()].map((s) => `${s.key}:${s.kind}:${s.steps.length}`).join(',');

/**
 * The sequences' step statistics as the dashboard shows them, each with when it was computed (`asOf`).
 *
 * They come from every enrollment's history — a scan, seconds with 100,000 leads on some MongoDB-wire servers
 * (docs/benchmarks-dashboard.md) — so the result is kept in Redis: a copy younger than
 * SEQUENCE_STATS_MAX_AGE_SECONDS is answered at once; an older one is answered too while one process computes the
 * next in the background (stale while it revalidates); with no copy (or sequences changed since) the caller waits
 * for the computation. 0 turns the copy off (every call computes).
 */
export async function cachedSequenceStats(ctx: Ctx): Promise<Array<Stats[number] & { asOf: Date }>> {
  const maxAgeMs = ctx.config.SEQUENCE_STATS_MAX_AGE_SECONDS * 1000;
  const shape = shapeOf(ctx);
  const stamp = (c: { asOf: number; stats: Stats }) => c.stats.map((s) => ({ ...s, asOf: new Date(c.asOf) }));
  if (maxAgeMs === 0) return stamp({ asOf: Date.now(), stats: await sequenceStats(ctx.sequences) });
  const raw = await ctx.redis.get(ctx.keys.sequenceStats());
  const cached = raw ? (JSON.parse(raw) as Cached) : null;
  if (cached && cached.shape === shape) {
    if (Date.now() - cached.asOf > maxAgeMs) void refresh(ctx, shape).catch((err: unknown) => ctx.log.warn({ err }, 'sequence statistics: refresh failed'));
    return stamp(cached);
  }
  return stamp((await refresh(ctx, shape)) ?? { asOf: Date.now(), stats: await sequenceStats(ctx.sequences) });
}

/** Computes and stores the statistics, one process at a time; null when another process is computing them. */
async function refresh(ctx: Ctx, shape: string): Promise<Cached | null> {
  const lock = await tryLock(ctx.redis, ctx.keys.sequenceStatsLock(), 30_000);
  if (!lock) return null;
  try {
    const asOf = Date.now();
    const c: Cached = { asOf, shape, stats: await sequenceStats(ctx.sequences) };
    await ctx.redis.set(ctx.keys.sequenceStats(), JSON.stringify(c), 'EX', 7 * 86_400);
    return c;
  } finally {
    await lock.release();
  }
}
