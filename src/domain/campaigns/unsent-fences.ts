import type { BotContext } from '../../context.js';
import { releaseTakenFences } from '../../store/delivery-ledger.js';

type Ctx = Pick<BotContext, 'redis' | 'keys' | 'log'>;

/** As long as the run's other notes in Redis (taken-groups.ts): past it, the run is long over. */
const TTL_S = 7 * 86_400;

/**
 * A cycle that fails gives back the fences of the leads it has not called (send.ts); when the database fails too, they
 * stay, and the run's next execution would take those leads for ones a dead runner left in flight and record them
 * `unknown`, never sent. Their ids are noted here instead, in Redis, which did not fail with the database: the next
 * execution gives them back first (releaseNotedFences), and sends those leads. Only fences of leads never called are
 * noted, so giving them back never sends anything twice; a note Redis loses leaves them `unknown`, as before.
 */
export async function noteUnsentFences(ctx: Ctx, runId: string, ids: readonly string[]): Promise<void> {
  if (!ids.length) return;
  const key = ctx.keys.campaignUnsentFences(runId);
  await ctx.redis.multi().sadd(key, ...ids).expire(key, TTL_S).exec();
  ctx.log.warn({ run: runId, fences: ids.length }, 'campaign cycle could not give back the fences of leads it did not send (the database failed): noted for the next execution');
}

/** Gives back the fences a failed cycle noted (noteUnsentFences), once the database answers again. */
export async function releaseNotedFences(ctx: Ctx, runId: string): Promise<number> {
  const key = ctx.keys.campaignUnsentFences(runId);
  const ids = await ctx.redis.smembers(key);
  if (!ids.length) return 0;
  await releaseTakenFences(ids);
  await ctx.redis.srem(key, ...ids);
  ctx.log.info({ run: runId, fences: ids.length }, 'campaign run gave back the fences a failed cycle could not: those leads are sent now');
  return ids.length;
}
