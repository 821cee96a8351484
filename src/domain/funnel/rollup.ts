import type { Redis } from 'ioredis';
import type { RedisKeys } from '../../redis/keys.js';
import { GroupCommit } from '../../group-commit.js';
import { withLock } from '../../redis/lock.js';
import { FunnelDay } from '../../store/models/funnel-day.js';
import { Lead } from '../../store/models/lead.js';
import { localDay } from '../nurture/clock.js';
import { FUNNEL } from '../vocabulary.js';

/** What of a lead the funnel counts. */
export interface FunnelFacts {
  firstTouch?: { channelKey?: string | null; at?: Date | null } | null;
  reached?: Partial<Record<string, Date | null | undefined>> | null;
  stage?: string | null;
  grade?: string | null;
  role?: string | null;
}

/** The lead fields a rollup needs (a projection). */
export const FUNNEL_FIELDS = { firstTouch: 1, reached: 1, stage: 1, grade: 1, role: 1, updatedAt: 1 } as const;

/** One lead's part in its day's rollup: which document, and the counters it adds. */
export function contribution(lead: FunnelFacts, tz: string): { id: string; day: string; channel: string; counts: Record<string, number> } | null {
  const at = lead.firstTouch?.at;
  const channel = lead.firstTouch?.channelKey;
  if (!at || !channel) return null;
  const day = localDay(at.getTime(), tz);
  const counts: Record<string, number> = {};
  const flags = ['added'];
  for (const s of FUNNEL.slice(1)) if (lead.reached?.[s] || FUNNEL.indexOf(lead.stage as never) >= FUNNEL.indexOf(s)) flags.push(`reached.${s}`);
  if (lead.stage === 'lost') flags.push('lost');
  if (lead.stage === 'unsubscribed') flags.push('unsubscribed');
  const role = lead.role ?? 'unknown';
  for (const f of flags) {
    counts[f] = 1;
    counts[`roles.${role}.${f}`] = 1;
  }
  const grade = lead.grade ?? 'C';
  counts[`grades.${grade}`] = 1;
  counts[`roles.${role}.grades.${grade}`] = 1;
  return { id: `${day}|${channel}`, day, channel, counts };
}

/**
 * Applies the change of one lead (before → after) to the rollups: the counters it no longer adds are taken off, the
 * new ones added. Each rollup document is written under its own lock, so concurrent changes never lose an increment
 * on a database that applies `$inc` as read-modify-write (FerretDB). The changes a process makes meanwhile share that
 * write (summed per rollup: one lock and one update for many leads of the same day and channel, not a queue of
 * waiters on one lock). Each write also counts in the rollup's version (`funnelVersions`), so a rebuild reading the
 * leads meanwhile leaves that rollup as the live writes keep it.
 */
export async function applyFunnelChange(redis: Redis, keys: RedisKeys, tz: string, before: FunnelFacts | null, after: FunnelFacts): Promise<void> {
  const deltas = new Map<string, Delta>();
  const put = (c: ReturnType<typeof contribution>, sign: 1 | -1) => {
    if (!c) return;
    const d = deltas.get(c.id) ?? { id: c.id, day: c.day, channel: c.channel, inc: {} };
    for (const [k, v] of Object.entries(c.counts)) d.inc[`counts.${k}`] = (d.inc[`counts.${k}`] ?? 0) + sign * v;
    deltas.set(c.id, d);
  };
  put(before ? contribution(before, tz) : null, -1);
  put(contribution(after, tz), 1);
  const changed = [...deltas.values()].filter((d) => Object.values(d.inc).some((v) => v !== 0));
  if (changed.length) await Promise.all(changed.map((d) => writerOf(redis, keys).add(d)));
}

/** One rollup's increments from one change. */
interface Delta {
  id: string;
  day: string;
  channel: string;
  inc: Record<string, number>;
}

const writers = new WeakMap<Redis, Map<string, GroupCommit<Delta>>>();

/** The shared writer of the rollups under `keys` on this connection (one write in flight at a time). */
function writerOf(redis: Redis, keys: RedisKeys): GroupCommit<Delta> {
  let byPrefix = writers.get(redis);
  if (!byPrefix) writers.set(redis, (byPrefix = new Map()));
  const prefix = keys.funnelLock('');
  let w = byPrefix.get(prefix);
  if (!w) byPrefix.set(prefix, (w = new GroupCommit((items) => writeDeltas(redis, keys, items), 500, 1)));
  return w;
}

