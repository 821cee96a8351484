import { requestCorpTagCheck } from '../../src/domain/leads/corp-tag-changes.js';
import type { Handler } from '../../src/wecom/events/dispatcher.js';

type TagKey = 'change_external_tag.update' | 'change_external_tag.delete';

/**
 * A corp tag or tag group was renamed or deleted in WeCom [D:92130]: the names the bot keeps (its id cache, each lead's
 * tags, what campaign segments match) are checked against WeCom's list in a `corp-tags` job.
 */
export const changeExternalTag: Handler<TagKey> = async (event, ctx) => {
  const n = await requestCorpTagCheck(ctx);
  ctx.log.info({ id: event.Id, tagType: event.TagType, change: event.ChangeType, request: n }, 'corp tag changed in WeCom: tag names check scheduled');
};
