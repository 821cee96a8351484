import type { BotContext } from '../../src/context.js';
import type { Handler } from '../../src/wecom/events/dispatcher.js';
import { recordStep } from '../../src/store/models/timeline.js';
import { enroll } from '../../src/domain/nurture/enrollments.js';
import type { EventJobData, WelcomeJobData } from '../../src/queues/index.js';

/** WelcomeCodes live 20 s from the event [D:92137]; keep a margin for the send itself. */
export const WELCOME_WINDOW_MS = 20_000;
const WELCOME_MARGIN_MS = 1_000;
/** How long contact sync waits after an add that gets a welcome. */
export const CONTACT_SYNC_DELAY_MS = 3_000;

type AddKey = 'change_external_contact.add_external_contact' | 'change_external_contact.add_half_external_contact';

/**
 * The welcome job of a callback, or null when it gets none: a new contact with a WelcomeCode whose channel has a
 * welcome. Created by the inbox ingest together with the event's own job, so the 20 s window never waits behind
 * other events in the `events` queue.
 */
export function welcomeJobFor(ctx: Pick<BotContext, 'channels' | 'corpId'>, data: EventJobData): { data: WelcomeJobData; jobId: string } | null {
  const { event } = data;
  if (event.ChangeType !== 'add_external_contact' && event.ChangeType !== 'add_half_external_contact') return null;
  const channel = ctx.channels.resolve(event.State);
  if (!event.WelcomeCode || !channel.welcome) return null;
  return {
    jobId: `welcome|${data.dedupeKey}`,
    data: {
      corpId: ctx.corpId,
      externalUserId: event.ExternalUserID,
      userId: event.UserID,
      channelKey: channel.key,
      welcomeCode: event.WelcomeCode,
      eventKey: data.dedupeKey,
      receivedAt: data.receivedAt,
      // The code's 20 s run from WeCom's event, which may be older than our receipt (a retried callback).
      deadline: Math.min(data.receivedAt, event.CreateTime * 1000 + 999) + WELCOME_WINDOW_MS - WELCOME_MARGIN_MS,
    },
  };
}

/**
 * A customer added a member (scanned a channel's 联系我 code, or any other way). The welcome was scheduled when the
 * callback was ingested (welcomeJobFor); here the lead is recorded with this touch, then tagging + profile are
 * scheduled.
 */
export const addExternalContact: Handler<AddKey> = async (event, ctx) => {
  const channel = ctx.channels.resolve(event.State);
  const lead = { corpId: ctx.corpId, externalUserId: event.ExternalUserID };
  const half = event.ChangeType === 'add_half_external_contact';

  const at = new Date(event.CreateTime * 1000);
  await ctx.leads.mutate(lead.corpId, lead.externalUserId, { channelKey: channel.key, userId: event.UserID, at }, (doc) => {
    if (!doc.touches.some((t) => t.eventKey === ctx.eventKey)) {
      doc.touches.push({ eventKey: ctx.eventKey, kind: half ? 'add_half' : 'add', channelKey: channel.key, userId: event.UserID, at });
    }
    const owner = doc.owners.find((o) => o.userId === event.UserID);
    if (!owner) {
      doc.owners.push({ userId: event.UserID, channelKey: channel.key, state: event.State ?? null, addedAt: at, pending: half, lastEventAt: at });
    } else if (!owner.lastEventAt || owner.lastEventAt <= at) {
      // Events can be handled out of order: only a newer add re-activates an owner who was deleted.
      owner.status = 'active';
      owner.pending = half;
      owner.endedAt = null;
      owner.lastEventAt = at;
    }
    // A lead who comes back after deleting us is a lead again, with the history kept.
    if (doc.stage === 'lost' && doc.owners.some((o) => o.status === 'active')) doc.stage = 'added';
  });
  await recordStep(lead, ctx.eventKey, half ? 'added_half' : 'added', {
    channel: channel.key,
    state: event.State ?? null,
    owner: event.UserID,
  }, at);

  if (!event.WelcomeCode) {
    // No code: an admin-configured welcome exists or WeCom gave none; sending is not ours to do [D:92130].
    await recordStep(lead, ctx.eventKey, 'welcome_skipped', { reason: 'no_welcome_code' });
  } else if (!channel.welcome) {
    await recordStep(lead, ctx.eventKey, 'welcome_skipped', { reason: 'channel_has_no_welcome', channel: channel.key });
  }

  if (channel.sequence) await enroll(ctx, lead, channel.sequence, event.UserID, at.getTime());

  // Tagging and the profile are not urgent: a few seconds later, so a burst of adds spends its API quota on the
  // welcomes first, and the welcome's name lookup can be reused (one externalcontact/get per contact).
  await ctx.queues.contactSync.add(
    'sync',
    { ...lead, userId: event.UserID, channelKey: channel.key, eventKey: ctx.eventKey },
    { jobId: `sync|${ctx.eventKey}`, delay: event.WelcomeCode && channel.welcome ? CONTACT_SYNC_DELAY_MS : 0 },
  );
};
