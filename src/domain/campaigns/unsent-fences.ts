import type { BotContext } from '../../context.js';
import { eachById } from '../../store/by-id.js';
import type { FenceSpec } from '../../store/delivery-ledger.js';
import { Fence } from '../../store/models/fence.js';

type Ctx = Pick<BotContext, 'redis' | 'keys' | 'log'>;
/** A fence to give back: its id and the delivery that took it (a fence another delivery holds now is never given back). */
export type HeldFence = Pick<FenceSpec, 'id' | 'for'>;

/** As long as the run's other notes in Redis (taken-groups.ts): past it, the run is long over. */
const TTL_S = 7 * 86_400;

/**
 * A cycle that fails gives back the fences of the leads it has not called (send.ts); when the database fails too, they
 * stay, and the run's next execution would take those leads for ones a dead runner left in flight and record them
 * `unknown`, never sent. Their ids are noted here instead, in Redis, which did not fail with the database: the next
 * execution gives them back first (releaseNotedFences), and sends those leads. Only fences of leads never called are
 * noted, so giving them back never sends anything twice; a note Redis loses leaves them `unknown`, as before.
 *
 * Only the fences the database did not give back are noted: one given back before it failed is free at once, and may
 * be taken again before the next execution (a case study or a day's unit, by a nurture step or another run), so
 * giving it back then would take it from a delivery that was sent. And a noted fence is given back only while the
 * cycle's delivery still holds it.
 */
export async function giveBackUnsent(ctx: Ctx, runId: string, fences: readonly HeldFence[]): Promise<void> {
  const left: HeldFence[] = [];
  let failed = false;
  // Every lane ends (none left in flight) before the note is written: a fence given back after it would be noted too.
  await eachById(fences, async (f) => {
    if (failed) return void left.push(f);
    try {
      await Fence.deleteOne({ _id: f.id, for: f.for });
    } catch {
      failed = true;
      left.push(f);
    }
  });
  await noteUnsentFences(ctx, runId, left);
}

/** A noted fence: `[id, holder]`. */
const member = (f: HeldFence) => JSON.stringify([f.id, f.for]);
const parse = (m: string): HeldFence => {
  const [id, holder] = JSON.parse(m) as [string, string];
  return { id, for: holder };
};

export async function noteUnsentFences(ctx: Ctx, runId: string, fences: readonly HeldFence[]): Promise<void> {
  if (!fences.length) return;
  const key = ctx.keys.campaignUnsentFences(runId);
  await ctx.redis.multi().sadd(key, ...fences.map(member)).expire(key, TTL_S).exec();
  ctx.log.warn({ run: runId, fences: fences.length }, 'campaign cycle could not give back the fences of leads it did not send (the database failed): noted for the next execution');
}

/** Gives back the fences a failed cycle noted (noteUnsentFences), once the database answers again. */
export async function releaseNotedFences(ctx: Ctx, runId: string): Promise<number> {
  const key = ctx.keys.campaignUnsentFences(runId);
  const noted = await ctx.redis.smembers(key);
  if (!noted.length) return 0;
  await eachById(noted.map(parse), (f) => Fence.deleteOne({ _id: f.id, for: f.for }));
  await ctx.redis.srem(key, ...noted);
  ctx.log.info({ run: runId, fences: noted.length }, 'campaign run gave back the fences a failed cycle could not: those leads are sent now');
  return noted.length;
}
