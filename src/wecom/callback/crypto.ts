import { randomBytes, timingSafeEqual } from 'node:crypto';
import { decrypt, encrypt, getSignature } from '@wecom/crypto';
import { CallbackError, ErrorCode } from '../../errors.js';

/** The three secrets WeCom gives an app's callback configuration [D:90968]. */
export interface CallbackCredentials {
  token: string;
  encodingAesKey: string;
  /** corp id for app / 客户联系 / 微信客服 callbacks; '' for the 智能机器人. */
  receiveId: string;
}

/** Query parameters WeCom adds to every callback request. */
export interface SignedQuery {
  msg_signature: string;
  timestamp: string;
  nonce: string;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Verifies `msg_signature` and the replay window. Pure: the clock is a parameter.
 * Throws CallbackError 401 on a bad signature or a timestamp outside ±maxSkewSeconds (0 disables the check).
 */
export function verifySignature(
  creds: Pick<CallbackCredentials, 'token'>,
  query: SignedQuery,
  encrypted: string,
  opts: { maxSkewSeconds: number; nowMs: number },
): void {
  const expected = getSignature(creds.token, query.timestamp, query.nonce, encrypted);
  const given = Buffer.from(query.msg_signature.toLowerCase());
  if (given.length !== expected.length || !timingSafeEqual(given, Buffer.from(expected))) {
    throw new CallbackError(ErrorCode.SignatureInvalid, 'invalid msg_signature', 401);
  }
  if (opts.maxSkewSeconds > 0) {
    const ts = Number(query.timestamp);
    if (!Number.isInteger(ts) || Math.abs(opts.nowMs / 1000 - ts) > opts.maxSkewSeconds) {
      throw new CallbackError(ErrorCode.TimestampStale, 'timestamp outside the replay window', 401);
    }
  }
}

/**
 * Decrypts a callback payload and checks its receiveid. Throws CallbackError 400 for ciphertext that is not
 * valid base64 / AES blocks / framing, and 403 when the receiveid is not ours.
 */
export function decryptPayload(creds: CallbackCredentials, encrypted: string): string {
  // AES-CBC output is whole 16-byte blocks: 4/3 of that in base64. Reject anything else before touching crypto.
  if (!BASE64.test(encrypted) || encrypted.length % 4 !== 0) {
    throw new CallbackError(ErrorCode.DecryptFailed, 'Encrypt is not valid base64', 400);
  }
  const raw = Buffer.from(encrypted, 'base64');
  if (raw.length === 0 || raw.length % 16 !== 0) {
    throw new CallbackError(ErrorCode.DecryptFailed, 'Encrypt is not whole AES blocks', 400);
  }
  let message: string;
  let id: string;
  try {
    ({ message, id } = decrypt(creds.encodingAesKey, encrypted));
  } catch {
    throw new CallbackError(ErrorCode.DecryptFailed, 'Encrypt could not be decrypted', 400);
  }
  // A wrong key yields garbage framing: a length that overruns the buffer leaves the receiveid empty or junk.
  if (id !== creds.receiveId) {
    throw new CallbackError(ErrorCode.ReceiveIdMismatch, 'receiveid does not match', 403);
  }
  return message;
}

/**
 * Encrypts and signs a message exactly as WeCom does, returning the query and the XML body of a callback POST.
 * Used by the sandbox WeCom, the simulate command, tests and benchmarks.
 */
export function buildEncryptedCallback(
  creds: CallbackCredentials,
  xml: string,
  opts: { timestamp?: number; nonce?: string; toUserName?: string; agentId?: string } = {},
): { query: SignedQuery; body: string; encrypted: string } {
  const encrypted = encrypt(creds.encodingAesKey, xml, creds.receiveId, randomBytes(16));
  const timestamp = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
  const nonce = opts.nonce ?? String(randomBytes(6).readUIntBE(0, 6));
  const query = { msg_signature: getSignature(creds.token, timestamp, nonce, encrypted), timestamp, nonce };
  const body =
    `<xml><ToUserName><![CDATA[${opts.toUserName ?? creds.receiveId}]]></ToUserName>` +
    `<AgentID><![CDATA[${opts.agentId ?? ''}]]></AgentID><Encrypt><![CDATA[${encrypted}]]></Encrypt></xml>`;
  return { query, body, encrypted };
}

/** Turns a signed query into a URL query string. */
export function toQueryString(query: SignedQuery & { echostr?: string }): string {
  return new URLSearchParams(query as unknown as Record<string, string>).toString();
}
