import type { Handler } from '../../src/wecom/events/dispatcher.js';
import { recordStep } from '../../src/store/models/timeline.js';
import { releaseOwner } from '../../src/domain/nurture/enrollments.js';
import { endOwnership } from './end-ownership.js';

/** The member deleted the customer (or a succession did, Source = DELETE_BY_TRANSFER): record it on the owner. */
export const delExternalContact: Handler<'change_external_contact.del_external_contact'> = async (event, ctx) => {
  const lead = await endOwnership(event, ctx, 'removed');
  if (lead) await releaseOwner(ctx, ctx.corpId, event.ExternalUserID, event.UserID, 'owner_removed');
  await recordStep({ corpId: ctx.corpId, externalUserId: event.ExternalUserID }, ctx.eventKey, 'removed_by_owner', {
    owner: event.UserID,
    source: event.Source ?? null,
  }, new Date(event.CreateTime * 1000));
};
