import type { Channel } from '../../content/channels.js';
import type { BotContext } from '../../context.js';
import type { LeadRef } from '../../store/models/lead.js';
import { recordStep } from '../../store/timeline.js';
import { addTouch } from '../../store/touch-log.js';
import type { ServiceFrom } from '../nurture/service-sequence.js';
import { cachedProfile } from './profile-cache.js';
import { applyStage, enteredStage, recordStageChange, returnStage, serviceFrom, type StageChange } from './stage.js';

/** A customer adding a member, as the add event tells it. */
export interface Arrival {
  userId: string;
  externalUserId: string;
  state: string | null;
  /** add_half_external_contact: the member has not confirmed yet. */
  half: boolean;
  welcomeCode: boolean;
  at: Date;
  /** The event's dedupe key: the source of everything recorded. */
  dedupeKey: string;
}

/**
 * Records a customer's arrival on their lead: created on first touch, attributed to the channel of the 联系我 state
 * (unknown or no state: organic), the member as an (active again) owner and the last member who interacted, the
 * touch and the timeline entry. Events run out of order, so only a newer add re-activates an owner who was deleted.
 * A lead who comes back after deleting us is back in the funnel at the stage it had (an existing customer stays a
 * customer), with the history kept.
 */
export async function recordArrival(ctx: Pick<BotContext, 'corpId' | 'channels' | 'leads' | 'queues' | 'sequences' | 'redis' | 'keys'>, a: Arrival): Promise<Channel> {
  await ctx.channels.ensure(a.state);
  const channel = ctx.channels.resolve(a.state);
  const lead: LeadRef = { corpId: ctx.corpId, externalUserId: a.externalUserId };
  const known = (await cachedProfile(ctx, lead))?.external_contact;
  let change: StageChange | null = null;
  let from: ServiceFrom = { channelKey: null, owner: null };
  await ctx.leads.withLock(lead, async () => {
    await ctx.leads.mutateLocked(lead, { channelKey: channel.key, userId: a.userId, at: a.at }, (doc) => {
      // The name the welcome just read, so staff find the lead by it at once (the profile sync follows seconds later).
      doc.name ??= known?.name ?? null;
      doc.corpName ??= known?.corp_name ?? null;
      addTouch(doc, { eventKey: a.dedupeKey, kind: a.half ? 'add_half' : 'add', channelKey: channel.key, userId: a.userId, at: a.at });
      const owner = doc.owners.find((o) => o.userId === a.userId);
      if (!owner) {
        doc.owners.push({ userId: a.userId, channelKey: channel.key, state: a.state, addedAt: a.at, pending: a.half, lastEventAt: a.at });
      } else if (!owner.lastEventAt || owner.lastEventAt <= a.at) {
        owner.status = 'active';
        owner.pending = a.half;
        owner.endedAt = null;
        owner.lastEventAt = a.at;
      }
      if (!doc.lastInteraction?.at || doc.lastInteraction.at <= a.at) doc.lastInteraction = { userId: a.userId, at: a.at };
      doc.reached ??= {};
      doc.reached.added ??= doc.firstTouch?.at ?? a.at;
      if (doc.stage === 'lost' && doc.owners.some((o) => o.status === 'active')) change = applyStage(doc, returnStage(doc), { by: 'system', source: 'return' }, a.at);
      from = serviceFrom(doc);
    });
    if (change) {
      const moved = change as StageChange;
      await recordStageChange(lead, moved, { by: 'system', source: 'return', sourceKey: a.dedupeKey, at: a.at });
      await enteredStage(ctx, lead, moved, from);
    }
  });
  await recordStep(lead, a.dedupeKey, a.half ? 'added_half' : 'added', { channel: channel.key, state: a.state, owner: a.userId }, a.at);
  if (!a.welcomeCode) {
    // No code: an admin-configured welcome exists or WeCom gave none; sending is not ours to do [D:92130].
    await recordStep(lead, a.dedupeKey, 'welcome_skipped', { reason: 'no_welcome_code' });
  } else if (!channel.welcome) {
    await recordStep(lead, a.dedupeKey, 'welcome_skipped', { reason: 'channel_has_no_welcome', channel: channel.key });
  }
  return channel;
}
