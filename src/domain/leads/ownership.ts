import type { BotContext } from '../../context.js';
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
