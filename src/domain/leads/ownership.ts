import type { BotContext } from '../../context.js';
import { LuaScript } from '../../redis/script.js';
import { alertChurn } from '../alerts/lead-alerts.js';
import type { LeadDoc, LeadRef } from '../../store/models/lead.js';
import { releaseOwner } from '../nurture/stop.js';
import type { StopReason } from '../nurture/policy.js';
import { stopForStage } from '../nurture/stop.js';
import { applyStage, recordStageChange, type StageChange } from './stage.js';

/** One member's relationship with a customer ending, as a deletion event tells it. */
export interface OwnershipEnd {
  userId: string;
  externalUserId: string;
  at: Date;
  /** `left`: the customer deleted the member (churn); `removed`: the member deleted the customer. */
  status: 'left' | 'removed';
  dedupeKey: string;
}

/**
 * Ends one owner's relationship with a lead, unless a newer event already changed that owner (events run out of
 * order). With no active owner left after the customer left, the lead is lost (history kept). The enrollments that
 * member was sending move to another owner, or stop. Churn of an S or A lead alerts the ops group (when its grade's
 * churnAlert is on). Returns the lead, or null when it is not known (yet).
 */
export async function endOwnership(
  ctx: Pick<BotContext, 'corpId' | 'leads' | 'queues' | 'sequences' | 'scoring' | 'config' | 'redis' | 'keys' | 'wecom' | 'log' | 'channels'>,
  end: OwnershipEnd,
): Promise<LeadDoc | null> {
  const ref: LeadRef = { corpId: ctx.corpId, externalUserId: end.externalUserId };
  let change: StageChange | null = null;
  let applied = false;
  const lead = await ctx.leads.withLock(ref, async () => {
    const doc = await ctx.leads.mutateLocked(ref, null, (d) => {
      const owner = d.owners.find((o) => o.userId === end.userId);
      if (owner && (!owner.lastEventAt || owner.lastEventAt <= end.at)) {
        owner.status = end.status;
        owner.endedAt = end.at;
        owner.lastEventAt = end.at;
        applied = true;
      }
      if (end.status === 'left' && !d.owners.some((o) => o.status === 'active')) change = applyStage(d, 'lost', { by: 'system', source: 'churn' }, end.at);
    });
    if (change) {
      await recordStageChange(ref, change, { by: 'system', source: 'churn', actor: null, sourceKey: end.dedupeKey, at: end.at });
      await stopForStage(ctx, ref, 'lost');
    }
    return doc;
  });
  if (lead) await releaseOwner(ctx, ref, end.userId, (end.status === 'left' ? 'churn' : 'owner_removed') satisfies StopReason);
  // An older deletion than what the owner already shows (a late retry after a re-add) is history, not news.
  if (lead && applied && end.status === 'left') await alertChurn(ctx, lead, end);
  return lead;
}

/** How long a deletion handled before its add waits for that add: far longer than WeCom retries a callback [D:90930]. */
const EARLY_END_TTL_SECONDS = 7 * 86_400;

/**
 * Keeps a deletion unless the one kept is newer, in one step: two deletions of one relationship handled at once (the
 * member's and the customer's) could otherwise both find none kept, and the older be written last.
 */
const KEEP_NEWER = new LuaScript(`
local raw = redis.call('GET', KEYS[1])
if raw then
  local ok, kept = pcall(cjson.decode, raw)
  if ok and type(kept) == 'table' and type(kept.at) == 'number' and kept.at > tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
`);

/**
 * A deletion whose lead, or whose owner on it, was still unknown after its retries (its add is later still: a
 * callback retried late, a backlog): kept, so the add, when it comes, does not leave an owner active whose relationship
 * ended after it (applyEarlyEnd). The newest such deletion per member and customer is kept. The deletion is then tried
 * once more, for an add handled between its last try and the keeping; returns the lead as that try leaves it.
 */
export async function rememberEarlyEnd(ctx: Parameters<typeof endOwnership>[0] & Pick<BotContext, 'redis' | 'keys'>, end: OwnershipEnd): Promise<LeadDoc | null> {
  const key = ctx.keys.earlyOwnershipEnd(ctx.corpId, end.externalUserId, end.userId);
  await KEEP_NEWER.run(ctx.redis, [key], [end.at.getTime(), JSON.stringify({ at: end.at.getTime(), status: end.status, dedupeKey: end.dedupeKey }), EARLY_END_TTL_SECONDS]);
  const lead = await endOwnership(ctx, end);
  if (lead?.owners.some((o) => o.userId === end.userId)) await ctx.redis.del(key);
  return lead;
}

/**
 * After an add: a deletion of that member's relationship handled before it and newer than it (rememberEarlyEnd) is
 * applied now, as if it had come after the add (the owner ends, a lead left with no owner by its customer is lost, the
 * member's enrollments move or stop). True when one was applied.
 */
export async function applyEarlyEnd(ctx: Parameters<typeof endOwnership>[0] & Pick<BotContext, 'redis' | 'keys'>, add: { userId: string; externalUserId: string; at: Date }): Promise<boolean> {
  const key = ctx.keys.earlyOwnershipEnd(ctx.corpId, add.externalUserId, add.userId);
  const kept = parseEnd(await ctx.redis.get(key));
  if (!kept) return false;
  const applies = kept.at >= add.at.getTime();
  if (applies) await endOwnership(ctx, { userId: add.userId, externalUserId: add.externalUserId, at: new Date(kept.at), status: kept.status, dedupeKey: kept.dedupeKey });
  // Applied, or older than this add (a relationship that ended and began again): either way it is spent.
  await ctx.redis.del(key);
  return applies;
}

function parseEnd(raw: string | null): { at: number; status: OwnershipEnd['status']; dedupeKey: string } | null {
  if (!raw) return null;
  try {
    const v = JSON.parse(raw) as { at?: unknown; status?: unknown; dedupeKey?: unknown };
    return typeof v.at === 'number' && (v.status === 'left' || v.status === 'removed') && typeof v.dedupeKey === 'string' ? { at: v.at, status: v.status, dedupeKey: v.dedupeKey } : null;
  } catch {
    return null;
  }
}
