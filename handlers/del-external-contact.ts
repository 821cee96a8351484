import type { Handler } from '../src/router.js';
import { recordStep } from '../src/models/timeline.js';

/** The member deleted the customer (or a succession did, Source = DELETE_BY_TRANSFER): record it on the owner. */
export const delExternalContact: Handler<'change_external_contact.del_external_contact'> = async (event, ctx) => {
  const at = new Date(event.CreateTime * 1000);
  await ctx.leads.mutate(ctx.corpId, event.ExternalUserID, null, (doc) => {
    const owner = doc.owners.find((o) => o.userId === event.UserID);
    if (owner && owner.status === 'active') {
      owner.status = 'removed';
      owner.endedAt = at;
    }
  });
  await recordStep({ corpId: ctx.corpId, externalUserId: event.ExternalUserID }, ctx.eventKey, 'removed_by_owner', {
    owner: event.UserID,
    source: event.Source ?? null,
  }, at);
};
