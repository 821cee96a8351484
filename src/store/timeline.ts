import type { Redis } from 'ioredis';
import type { RedisKeys } from '../redis/keys.js';
import { withLock } from '../redis/lock.js';
import { isDuplicateKey } from './create-once.js';
import { leadId, type LeadRef } from './models/lead.js';
import { StageMove, Timeline } from './models/timeline.js';

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
export async function recordStep(lead: LeadRef, sourceKey: string, type: string, detail: Record<string, unknown> = {}, at = new Date()): Promise<void> {
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

/** A lead's timeline, oldest first: one read by primary key. */
export async function timelineOf(corpId: string, externalUserId: string): Promise<TimelineStep[]> {
  const doc = await Timeline.findById(leadId(corpId, externalUserId)).lean();
  return [...(doc?.entries ?? [])]
    .map((e) => ({ id: e.id, type: e.type, at: e.at, detail: (e.detail ?? {}) as Record<string, unknown> }))
    .sort((a, b) => a.at.getTime() - b.at.getTime());
}
