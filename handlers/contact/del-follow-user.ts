import type { Handler } from '../../src/wecom/events/dispatcher.js';
import { recordStep } from '../../src/store/models/timeline.js';
import { releaseOwner } from '../../src/domain/nurture/enrollments.js';
import { endOwnership } from './end-ownership.js';

/**
 * The customer deleted the member: churn. The lead is marked lost once no owner is left (history kept), and the
 * enrollments that member was sending are handed to another owner or, with none left, stopped.
 */
export const delFollowUser: Handler<'change_external_contact.del_follow_user'> = async (event, ctx) => {
  const lead = await endOwnership(event, ctx, 'left');
  if (lead) await releaseOwner(ctx, ctx.corpId, event.ExternalUserID, event.UserID, 'churn');
  await recordStep({ corpId: ctx.corpId, externalUserId: event.ExternalUserID }, ctx.eventKey, 'churned', {
    owner: event.UserID,
    lost: lead?.stage === 'lost',
    knownLead: lead !== null,
  }, new Date(event.CreateTime * 1000));
};
