import { z } from 'zod';
import { defineFamily, keyPart } from './family.js';

/**
 * 微信客服 callbacks [D:94670]: one key, `kf_msg_or_event`. The callback carries no content, only a Token (valid
 * 10 min, to pull with kf/sync_msg) and the account (OpenKfId). WeCom issues a token per callback and a retried
 * callback repeats it, so two callbacks are the same exactly when corp, account and Token are: that is the dedupe key.
 * Two distinct callbacks for one account are both kept; their syncs coalesce later (src/domain/kf/sync.ts) and each
 * message is handled once by its msgid, whatever the callbacks do.
 */
export const kfEvents = defineFamily({
  name: 'kf',
  transport: 'xml',
  schemas: {
    kf_msg_or_event: z.object({
      ToUserName: z.string().min(1),
      CreateTime: z.coerce.number().int().nonnegative(),
      MsgType: z.literal('event'),
      Event: z.literal('kf_msg_or_event'),
      Token: z.string().min(1).max(128),
      OpenKfId: z.string().min(1),
    }),
  },
  keyOf: (fields) => (fields.Event === 'kf_msg_or_event' ? 'kf_msg_or_event' : null),
  dedupeKey: (e) => [e.Event, e.ToUserName, e.OpenKfId, e.Token].map(keyPart).join('|'),
  // Its handler only asks for a sync (a counter and the token in Redis): a retried callback asks again, harmlessly.
  inline: ['kf_msg_or_event'],
});
