import type { Redis } from 'ioredis';
import mongoose from 'mongoose';
import { GroupCommit } from '../group-commit.js';
import type { RedisKeys } from '../redis/keys.js';
import { withLock } from '../redis/lock.js';
import { insertManyOnce, isDuplicateKey } from './create-once.js';
import type { TimelineType } from './timeline-types.js';
import { leadId, type LeadRef } from './models/lead.js';
import { StageMove, Timeline, TimelineEntry } from './models/timeline.js';

/** One step of a lead's history, as readers get it. */
export interface TimelineStep {
  id: string;
  type: string;
  at: Date;
  detail: Record<string, unknown>;
}

/**
 * Where the timeline takes its per-lead lock: the Redis the bot uses (set once by the app at start). Without it (a
 * script), steps are written without the lock, which is safe on MongoDB; on FerretDB 1.x two concurrent writers of one
 * lead's timeline could then lose a step.
 */
let locking: { redis: Redis; keys: RedisKeys } | null = null;

export function useTimelineLock(redis: Redis, keys: RedisKeys): void {
  locking = { redis, keys };
}

/**
 * Records a step on the lead's timeline exactly once per (source key, type): a re-run records nothing new. A lead's
 * steps live in one document keyed by the lead (docs/architecture.md, "The timeline"), appended to under a per-lead
 * lock (FerretDB 1.x does not apply concurrent updates of one document atomically); the append itself skips a step
 * already there, so a retry after a crash is harmless.
 */
