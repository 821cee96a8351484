import { recordStep } from '../../src/store/timeline.js';
import type { Handler } from '../../src/wecom/events/dispatcher.js';
import { endOrKeepForAdd } from './wait-for-add.js';

/**
 * The customer deleted the member: churn. The lead is lost once no owner is left (history kept), and the enrollments
 * that member was sending go to another owner or, with none left, stop.
 */
export const delFollowUser: Handler<'change_external_contact.del_follow_user'> = async (event, ctx) => {
  const at = new Date(event.CreateTime * 1000);
  const lead = await endOrKeepForAdd(ctx, { userId: event.UserID, externalUserId: event.ExternalUserID, at, status: 'left', dedupeKey: ctx.dedupeKey });
  await recordStep({ corpId: ctx.corpId, externalUserId: event.ExternalUserID }, ctx.dedupeKey, 'churned', { owner: event.UserID, lost: lead?.stage === 'lost', knownLead: lead !== null }, at);
  ctx.log.info({ externalUserId: event.ExternalUserID, owner: event.UserID, lost: lead?.stage === 'lost' }, 'customer deleted the member');
};
