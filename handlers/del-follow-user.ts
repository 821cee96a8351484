import type { Handler } from '../src/router.js';
import { recordStep } from '../src/models/timeline.js';
import { stopEnrollments } from '../src/nurture/enrollments.js';

/** The customer deleted the member: churn. The lead is marked lost once no owner is left; history is kept. */
export const delFollowUser: Handler<'change_external_contact.del_follow_user'> = async (event, ctx) => {
  const at = new Date(event.CreateTime * 1000);
  const lead = await ctx.leads.mutate(ctx.corpId, event.ExternalUserID, null, (doc) => {
    const owner = doc.owners.find((o) => o.userId === event.UserID);
    if (owner && owner.status === 'active') {
      owner.status = 'left';
      owner.endedAt = at;
    }
    if (!doc.owners.some((o) => o.status === 'active') && doc.stage !== 'lost') {
      doc.stage = 'lost';
      doc.lostAt = at;
    }
  });
  // The customer left: no further nurture messages (the enrollment ends, its pending job is dropped).
  if (lead?.stage === 'lost') await stopEnrollments(ctx, ctx.corpId, event.ExternalUserID, 'churn');
  await recordStep({ corpId: ctx.corpId, externalUserId: event.ExternalUserID }, ctx.eventKey, 'churned', {
    owner: event.UserID,
    lost: lead?.stage === 'lost',
    knownLead: lead !== null,
  }, at);
};
