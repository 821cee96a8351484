import type { Handler } from '../../src/wecom/events/dispatcher.js';
import { recordStep } from '../../src/store/models/timeline.js';

/** A succession (transfer) of the customer to another member failed: record why. */
export const transferFail: Handler<'change_external_contact.transfer_fail'> = async (event, ctx) => {
  await recordStep({ corpId: ctx.corpId, externalUserId: event.ExternalUserID }, ctx.eventKey, 'transfer_failed', {
    takeover: event.UserID,
    reason: event.FailReason ?? null,
  }, new Date(event.CreateTime * 1000));
};
