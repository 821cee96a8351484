import type { BotContext } from '../../context.js';
import type { LeadRef } from '../../store/models/lead.js';
import type { ExternalContactResponse } from '../../wecom/types.js';

/** How long a new contact's externalcontact/get answer is kept: the welcome reads it, the add and the sync reuse it. */
export const PROFILE_CACHE_SECONDS = 120;

type Ctx = Pick<BotContext, 'redis' | 'keys'>;

/**
 * A customer's externalcontact/get answer [D:92114] another job read moments ago (the welcome, for {{name}}), so a new
 * contact costs one call, not two; null when none is kept (or it cannot be read).
 */
export async function cachedProfile(ctx: Ctx, lead: LeadRef): Promise<ExternalContactResponse | null> {
  const raw = await ctx.redis.get(ctx.keys.profileCache(lead.corpId, lead.externalUserId));
  if (!raw) return null;
  try {
    return JSON.parse(raw) as ExternalContactResponse;
  } catch {
    return null;
  }
}

/** Keeps an answer briefly for the jobs that follow the welcome. */
export async function keepProfile(ctx: Ctx, lead: LeadRef, res: ExternalContactResponse): Promise<void> {
  await ctx.redis.set(ctx.keys.profileCache(lead.corpId, lead.externalUserId), JSON.stringify(res), 'EX', PROFILE_CACHE_SECONDS);
}

/** Forgets it once the lead holds the profile. */
export async function dropProfile(ctx: Ctx, lead: LeadRef): Promise<void> {
  await ctx.redis.del(ctx.keys.profileCache(lead.corpId, lead.externalUserId));
}
