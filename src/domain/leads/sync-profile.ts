import type { BotContext } from '../../context.js';
import { WecomApiError } from '../../errors.js';
import type { LeadRef } from '../../store/models/lead.js';
import { recordStep } from '../../store/timeline.js';
import type { ExternalContactResponse } from '../../wecom/types.js';
import { corpTagGeneration, recheckIfNamesMoved } from './corp-tag-changes.js';
import { applyMarkedTags, applyProfile } from './profile.js';
import { cachedProfile, dropProfile } from './profile-cache.js';

/** 40068: invalid tag id [D:92117]. */
const INVALID_TAG = 40068;

/** What a contact sync is about: the lead, the member, the channel whose tags to mark (if any), the source event. */
export interface ContactSync {
  lead: LeadRef;
  userId: string;
  channelKey: string | null;
  dedupeKey: string;
}

type Ctx = Pick<BotContext, 'channels' | 'tags' | 'wecom' | 'redis' | 'keys' | 'leads' | 'queues'>;

/**
 * Marks the arrival channel's corp tags on the customer (mark_tag is idempotent, so safe to retry) and refreshes the
 * lead's profile and tags from externalcontact/get. Retryable WeCom errors throw (the job backs off); permanent ones
 * (e.g. 84061: the relationship is gone) are recorded and end the sync. Returns what happened.
 */
export async function syncContact(ctx: Ctx, s: ContactSync): Promise<'synced' | 'profile_failed'> {
  const source = `sync|${s.dedupeKey}`;
  // The add may have been planned and handled in other processes: a channel created by command there since this
  // process started is loaded before its tags are looked up (docs/architecture.md, "Channels created by command").
  await ctx.channels.ensure(s.channelKey);
  const channel = s.channelKey ? ctx.channels.get(s.channelKey) : undefined;
  // Tag names read from here on may be renamed in WeCom before the lead is saved (docs/architecture.md, "Tags renamed
  // or deleted in WeCom").
  const generation = await corpTagGeneration(ctx);
  let marked: Array<{ group: string; name: string; id: string }> = [];
  if (channel?.tags.length) {
    try {
      const mark = async () => {
        const ids = await ctx.tags.resolve(channel.tags);
        await ctx.wecom.markTag({ userid: s.userId, external_userid: s.lead.externalUserId, add_tag: ids });
        marked = channel.tags.map((t, i) => ({ ...t, id: ids[i]! }));
      };
      try {
        await mark();
      } catch (err) {
        if (!(err instanceof WecomApiError) || err.errcode !== INVALID_TAG) throw err;
        // A cached id is stale (an admin deleted or recreated the tag): resolve the names again, once.
        await ctx.tags.forget(channel.tags);
        await mark();
      }
      await recordStep(s.lead, source, 'tags_marked', { channel: channel.key, tags: channel.tags.map((t) => `${t.group}/${t.name}`) });
    } catch (err) {
      if (!(err instanceof WecomApiError) || err.retryable) throw err;
      await recordStep(s.lead, source, 'tags_failed', { errcode: err.errcode, reason: err.errmsg });
    }
  }

  let res: ExternalContactResponse;
  try {
    // The welcome fetched it seconds ago when it needed the name; marked tags are added below either way.
    res = (s.channelKey ? await cachedProfile(ctx, s.lead) : null) ?? (await ctx.wecom.getExternalContact(s.lead.externalUserId));
  } catch (err) {
    if (!(err instanceof WecomApiError) || err.retryable) throw err;
    await recordStep(s.lead, source, 'profile_failed', { errcode: err.errcode, reason: err.errmsg });
    return 'profile_failed';
  }
  // A lead we have never seen (added before the bot ran) is created from WeCom's own record of the add.
  const follow = res.follow_user?.find((f) => f.userid === s.userId);
  await ctx.channels.ensure(follow?.state);
  const firstTouch = {
    channelKey: ctx.channels.resolve(follow?.state).key,
    userId: s.userId,
    at: new Date((follow?.createtime ?? Math.floor(Date.now() / 1000)) * 1000),
  };
  const saved = await ctx.leads.mutate(s.lead, firstTouch, (doc) => {
    if (!doc.owners.some((o) => o.userId === s.userId) && follow) {
      doc.owners.push({ userId: s.userId, channelKey: firstTouch.channelKey, state: follow.state ?? null, addedAt: firstTouch.at });
    }
    applyProfile(doc, res);
    applyMarkedTags(doc, s.userId, marked);
  });
  await dropProfile(ctx, s.lead);
  if (!saved) throw new Error('lead could not be saved');
  await recheckIfNamesMoved(ctx, generation);
  await recordStep(s.lead, source, 'profile_synced', { name: saved.name, industry: saved.industry, tags: saved.tags.length });
  return 'synced';
}
