import { recordStep } from '../../src/store/timeline.js';
import type { Handler } from '../../src/wecom/events/dispatcher.js';

/** A succession (transfer) of the customer to another member failed: record why [D:92125]. */
export const transferFail: Handler<'change_external_contact.transfer_fail'> = async (event, ctx) => {
  await recordStep({ corpId: ctx.corpId, externalUserId: event.ExternalUserID }, ctx.dedupeKey, 'transfer_failed', {
    takeover: event.UserID,
    reason: event.FailReason ?? null,
  }, new Date(event.CreateTime * 1000));
  ctx.log.info({ externalUserId: event.ExternalUserID, takeover: event.UserID, reason: event.FailReason ?? null }, 'customer transfer failed');
};
