import type { Handler } from '../../src/wecom/events/dispatcher.js';

/** A member edited the customer's remark or tags in the client: refresh tags and profile from WeCom. */
export const editExternalContact: Handler<'change_external_contact.edit_external_contact'> = async (event, ctx) => {
  await ctx.queues.contactSync.add(
    'sync',
    { corpId: ctx.corpId, externalUserId: event.ExternalUserID, userId: event.UserID, channelKey: null, eventKey: ctx.eventKey },
    { jobId: `sync|${ctx.eventKey}` },
  );
};
