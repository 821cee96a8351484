import { jobIds } from '../../src/queues/job-ids.js';
import type { Handler } from '../../src/wecom/events/dispatcher.js';

/** A member edited the customer's remark or tags in the client: refresh tags and profile from WeCom. */
export const editExternalContact: Handler<'change_external_contact.edit_external_contact'> = async (event, ctx) => {
  const lead = { corpId: ctx.corpId, externalUserId: event.ExternalUserID };
  // Editing the customer in the client is an interaction with them [D:92135: mass tasks go to the last one].
  await ctx.leads.mutate(lead, null, (doc) => {
    const at = new Date(event.CreateTime * 1000);
    if (!doc.lastInteraction?.at || doc.lastInteraction.at <= at) doc.lastInteraction = { userId: event.UserID, at };
    if (!doc.followedUpAt || doc.followedUpAt < at) doc.followedUpAt = at;
  });
  await ctx.queues.add('contact-sync', { ...lead, userId: event.UserID, channelKey: null, dedupeKey: ctx.dedupeKey }, { jobId: jobIds.contactSync(ctx.dedupeKey) });
  ctx.log.info({ externalUserId: event.ExternalUserID, owner: event.UserID }, 'member edited the customer: tags and profile refresh scheduled');
};
