import type { BotContext } from '../../context.js';
import { jobIds } from '../../queues/job-ids.js';
import { Enrollment } from '../../store/models/enrollment.js';
import { Lead, splitLeadId } from '../../store/models/lead.js';
import { Pause, type PauseKind } from '../../store/models/pause.js';
import { recordStep } from '../../store/timeline.js';

/** What can be paused: a lead (its id), a sequence (its key), a channel (its key) or a campaign (its key). */
export interface PauseTarget {
  kind: PauseKind;
  target: string;
}

type Ctx = Pick<BotContext, 'redis' | 'keys' | 'queues'>;

const member = (t: PauseTarget) => `${t.kind}:${t.target}`;
/**
 * A member the set always holds once built from MongoDB: a set without it was lost with Redis (a flush, a failover)
 * and is rebuilt before it is believed, so a step or a send checked before the next reconcile is not taken for
 * unpaused.
 */
const BUILT = 'built:';

/**
 * Pauses a lead, a sequence or a channel: nurture steps and campaign sends for it wait where they are (an
 * enrollment keeps its place) until it is resumed. MongoDB holds the pause; Redis holds the set senders check.
 * Returns false when it was paused already.
 */
export async function pause(ctx: Ctx, t: PauseTarget, by: { actor: string; reason?: string | null }): Promise<boolean> {
  const res = await Pause.updateOne({ _id: member(t) }, { $setOnInsert: { kind: t.kind, target: t.target, by: by.actor, reason: by.reason ?? null, at: new Date() } }, { upsert: true });
  await ctx.redis.sadd(ctx.keys.pauses(), member(t));
  const lead = t.kind === 'lead' ? splitLeadId(t.target) : null;
  if (lead && res.upsertedCount) await recordStep(lead, `pause|${Date.now()}`, 'paused', { by: by.actor, reason: by.reason ?? null });
  return res.upsertedCount > 0;
}

/**
 * Resumes what was paused: the steps that waited are run now (those due), the others at their time. Returns false
 * when it was not paused.
 */
export async function resume(ctx: Ctx, t: PauseTarget, by: { actor: string }): Promise<boolean> {
  const res = await Pause.deleteOne({ _id: member(t) });
  await ctx.redis.srem(ctx.keys.pauses(), member(t));
  if (!res.deletedCount) return false;
  const lead = t.kind === 'lead' ? splitLeadId(t.target) : null;
  if (lead) await recordStep(lead, `resume|${Date.now()}`, 'resumed', { by: by.actor });
  await promoteWaiting(ctx, t);
  return true;
}

/** Whether any of a send's lead, sequence, channel or campaign is paused (one Redis call). */
export async function pausedFor(ctx: Pick<BotContext, 'redis' | 'keys'>, s: { lead?: string | null; sequence?: string | null; channel?: string | null; campaign?: string | null }): Promise<PauseTarget | null> {
  const targets: PauseTarget[] = [];
  if (s.lead) targets.push({ kind: 'lead', target: s.lead });
  if (s.sequence) targets.push({ kind: 'sequence', target: s.sequence });
  if (s.channel) targets.push({ kind: 'channel', target: s.channel });
  if (s.campaign) targets.push({ kind: 'campaign', target: s.campaign });
  if (!targets.length) return null;
  let hits = (await ctx.redis.smismember(ctx.keys.pauses(), BUILT, ...targets.map(member))) as number[];
  if (!hits[0]) {
    await restorePauses(ctx);
    hits = (await ctx.redis.smismember(ctx.keys.pauses(), BUILT, ...targets.map(member))) as number[];
  }
  const i = hits.slice(1).findIndex((h) => h === 1);
  return i >= 0 ? targets[i]! : null;
}

/**
 * Every paused lead, sequence, channel and campaign, as `<kind>:<target>` (one Redis call): what a batch of sends
 * checks each lead against in memory.
 */
export async function pausedTargets(ctx: Pick<BotContext, 'redis' | 'keys'>): Promise<Set<string>> {
  let all = new Set(await ctx.redis.smembers(ctx.keys.pauses()));
  if (!all.has(BUILT)) {
    await restorePauses(ctx);
    all = new Set(await ctx.redis.smembers(ctx.keys.pauses()));
  }
  all.delete(BUILT);
  return all;
}

/** The member of the pause set that stands for `t` (what pausedTargets holds). */
export const pauseMember = member;

/** Every pause, newest first. */
export async function listPauses() {
  return Pause.find({}).sort({ at: -1 }).lean();
}

/**
 * Rebuilds the Redis set of pauses from MongoDB (after Redis lost it), without a moment in which it is empty: every
 * stored pause is added, and a member MongoDB no longer has is removed only when a read of it by _id, after the set
 * was read, confirms it is gone (a pause made meanwhile is in both by then: pause() writes MongoDB first). Then the
 * set is marked built (BUILT).
 */
export async function restorePauses(ctx: Pick<BotContext, 'redis' | 'keys'>): Promise<number> {
  const all = new Set((await Pause.find({}, { _id: 1 }).lean()).map((p) => p._id));
  if (all.size) await ctx.redis.sadd(ctx.keys.pauses(), ...all);
  for (const m of await ctx.redis.smembers(ctx.keys.pauses())) {
    if (m !== BUILT && !all.has(m) && !(await Pause.exists({ _id: m }))) await ctx.redis.srem(ctx.keys.pauses(), m);
  }
  await ctx.redis.sadd(ctx.keys.pauses(), BUILT);
  return all.size;
}

/** The waiting step jobs of what was resumed run now; not-yet-due ones stay delayed to their time. */
async function promoteWaiting(ctx: Ctx, t: PauseTarget): Promise<void> {
  let filter: Record<string, unknown>;
  if (t.kind === 'lead') {
    const ref = splitLeadId(t.target);
    if (!ref) return;
    filter = { corpId: ref.corpId, externalUserId: ref.externalUserId };
  } else if (t.kind === 'sequence') {
    filter = { sequenceKey: t.target };
  } else if (t.kind === 'campaign') {
    // A campaign's runs are resumed by the campaign itself (src/domain/campaigns/control.ts).
    return;
  } else {
    const leads = await Lead.find({ 'firstTouch.channelKey': t.target }, { corpId: 1, externalUserId: 1 }).lean();
    if (!leads.length) return;
    filter = { $or: leads.map((l) => ({ corpId: l.corpId, externalUserId: l.externalUserId })) };
  }
  const now = Date.now();
  const queue = ctx.queues.get('nurture');
  for await (const e of Enrollment.find({ ...filter, status: 'active' }, { step: 1, dueAt: 1 }).lean().cursor({ batchSize: 500 })) {
    if (e.dueAt && e.dueAt.getTime() > now) continue;
    const job = await queue.getJob(jobIds.nurtureStep(String(e._id), e.step));
    if (job && (await job.isDelayed())) await job.promote().catch(() => undefined);
  }
}
