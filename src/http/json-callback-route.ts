import type Router from '@koa/router';
import { callbacks } from '../metrics.js';
import { encryptJsonReply, jsonEnvelopeEncrypt, parseJsonMessage } from '../wecom/callback/json.js';
import { classifyEvent, type AnyEvent, type EventKey, type ParsedEvent } from '../wecom/events/index.js';
import { acknowledgeUnknown, mountUrlVerification, openPayload, readBody, signedQueryOf, type ReceiverOptions } from './callback-request.js';

/** A JSON event, validated: what the answering function gets. */
export interface JsonEvent {
  key: EventKey;
  event: AnyEvent;
  dedupeKey: string;
  receivedAt: number;
}

export interface JsonCallbackRouteOptions extends ReceiverOptions {
  /**
   * Answers one event with the plaintext of the passive reply (encrypted here), or null for an empty body. It must
   * answer fast: WeCom waits about 5 s; slow work goes to a job and answers later (e.g. through a response_url).
   */
  answer(event: JsonEvent): Promise<unknown>;
  /** How decrypted messages are classified (default: the event families' registry). */
  classify?: (fields: Record<string, unknown>) => ParsedEvent;
}

/**
 * The JSON callback endpoint (the 智能机器人 in API mode): the same signature and AES scheme as the XML channels with
 * receiveid "", the body `{"encrypt"}`, and a passive reply in encrypted JSON `{encrypt, msgsignature, timestamp,
 * nonce}` [D:101033, D:101031]. Bad input gets the same precise 4xx as the XML receiver, never a 5xx.
 */
export function mountJsonCallbackRoute(router: Router, path: string, opts: JsonCallbackRouteOptions): void {
  const now = opts.now ?? Date.now;
  mountUrlVerification(router, path, opts);

  router.post(path, async (ctx) => {
    const q = signedQueryOf(ctx.query);
    const encrypted = jsonEnvelopeEncrypt(await readBody(ctx.req, opts.bodyLimitBytes));
    const fields = parseJsonMessage(openPayload(opts, q, encrypted));
    const parsed = opts.classify ? opts.classify(fields) : classifyEvent(fields, 'json');
    if (parsed.kind === 'unknown') return acknowledgeUnknown(ctx, parsed.key);
    const reply = await opts.answer({ key: parsed.key, event: parsed.event, dedupeKey: parsed.dedupeKey, receivedAt: now() });
    callbacks.inc({ outcome: 'answered' });
    ctx.status = 200;
    if (reply === null || reply === undefined) {
      ctx.body = '';
      return;
    }
    ctx.type = 'application/json';
    ctx.body = encryptJsonReply(opts.credentials, reply, q.nonce, now());
  });
}
