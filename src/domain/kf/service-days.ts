import type { Redis } from 'ioredis';
import type { RedisKeys } from '../../redis/keys.js';
import { tryLock } from '../../redis/lock.js';
import { isDuplicateKey } from '../../store/create-once.js';
import { KfResponse, KfResponseDay } from '../../store/models/kf.js';
import { localDay } from '../nurture/clock.js';

/** A response record as its day keeps it. */
export interface DayEntry {
  id: string;
  lead: string;
  servicer: string | null;
  channel: string | null;
  startedAt: Date;
  repliedAt: Date;
  seconds: number;
  serviceSeconds: number;
  targetSeconds: number;
}

const dayId = (tz: string, day: string) => `${tz}|${day}`;
/** The marker of a finished build for a time zone (in the same collection: a day id never starts with `built`). */
const builtId = (tz: string) => `built|${tz}`;

/**
 * Adds a response record to its day (the day its clock started in `tz`), once however often it is added: a push
 * that skips a day already holding it, else the day's first insert (a second writer's insert fails and pushes).
 */
export async function addToServiceDay(tz: string, e: DayEntry): Promise<void> {
  const _id = dayId(tz, localDay(e.startedAt.getTime(), tz));
  const push = () => KfResponseDay.updateOne({ _id, ids: { $ne: e.id } }, { $push: { ids: e.id, entries: e } });
  if ((await push()).matchedCount > 0) return;
  if (await KfResponseDay.exists({ _id })) return; // it holds the entry already
  try {
    await KfResponseDay.create({ _id, ids: [e.id], entries: [e] });
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    await push();
  }
}

/** The response records whose clock started on `days` (local days in `tz`): one read by primary key per day. */
export async function serviceDays(tz: string, days: string[]): Promise<DayEntry[]> {
  const docs = await Promise.all(days.map((d) => KfResponseDay.findById(dayId(tz, d), { entries: 1 }).lean()));
  return docs.flatMap((d) => (d?.entries ?? []) as DayEntry[]);
}

/** A response record as a day entry. */
export function dayEntry(r: { _id: string; corpId: string; externalUserId: string; servicer?: string | null; channelKey?: string | null; startedAt: Date; repliedAt: Date; seconds: number; serviceSeconds: number; targetSeconds: number }): DayEntry {
  return {
    id: r._id,
    lead: `${r.corpId}:${r.externalUserId}`,
    servicer: r.servicer ?? null,
    channel: r.channelKey ?? null,
    startedAt: r.startedAt,
    repliedAt: r.repliedAt,
    seconds: r.seconds,
    serviceSeconds: r.serviceSeconds,
    targetSeconds: r.targetSeconds,
  };
}

/**
 * Writes many response records into their days: a day that does not exist yet is inserted whole, one that does gets
 * the missing entries one by one. What a build and the demo data use.
 */
export async function writeServiceDays(tz: string, entries: Iterable<DayEntry>): Promise<number> {
  const byDay = new Map<string, DayEntry[]>();
  for (const e of entries) {
    const d = localDay(e.startedAt.getTime(), tz);
    const list = byDay.get(d);
    if (list) list.push(e);
    else byDay.set(d, [e]);
  }
  for (const [day, list] of byDay) {
    try {
      await KfResponseDay.collection.insertOne({ _id: dayId(tz, day), ids: list.map((e) => e.id), entries: list } as never);
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      for (const e of list) await addToServiceDay(tz, e);
    }
  }
  return byDay.size;
}

/**
 * Builds the service days of `tz` from every response record, once per time zone (a marker says it is done): what a
 * bot does at start after an upgrade, or after OPS_TIMEZONE changed. One process at a time; entries written live
 * meanwhile are kept (see writeServiceDays).
 */
export async function ensureServiceDays(redis: Redis, keys: RedisKeys, tz: string, log: { info(o: object, m: string): void }): Promise<void> {
  if (await KfResponseDay.exists({ _id: builtId(tz) })) return;
  const lock = await tryLock(redis, keys.serviceDaysLock(tz), 60_000);
  if (!lock) return;
  try {
    if (await KfResponseDay.exists({ _id: builtId(tz) })) return;
    const started = Date.now();
    const entries: DayEntry[] = [];
    for await (const r of KfResponse.find({}).lean().cursor({ batchSize: 2000 })) entries.push(dayEntry(r as Parameters<typeof dayEntry>[0]));
    const days = await writeServiceDays(tz, entries);
    await KfResponseDay.collection.insertOne({ _id: builtId(tz), ids: [], entries: [] } as never).catch((err: unknown) => {
      if (!isDuplicateKey(err)) throw err;
    });
    log.info({ responses: entries.length, days, ms: Date.now() - started, tz }, 'service days built');
  } finally {
    await lock.release();
  }
}
