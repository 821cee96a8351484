import type Router from '@koa/router';
import type { InboxWriter } from '../inbox/writer.js';
import { callbacks } from '../metrics.js';
import { envelopeEncrypt, parseXml } from '../wecom/callback/xml.js';
import { classifyEvent } from '../wecom/events/index.js';
import { acknowledgeUnknown, mountUrlVerification, openPayload, readBody, signedQueryOf, type ReceiverOptions } from './callback-request.js';

export interface CallbackRouteOptions extends ReceiverOptions {
  inbox: Pick<InboxWriter, 'append'>;
}

/**
 * The XML callback endpoint (the app's 接收消息 URL: 客户联系 and 微信客服 events) [D:90968, D:90930]. GET answers URL
 * verification; POST is thin by design: verify, decrypt, parse, validate, store in the inbox, answer 200 with an empty
 * body. No business work happens here: WeCom retries after 5 s and welcome codes expire after 20 s.
 */
export function mountCallbackRoute(router: Router, path: string, opts: CallbackRouteOptions): void {
  const now = opts.now ?? Date.now;
  mountUrlVerification(router, path, opts);

  router.post(path, async (ctx) => {
    const q = signedQueryOf(ctx.query);
    const encrypted = envelopeEncrypt(await readBody(ctx.req, opts.bodyLimitBytes));
    const parsed = classifyEvent(parseXml(openPayload(opts, q, encrypted)), 'xml');
    if (parsed.kind === 'unknown') return acknowledgeUnknown(ctx, parsed.key);
    await opts.inbox.append({ key: parsed.key, event: parsed.event, dedupeKey: parsed.dedupeKey, receivedAt: now() });
    callbacks.inc({ outcome: 'enqueued' });
    ctx.status = 200;
    ctx.body = '';
  });
}
