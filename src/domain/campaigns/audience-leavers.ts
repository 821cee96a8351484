import type { BotContext } from '../../context.js';
import type { LeadSnapshot } from '../../store/lead-repository.js';
import type { LeadDoc } from '../../store/models/lead.js';

// A campaign run plans a page of its segment and may send to it minutes later (a mass message's group waits for the
// pass's end): a lead that leaves the audience meanwhile must get nothing. Reading every planned lead again is a scan
// of the collection per cycle on FerretDB (an `_id: {$in}` filter, src/store/by-id.ts); instead every change that can
// take a lead out of an audience notes it here, and a cycle reads again only the leads noted (cycle-leftovers.ts).
// The notes are only as good as Redis: a key beside them says since when they are complete. Redis flushed (or the key
// evicted), it is gone, and the leads of pages read before it was set again are all read again.

/** How long a note is kept: longer than a run's passes take (a lead over its daily cap waits for the next day's). */
const KEEP_MS = 7 * 86_400_000;

/** Stages that take a lead out of campaign audiences (a customer out of marketing ones: plan.ts). */
const LEAVING = new Set(['unsubscribed', 'lost', 'customer']);

const activeOwners = (l: Pick<LeadSnapshot, 'owners'> | null) => (l?.owners ?? []).filter((o) => o.status === 'active').length;

/** Whether a saved change may have taken the lead out of an audience: a leaving stage, an opt-out, its last owner gone. */
export function mayHaveLeft(before: LeadSnapshot | null, after: LeadDoc): boolean {
  if (!before) return false;
  if (after.stage !== before.stage && LEAVING.has(after.stage)) return true;
  if (after.unsubscribedAt && !before.unsubscribedAt) return true;
  return activeOwners(before) > 0 && activeOwners(after) === 0;
}

/** Fields whose plain update (no load-modify-save) may take a lead out of an audience. */
export const LEAVING_FIELDS = new Set(['stage', 'unsubscribedAt', 'owners']);

/**
 * Notes that the lead may have left campaign audiences now. A note Redis does not take (it answers with an error, or
 * not at all) makes the notes incomplete: the key saying since when they are complete is dropped, so runs read every
 * lead of the pages they read before again (notedLeavers). The save that called this has happened: nothing is thrown.
 */
export async function noteLeaver(ctx: Pick<BotContext, 'redis' | 'keys'>, leadId: string): Promise<void> {
  const now = Date.now();
  const key = ctx.keys.audienceLeavers();
  const res = await ctx.redis.multi().zadd(key, now, leadId).zremrangebyscore(key, 0, now - KEEP_MS).pexpire(key, KEEP_MS).exec().catch(() => null);
  if (res && !res.some(([err]) => err)) return;
  await ctx.redis.del(ctx.keys.audienceLeaversSince()).catch(() => undefined);
}

/**
 * Makes sure the notes are kept from now on (before a run reads a page of its audience): the time they are complete
 * since is set when it is missing, and kept otherwise.
 */
export async function keepLeaverNotes(ctx: Pick<BotContext, 'redis' | 'keys'>): Promise<void> {
  await ctx.redis.set(ctx.keys.audienceLeaversSince(), String(Date.now()), 'NX');
}

/**
 * Which of the leads, each read at `readAt` (ms), may have left audiences since (one Redis call): those noted, and all
 * of them read before the notes were complete (Redis lost them meanwhile).
 */
export async function notedLeavers(ctx: Pick<BotContext, 'redis' | 'keys'>, leads: ReadonlyArray<{ leadId: string; readAt: number }>): Promise<Set<string>> {
  if (!leads.length) return new Set();
  const [since, scores] = await Promise.all([ctx.redis.get(ctx.keys.audienceLeaversSince()), ctx.redis.zmscore(ctx.keys.audienceLeavers(), ...leads.map((l) => l.leadId))]);
  const completeSince = since === null ? Infinity : Number(since);
  return new Set(leads.filter((l, i) => scores[i] !== null || l.readAt < completeSince).map((l) => l.leadId));
}
