import type { Redis } from 'ioredis';
import type { RedisKeys } from '../../redis/keys.js';
import { tryLock, withLock } from '../../redis/lock.js';
import { isDuplicateKey } from '../../store/create-once.js';
import { KfResponse, KfResponseDay } from '../../store/models/kf.js';
import { leadId } from '../../store/models/lead.js';
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

/** A record as its day keeps it: a JSON array, the same string for the same record. */
function encode(e: DayEntry): string {
  return JSON.stringify([e.id, e.lead, e.servicer, e.channel, e.startedAt.getTime(), e.repliedAt.getTime(), e.seconds, e.serviceSeconds, e.targetSeconds]);
}

function decode(row: string): DayEntry {
  const [id, lead, servicer, channel, startedAt, repliedAt, seconds, serviceSeconds, targetSeconds] = JSON.parse(row) as [string, string, string | null, string | null, number, number, number, number, number];
  return { id, lead, servicer, channel, startedAt: new Date(startedAt), repliedAt: new Date(repliedAt), seconds, serviceSeconds, targetSeconds };
}

/** Where a day's writers take turns (Redis and the keys of this bot). */
type Locks = { redis: Redis; keys: RedisKeys };

/**
 * Adds a response record to its day (the day its clock started in `tz`), once however often it is added: a push
 * that skips a day already holding it, else the day's first insert (a second writer's insert fails and pushes).
 * Writers of one day take turns (its lock): some MongoDB-wire servers (FerretDB) rewrite the document whole on a
 * push, so two at once could lose one of the rows.
 */
export async function addToServiceDay(locks: Locks, tz: string, e: DayEntry): Promise<void> {
  const _id = dayId(tz, localDay(e.startedAt.getTime(), tz));
  const row = encode(e);
  const push = () => KfResponseDay.updateOne({ _id, rows: { $ne: row } }, { $push: { rows: row } });
  await withLock(locks.redis, locks.keys.serviceDayWriteLock(_id), async () => {
    if ((await push()).matchedCount > 0) return;
    if (await KfResponseDay.exists({ _id })) return; // it holds the record already
    try {
      await KfResponseDay.create({ _id, rows: [row] });
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      await push();
    }
  });
}

/** The response records whose clock started on `days` (local days in `tz`): one read by primary key per day. */
export async function serviceDays(tz: string, days: string[]): Promise<DayEntry[]> {
  const docs = await Promise.all(days.map((d) => KfResponseDay.findById(dayId(tz, d), { rows: 1 }).lean()));
  const byId = new Map<string, DayEntry>();
  for (const d of docs) for (const row of d?.rows ?? []) {
    const e = decode(row);
    byId.set(e.id, e);
  }
  return [...byId.values()];
}

/** A response record as a day entry. */
export function dayEntry(r: { _id: string; corpId: string; externalUserId: string; servicer?: string | null; channelKey?: string | null; startedAt: Date; repliedAt: Date; seconds: number; serviceSeconds: number; targetSeconds: number }): DayEntry {
  return {
    id: r._id,
    lead: leadId(r.corpId, r.externalUserId),
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
export async function writeServiceDays(locks: Locks, tz: string, entries: Iterable<DayEntry>): Promise<number> {
  const byDay = new Map<string, DayEntry[]>();
  for (const e of entries) {
    const d = localDay(e.startedAt.getTime(), tz);
    const list = byDay.get(d);
    if (list) list.push(e);
    else byDay.set(d, [e]);
  }
  for (const [day, list] of byDay) {
    try {
      await KfResponseDay.collection.insertOne({ _id: dayId(tz, day), rows: list.map(encode) } as never);
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      for (const e of list) await addToServiceDay(locks, tz, e);
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
    const days = await writeServiceDays({ redis, keys }, tz, entries);
    await KfResponseDay.collection.insertOne({ _id: builtId(tz), rows: [] } as never).catch((err: unknown) => {
      if (!isDuplicateKey(err)) throw err;
    });
    log.info({ responses: entries.length, days, ms: Date.now() - started, tz }, 'service days built');
  } finally {
    await lock.release();
  }
}
