import { UnrecoverableError, type Job } from 'bullmq';
import type { BotContext } from '../src/context.js';
import { applyMarkedTags, applyProfile, profileCacheKey } from '../src/domain/leads/profile.js';
import type { ExternalContactResponse } from '../src/wecom/types.js';
import { WecomApiError } from '../src/errors.js';
import { recordStep } from '../src/store/models/timeline.js';
import type { ContactSyncJobData } from '../src/queues/index.js';

/** 40068: invalid tag id [D:92117]. */
const INVALID_TAG = 40068;

/**
 * Marks the arrival channel's corp tags on the customer (idempotent, so safe to retry) and refreshes the lead's
 * profile and tags from externalcontact/get. Retryable WeCom errors throw so BullMQ backs off; permanent ones
 * (e.g. 84061 the relationship is gone) are recorded and end the job.
 */
export async function syncContact(job: Job<ContactSyncJobData>, ctx: BotContext): Promise<string> {
  const d = job.data;
  const lead = { corpId: d.corpId, externalUserId: d.externalUserId };
  const source = `sync|${d.eventKey}`;
  const channel = d.channelKey ? ctx.channels.get(d.channelKey) : undefined;

  let marked: Array<{ group: string; name: string; id: string }> = [];
  if (channel?.tags.length) {
    try {
      const mark = async () => {
        const ids = await ctx.tags.resolve(channel.tags);
        await ctx.wecom.markTag({ userid: d.userId, external_userid: d.externalUserId, add_tag: ids });
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
      await recordStep(lead, source, 'tags_marked', { channel: channel.key, tags: channel.tags.map((t) => `${t.group}/${t.name}`) });
    } catch (err) {
      if (!(err instanceof WecomApiError) || err.retryable) throw err;
      await recordStep(lead, source, 'tags_failed', { errcode: err.errcode, reason: err.errmsg });
    }
  }

  let res: ExternalContactResponse;
  const cacheKey = profileCacheKey(ctx.config.QUEUE_PREFIX, d.corpId, d.externalUserId);
  try {
    // The welcome job fetched it seconds ago when it needed the name; marked tags are added below either way.
    const cached = d.channelKey ? await ctx.redis.get(cacheKey) : null;
    res = cached ? (JSON.parse(cached) as ExternalContactResponse) : await ctx.wecom.getExternalContact(d.externalUserId);
  } catch (err) {
    if (!(err instanceof WecomApiError) || err.retryable) throw err;
    await recordStep(lead, source, 'profile_failed', { errcode: err.errcode, reason: err.errmsg });
    return 'profile_failed';
  }
  // A lead we have never seen (added before the bot ran) is created from WeCom's own record of the add.
  const follow = res.follow_user?.find((f) => f.userid === d.userId);
  const firstTouch = {
    channelKey: ctx.channels.resolve(follow?.state).key,
    userId: d.userId,
    at: new Date((follow?.createtime ?? Math.floor(Date.now() / 1000)) * 1000),
  };
  const saved = await ctx.leads.mutate(d.corpId, d.externalUserId, firstTouch, (doc) => {
    if (!doc.owners.some((o) => o.userId === d.userId) && follow) {
      doc.owners.push({ userId: d.userId, channelKey: firstTouch.channelKey, state: follow.state ?? null, addedAt: firstTouch.at });
    }
    applyProfile(doc, res);
    applyMarkedTags(doc, d.userId, marked);
  });
  await ctx.redis.del(cacheKey);
  if (!saved) throw new UnrecoverableError('lead could not be saved');
  await recordStep(lead, source, 'profile_synced', { name: saved.name, industry: saved.industry, tags: saved.tags.length });
  return 'synced';
}
