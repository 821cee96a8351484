import { endOwnership, rememberEarlyEnd } from '../../src/domain/leads/ownership.js';
import { recordStep } from '../../src/store/timeline.js';
import type { Handler } from '../../src/wecom/events/dispatcher.js';
import { waitForAdd } from './wait-for-add.js';

/**
 * The customer deleted the member: churn. The lead is lost once no owner is left (history kept), and the enrollments
 * that member was sending go to another owner or, with none left, stop.
 */
export const delFollowUser: Handler<'change_external_contact.del_follow_user'> = async (event, ctx) => {
  const at = new Date(event.CreateTime * 1000);
  const end = { userId: event.UserID, externalUserId: event.ExternalUserID, at, status: 'left' as const, dedupeKey: ctx.dedupeKey };
  let lead = await endOwnership(ctx, end);
  // Not known yet, the lead or this owner of it: the add may still be in flight (events run concurrently). Retried
  // briefly; then kept for the add, whenever it comes.
  if (!lead?.owners.some((o) => o.userId === event.UserID)) {
    waitForAdd(ctx, event.ExternalUserID);
    lead = await rememberEarlyEnd(ctx, end);
  }
  await recordStep({ corpId: ctx.corpId, externalUserId: event.ExternalUserID }, ctx.dedupeKey, 'churned', { owner: event.UserID, lost: lead?.stage === 'lost', knownLead: lead !== null }, at);
  ctx.log.info({ externalUserId: event.ExternalUserID, owner: event.UserID, lost: lead?.stage === 'lost' }, 'customer deleted the member');
};
