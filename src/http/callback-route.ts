import type Router from '@koa/router';
import getRawBody from 'raw-body';
import { z } from 'zod';
import { CallbackError, ErrorCode } from '../errors.js';
import { callbacks } from '../metrics.js';
import type { Queues } from '../queues/index.js';
import { decryptPayload, verifySignature, type CallbackCredentials } from '../wecom/callback/crypto.js';
import { classifyEvent, envelopeEncrypt, parseXml } from '../wecom/events/contact.js';

export interface CallbackRouteOptions {
  credentials: CallbackCredentials;
  maxSkewSeconds: number;
  bodyLimitBytes: number;
  queues: Pick<Queues, 'enqueueEvent'>;
  now?: () => number;
}

const signedQuery = z.object({ msg_signature: z.string().min(1), timestamp: z.string().min(1), nonce: z.string().min(1) });
const verifyQuery = signedQuery.extend({ echostr: z.string().min(1) });

function parseQuery<S extends z.ZodTypeAny>(schema: S, query: unknown): z.infer<S> {
  const parsed = schema.safeParse(query);
  if (!parsed.success) {
    const missing = parsed.error.issues.map((i) => i.path.join('.')).join(', ');
    throw new CallbackError(ErrorCode.PayloadMalformed, `missing or invalid query parameter(s): ${missing}`, 400);
  }
  return parsed.data;
}

/**
 * The WeCom callback endpoint: GET for URL verification, POST for events [D:90968, D:90930]. Thin by design:
 * verify, decrypt, validate, enqueue, answer 200 with an empty body. No business work happens here.
 */
export function mountCallbackRoute(router: Router, path: string, opts: CallbackRouteOptions): void {
  const now = opts.now ?? Date.now;

  router.get(path, (ctx) => {
    const q = parseQuery(verifyQuery, ctx.query);
    const check = { maxSkewSeconds: opts.maxSkewSeconds, nowMs: now() };
    let echostr = q.echostr;
    try {
      verifySignature(opts.credentials, q, echostr, check);
    } catch (err) {
      // A '+' that was not percent-encoded arrives as a space after query decoding.
      if (!echostr.includes(' ')) throw err;
      echostr = echostr.replace(/ /g, '+');
      verifySignature(opts.credentials, q, echostr, check);
    }
    ctx.type = 'text/plain';
    ctx.body = decryptPayload(opts.credentials, echostr);
    callbacks.inc({ outcome: 'url_verified' });
  });

  router.post(path, async (ctx) => {
    const q = parseQuery(signedQuery, ctx.query);
    const encrypted = envelopeEncrypt(await readBody(ctx.req, opts.bodyLimitBytes));
    verifySignature(opts.credentials, q, encrypted, { maxSkewSeconds: opts.maxSkewSeconds, nowMs: now() });
    const plaintext = decryptPayload(opts.credentials, encrypted);
    const parsed = classifyEvent(parseXml(plaintext));
    if (parsed.kind === 'unknown') {
      ctx.log.info({ event: parsed.key }, 'callback of an unhandled type acknowledged and ignored');
      callbacks.inc({ outcome: 'ignored' });
    } else {
      await opts.queues.enqueueEvent({ key: parsed.key, event: parsed.event, dedupeKey: parsed.dedupeKey, receivedAt: now() });
      callbacks.inc({ outcome: 'enqueued' });
    }
    ctx.status = 200;
    ctx.body = '';
  });
}

async function readBody(req: import('node:http').IncomingMessage, limit: number): Promise<string> {
  try {
    return await getRawBody(req, { limit, encoding: 'utf8' });
  } catch (err) {
    const e = err as { type?: string; status?: number };
    if (e.type === 'entity.too.large') throw new CallbackError(ErrorCode.PayloadMalformed, `body over ${limit} bytes`, 413);
    throw new CallbackError(ErrorCode.PayloadMalformed, 'body could not be read', e.status && e.status < 500 ? e.status : 400);
  }
}
