import { requestSync } from '../../src/domain/kf/sync.js';
import type { Handler } from '../../src/wecom/events/dispatcher.js';

/**
 * 微信客服 has news for an account [D:94670]: the callback carries only a token (valid 10 min) and the account, so the
 * handler keeps the token and asks for a sync of the account; syncs of one account run one at a time and coalesce
 * (src/domain/kf/sync.ts). Run by the inbox ingest itself (the family lists the key as inline): cheap, and harmless
 * twice.
 */
export const kfMsgOrEvent: Handler<'kf_msg_or_event'> = async (event, ctx) => {
  const n = await requestSync(ctx, event.OpenKfId, event.Token);
  ctx.log.debug({ openKfid: event.OpenKfId, request: n }, 'kf sync requested');
};