async function writeDeltas(redis: Redis, keys: RedisKeys, items: Delta[]): Promise<void> {
  const sums = new Map<string, Delta>();
  for (const d of items) {
    const s = sums.get(d.id) ?? { ...d, inc: {} };
    for (const [k, v] of Object.entries(d.inc)) s.inc[k] = (s.inc[k] ?? 0) + v;
    sums.set(d.id, s);
  }
  await Promise.all(
    [...sums.values()].map(async (d) => {
      const inc = Object.fromEntries(Object.entries(d.inc).filter(([, v]) => v !== 0));
      if (!Object.keys(inc).length) return;
      await withLock(redis, keys.funnelLock(d.id), async () => {
        await FunnelDay.updateOne({ _id: d.id }, { $inc: inc, $setOnInsert: { day: d.day, channel: d.channel } }, { upsert: true });
        await redis.hincrby(keys.funnelVersions(), d.id, 1);
      });
    }),
  );
}

/**
 * Rebuilds every rollup from the leads, in one streaming pass (counters in memory: one per day and channel, never a
 * lead list). A rollup is left as the live updates keep it (the next rebuild checks it) when one of its leads was saved
 * after the pass began, or when a live update wrote it since the pass began (its version moved): the pass may have
 * read a lead before its change, and replacing the rollup would undo an increment already applied. `onProgress` hears
 * the count of leads read every 10,000 and once the reading is done. Returns how many leads and rollups it read and
 * wrote, and how many rollups it left.
 */
export async function rebuildFunnel(redis: Redis, keys: RedisKeys, tz: string, onProgress?: (leads: number) => void | Promise<void>): Promise<{ leads: number; rollups: number; skipped: number }> {
  const versions = keys.funnelVersions();
  const seen = await redis.hgetall(versions);
  const moved = async (id: string) => ((await redis.hget(versions, id)) ?? undefined) !== seen[id];
  const started = new Date();
  const sums = new Map<string, { day: string; channel: string; counts: Record<string, number> }>();
  const busy = new Set<string>();
  let leads = 0;
  for await (const lead of Lead.find({}, FUNNEL_FIELDS).lean().cursor({ batchSize: 2000 })) {
    leads++;
    if (leads % 10_000 === 0) await onProgress?.(leads);
    const c = contribution(lead as FunnelFacts, tz);
    if (!c) continue;
    if ((lead as { updatedAt?: Date }).updatedAt && (lead as { updatedAt: Date }).updatedAt >= started) busy.add(c.id);
    const s = sums.get(c.id) ?? { day: c.day, channel: c.channel, counts: {} };
    for (const [k, v] of Object.entries(c.counts)) s.counts[k] = (s.counts[k] ?? 0) + v;
    sums.set(c.id, s);
  }
  await onProgress?.(leads);
  let rollups = 0;
  for (const [id, s] of sums) {
    if (busy.has(id)) continue;
    const wrote = await withLock(redis, keys.funnelLock(id), async () => {
      if (await moved(id)) return false;
      await FunnelDay.replaceOne({ _id: id }, { _id: id, day: s.day, channel: s.channel, counts: nest(s.counts) }, { upsert: true });
      return true;
    });
    if (wrote) rollups++;
    else busy.add(id);
  }
  // Rollups whose leads are all gone (not one a live update made for a lead added while the pass read).
  const stale = (await FunnelDay.find({}, { _id: 1 }).lean()).map((d) => d._id).filter((id) => !sums.has(id));
  for (const id of stale) {
    await withLock(redis, keys.funnelLock(id), async () => {
      if (await moved(id)) busy.add(id);
      else {
        await FunnelDay.deleteOne({ _id: id });
        await redis.hdel(versions, id);
      }
    });
  }
  return { leads, rollups, skipped: busy.size };
}

/** `{'a.b': 1}` → `{a: {b: 1}}`. */
function nest(flat: Record<string, number>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [path, v] of Object.entries(flat)) {
    const parts = path.split('.');
    let node = out;
    for (const p of parts.slice(0, -1)) node = (node[p] ??= {}) as Record<string, unknown>;
    node[parts.at(-1)!] = v;
  }
  return out;
}
