import { recordStep } from '../../src/store/timeline.js';
import type { Handler } from '../../src/wecom/events/dispatcher.js';
import { endOrKeepForAdd, waitForTakeover } from './wait-for-add.js';

/** The member deleted the customer (or a succession did, Source = DELETE_BY_TRANSFER): the owner is removed. */
export const delExternalContact: Handler<'change_external_contact.del_external_contact'> = async (event, ctx) => {
  const at = new Date(event.CreateTime * 1000);
  if (event.Source === 'DELETE_BY_TRANSFER') await waitForTakeover(ctx, event.ExternalUserID, event.UserID);
  const lead = await endOrKeepForAdd(ctx, { userId: event.UserID, externalUserId: event.ExternalUserID, at, status: 'removed', dedupeKey: ctx.dedupeKey });
  await recordStep({ corpId: ctx.corpId, externalUserId: event.ExternalUserID }, ctx.dedupeKey, 'removed_by_owner', { owner: event.UserID, source: event.Source ?? null }, at);
  ctx.log.info({ externalUserId: event.ExternalUserID, owner: event.UserID, source: event.Source ?? null, lost: lead?.stage === 'lost' }, 'member deleted the customer');
};
