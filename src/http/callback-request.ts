import type { IncomingMessage } from 'node:http';
import type Router from '@koa/router';
import type { Context } from 'koa';
import getRawBody from 'raw-body';
import { z } from 'zod';
import { CallbackError, ErrorCode } from '../errors.js';
import { callbacks } from '../metrics.js';
import { decryptPayload, verifySignature, type CallbackCredentials, type SignedQuery } from '../wecom/callback/crypto.js';

/** What every callback receiver checks: its credentials, the replay window, the body size, the clock. */
export interface ReceiverOptions {
  credentials: CallbackCredentials;
  maxSkewSeconds: number;
  bodyLimitBytes: number;
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
 * URL verification [D:90968, D:101033]: verifies the signature over `echostr` and returns it decrypted (the answer,
 * as plain text). A '+' that was not percent-encoded arrives as a space after query decoding: tried both ways.
 */
export function verifyUrl(opts: ReceiverOptions, query: unknown): string {
  const q = parseQuery(verifyQuery, query);
  const check = { maxSkewSeconds: opts.maxSkewSeconds, nowMs: (opts.now ?? Date.now)() };
  let echostr = q.echostr;
  try {
    verifySignature(opts.credentials, q, echostr, check);
  } catch (err) {
    if (!echostr.includes(' ')) throw err;
    echostr = echostr.replace(/ /g, '+');
    verifySignature(opts.credentials, q, echostr, check);
  }
  return decryptPayload(opts.credentials, echostr);
}

/** The signed query of a callback POST; CallbackError 400 when a parameter is missing. */
export function signedQueryOf(query: unknown): SignedQuery {
  return parseQuery(signedQuery, query);
}

/** Verifies the signature and replay window of `encrypted`, then decrypts it (checking the receiveid). */
export function openPayload(opts: ReceiverOptions, q: SignedQuery, encrypted: string): string {
  verifySignature(opts.credentials, q, encrypted, { maxSkewSeconds: opts.maxSkewSeconds, nowMs: (opts.now ?? Date.now)() });
  return decryptPayload(opts.credentials, encrypted);
}

/** Reads the request body up to `limit` bytes; CallbackError 413 over it, 400 when it cannot be read. */
export async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  try {
    return await getRawBody(req, { limit, encoding: 'utf8' });
  } catch (err) {
    const e = err as { type?: string; status?: number };
    if (e.type === 'entity.too.large') throw new CallbackError(ErrorCode.PayloadMalformed, `body over ${limit} bytes`, 413);
    throw new CallbackError(ErrorCode.PayloadMalformed, 'body could not be read', e.status && e.status < 500 ? e.status : 400);
  }
}

/** GET on a callback URL: WeCom's URL verification, answered with `echostr` decrypted, as plain text. */
export function mountUrlVerification(router: Router, path: string, opts: ReceiverOptions): void {
  router.get(path, (ctx) => {
    ctx.type = 'text/plain';
    ctx.body = verifyUrl(opts, ctx.query);
    callbacks.inc({ outcome: 'url_verified' });
  });
}

/** A verified callback of a type no family handles: acknowledged with 200 and an empty body (WeCom retries anything else). */
export function acknowledgeUnknown(ctx: Context, key: string): void {
  ctx.log.info({ event: key }, 'callback of an unhandled type acknowledged and ignored');
  callbacks.inc({ outcome: 'ignored' });
  ctx.status = 200;
  ctx.body = '';
}