export async function recordStep(lead: LeadRef, sourceKey: string, type: TimelineType, detail: Record<string, unknown> = {}, at = new Date()): Promise<void> {
  const id = `${sourceKey}#${type}`;
  const _id = leadId(lead.corpId, lead.externalUserId);
  const entry = { id, type, at, detail };
  const append = async () => {
    const r = await Timeline.updateOne({ _id, ids: { $ne: id } }, { $push: { entries: entry, ids: id } });
    if (r.matchedCount) return;
    try {
      // No timeline yet (or the step is there already: then the insert is a duplicate and nothing is left to do).
      await Timeline.collection.insertOne({ _id: _id as never, corpId: lead.corpId, externalUserId: lead.externalUserId, entries: [entry], ids: [id] });
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
  };
  if (locking) await withLock(locking.redis, locking.keys.timelineLock(_id), append);
  else await append();
  if (type === 'stage_changed') {
    try {
      await StageMove.create({ _id: id, corpId: lead.corpId, externalUserId: lead.externalUserId, at, from: String(detail.from), to: String(detail.to), by: String(detail.by ?? 'system') });
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
  }
}

/** One step to record with recordSteps. */
export interface StepToRecord {
  lead: LeadRef;
  sourceKey: string;
  type: TimelineType;
  detail?: Record<string, unknown>;
  at?: Date;
}

/** How many bulk-recorded step ids a lead's timeline keeps (the newest). */
const LOGGED_PER_LEAD = 200;

/** Callers whose steps one shared write takes at most (each may bring many: a campaign's batch). */
const CALLERS_PER_WRITE = 200;

/** One caller's steps in a shared write, and what its own write would have thrown. */
interface StepsToWrite {
  steps: readonly StepToRecord[];
  error: Error | null;
}

/** The database could not be reached (rather than refusing a document): writing again at once would wait as long. */
const unreachable = (err: unknown) => err instanceof mongoose.mongo.MongoNetworkError || err instanceof mongoose.mongo.MongoServerSelectionError;

/**
 * The steps of the callers of the moment, written together (src/group-commit.ts): one insert, one Redis pipeline.
 * When the database refuses that write, each caller's steps are written again on their own, so an error stays with
 * its caller (a step it refuses fails the caller that brought it, not the others of the moment). When it cannot be
 * reached, every caller gets that error at once.
 */
const stepWriter = new GroupCommit<StepsToWrite>(async (items) => {
  try {
    await writeSteps(items.flatMap((i) => i.steps));
  } catch (err) {
    if (items.length === 1 || unreachable(err)) for (const item of items) item.error = err as Error;
    else for (const item of items) await writeSteps(item.steps).catch((e: Error) => void (item.error = e));
  }
}, CALLERS_PER_WRITE, 1);

/**
 * Records many steps at once (a campaign's batch, a 客服 run), each once per (source key, type) as recordStep does
 * one: one insert into the log of bulk steps, then each new step's id on its lead's list in Redis (one pipeline),
 * which is how the lead's timeline finds it. The lists are a read model: rebuilt from the log with the lead index.
 * The steps of the callers of the moment share that insert: on FerretDB each insert command pays for a transaction
 * and a commit of its own, and the 客服 runs of a burst each recorded a few steps. Each is still inserted once
 * (duplicates ignored), and a caller gets the error of its own steps only.
 */
export async function recordSteps(steps: readonly StepToRecord[]): Promise<void> {
  if (!steps.length) return;
  const item: StepsToWrite = { steps, error: null };
  await stepWriter.add(item);
  if (item.error) throw item.error;
}

async function writeSteps(steps: readonly StepToRecord[]): Promise<void> {
  const now = new Date();
  const docs = steps.map((s) => ({ _id: `${s.sourceKey}#${s.type}`, corpId: s.lead.corpId, externalUserId: s.lead.externalUserId, type: s.type, at: s.at ?? now, detail: s.detail ?? {} }));
  await insertManyOnce(TimelineEntry.collection, docs);
  if (!locking) return;
  // Every step of the call, new or not: a retry after a crash between the insert and this puts back what was missed
  // (readers drop repeated ids). One push and one trim per lead (a 客服 run records several steps of one lead).
  const byLead = new Map<string, string[]>();
  for (const d of docs) {
    const key = locking.keys.leadIndex(`log:${leadId(d.corpId, d.externalUserId)}`);
    const ids = byLead.get(key);
    if (ids) ids.push(d._id);
    else byLead.set(key, [d._id]);
  }
  const pipeline = locking.redis.pipeline();
  for (const [key, ids] of byLead) pipeline.rpush(key, ...ids).ltrim(key, -LOGGED_PER_LEAD, -1);
  await pipeline.exec();
}

/**
 * Puts the ids of bulk-recorded steps back on their leads' lists, streaming the log (after Redis lost them; part of
 * the lead index's build). Returns how many it read.
 */
export async function rebuildLoggedSteps(redis: Redis, keys: RedisKeys): Promise<number> {
  let n = 0;
  let pipeline = redis.pipeline();
  for await (const d of TimelineEntry.find({}, { corpId: 1, externalUserId: 1 }).sort({ _id: 1 }).lean().cursor({ batchSize: 5000 })) {
    const key = keys.leadIndex(`log:${leadId(d.corpId, d.externalUserId)}`);
    pipeline.rpush(key, d._id).ltrim(key, -LOGGED_PER_LEAD, -1);
    if (++n % 5000 === 0) {
      await pipeline.exec();
      pipeline = redis.pipeline();
    }
  }
  await pipeline.exec();
  return n;
}

/**
 * A lead's timeline, oldest first: its document (one read by primary key) and the steps recorded for it in bulk (by
 * id, from the lead's list of them).
 */
export async function timelineOf(corpId: string, externalUserId: string): Promise<TimelineStep[]> {
  const id = leadId(corpId, externalUserId);
  const [doc, logged] = await Promise.all([
    Timeline.findById(id).lean(),
    locking ? locking.redis.lrange(locking.keys.leadIndex(`log:${id}`), 0, -1) : Promise.resolve([] as string[]),
  ]);
  const bulk = await Promise.all([...new Set(logged)].map((k) => TimelineEntry.findById(k).lean()));
  const steps = [
    ...(doc?.entries ?? []).map((e) => ({ id: e.id, type: e.type, at: e.at, detail: (e.detail ?? {}) as Record<string, unknown> })),
    ...bulk.flatMap((e) => (e ? [{ id: e._id, type: e.type, at: e.at, detail: (e.detail ?? {}) as Record<string, unknown> }] : [])),
  ].sort((a, b) => a.at.getTime() - b.at.getTime());
  return causesFirst(steps);
}

/** Steps that record what came in (a customer's act): of steps at the same instant, they go first. */
const CAUSES = new Set(['added', 'kf_arrived', 'kf_entered', 'kf_message', 'link_clicked']);

/**
 * Steps of the same instant (a customer's message and what it did share its second) in the order they happened, not
 * the order they were written: what came in first, then the stage moves in their chain (added → engaged before
 * engaged → unsubscribed), then the rest as written. `steps` is sorted by time.
 */
function causesFirst(steps: TimelineStep[]): TimelineStep[] {
  const out: TimelineStep[] = [];
  for (let i = 0; i < steps.length; ) {
    let j = i + 1;
    while (j < steps.length && steps[j]!.at.getTime() === steps[i]!.at.getTime()) j++;
    const tie = steps.slice(i, j);
    if (tie.length === 1) out.push(tie[0]!);
    else out.push(...tie.filter((s) => CAUSES.has(s.type)), ...stageChain(tie.filter((s) => s.type === 'stage_changed')), ...tie.filter((s) => !CAUSES.has(s.type) && s.type !== 'stage_changed'));
    i = j;
  }
  return out;
}

/** Stage moves of one instant, each after the move that led to the stage it leaves. */
function stageChain(moves: TimelineStep[]): TimelineStep[] {
  const left = [...moves];
  const out: TimelineStep[] = [];
  while (left.length) {
    // The first move whose starting stage no other remaining move leads to (any, if they make a loop).
    const k = Math.max(0, left.findIndex((m) => !left.some((o) => o !== m && o.detail.to === m.detail.from)));
    out.push(...left.splice(k, 1));
  }
  return out;
}
