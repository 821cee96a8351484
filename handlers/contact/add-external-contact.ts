import { recordArrival } from '../../src/domain/leads/arrival.js';
import { applyEarlyEnd } from '../../src/domain/leads/ownership.js';
import { enroll } from '../../src/domain/nurture/enroll.js';
import type { Handler } from '../../src/wecom/events/dispatcher.js';
import { jobIds } from '../../src/queues/job-ids.js';

/** How long contact sync waits after an add that gets a welcome. */
export const CONTACT_SYNC_DELAY_MS = 3_000;

type AddKey = 'change_external_contact.add_external_contact' | 'change_external_contact.add_half_external_contact';

/**
 * A customer added a member (scanned a channel's 联系我 code, or any other way). The welcome was scheduled when the
 * callback was ingested; here the lead is recorded, enrolled in the channel's sequence, and tagging and profile are
 * scheduled.
 */
export const addExternalContact: Handler<AddKey> = async (event, ctx) => {
  const at = new Date(event.CreateTime * 1000);
  const channel = await recordArrival(ctx, {
    userId: event.UserID,
    externalUserId: event.ExternalUserID,
    state: event.State ?? null,
    half: event.ChangeType === 'add_half_external_contact',
    welcomeCode: Boolean(event.WelcomeCode),
    at,
    dedupeKey: ctx.dedupeKey,
  });
  const lead = { corpId: ctx.corpId, externalUserId: event.ExternalUserID };
  // A deletion of this relationship handled before this add, and newer than it, ends it now (before any enrollment).
  await applyEarlyEnd(ctx, { userId: event.UserID, externalUserId: event.ExternalUserID, at });
  if (channel.sequence) await enroll(ctx, lead, channel.sequence, event.UserID, at.getTime());
  // Tagging and the profile are not urgent: a few seconds later, so a burst of adds spends its API quota on the
  // welcomes first, and the welcome's name lookup can be reused (one externalcontact/get per contact).
  await ctx.queues.add(
    'contact-sync',
    { ...lead, userId: event.UserID, channelKey: channel.key, dedupeKey: ctx.dedupeKey },
    { jobId: jobIds.contactSync(ctx.dedupeKey), delay: event.WelcomeCode && channel.welcome ? CONTACT_SYNC_DELAY_MS : 0 },
  );
  ctx.log.info({ externalUserId: event.ExternalUserID, channel: channel.key, owner: event.UserID }, 'new contact recorded');
};
