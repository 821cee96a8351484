/**
 * The JSON side of WeCom callbacks, used by the 智能机器人 (intelligent robot) in API mode: the body is
 * `{"encrypt": "<base64>"}`, signed and encrypted exactly like the XML channels but with receiveid "", and the passive
 * reply is encrypted JSON `{"encrypt", "msgsignature", "timestamp", "nonce"}` [D:101033, D:101031].
 */
import { randomBytes } from 'node:crypto';
import { encrypt, getSignature } from '@wecom/crypto';
import { z } from 'zod';
import { CallbackError, ErrorCode } from '../../errors.js';
import type { CallbackCredentials, SignedQuery } from './crypto.js';

const envelopeSchema = z.object({ encrypt: z.string().min(1) });

/** The `encrypt` field of a JSON callback body; CallbackError 400 when the body is not such an envelope. */
export function jsonEnvelopeEncrypt(body: string): string {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new CallbackError(ErrorCode.PayloadMalformed, 'body is not JSON', 400);
  }
  const parsed = envelopeSchema.safeParse(json);
  if (!parsed.success) throw new CallbackError(ErrorCode.PayloadMalformed, 'body is not a {"encrypt": "..."} envelope', 400);
  return parsed.data.encrypt;
}

/** Parses a decrypted JSON message; CallbackError 400 when it is not a JSON object. */
export function parseJsonMessage(plaintext: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(plaintext);
  } catch {
    throw new CallbackError(ErrorCode.PayloadMalformed, 'decrypted message is not JSON', 400);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new CallbackError(ErrorCode.PayloadMalformed, 'decrypted message is not a JSON object', 400);
  }
  return json as Record<string, unknown>;
}

/** An encrypted passive reply: the reply's key is `msgsignature` (no underscore) and `timestamp` is a number [D:101031]. */
export interface EncryptedJsonReply {
  encrypt: string;
  msgsignature: string;
  timestamp: number;
  nonce: string;
}

/** Encrypts and signs `reply` as the answer to a JSON callback, echoing the callback's nonce. */
export function encryptJsonReply(creds: CallbackCredentials, reply: unknown, nonce: string, nowMs = Date.now()): EncryptedJsonReply {
  const encrypted = encrypt(creds.encodingAesKey, JSON.stringify(reply), creds.receiveId, randomBytes(16));
  const timestamp = Math.floor(nowMs / 1000);
  return { encrypt: encrypted, msgsignature: getSignature(creds.token, String(timestamp), nonce, encrypted), timestamp, nonce };
}

/**
 * Encrypts and signs a JSON message exactly as WeCom does for the robot, returning the query and body of the
 * callback POST. Used by the sandbox WeCom, simulate commands and tests.
 */
export function buildEncryptedJsonCallback(
  creds: CallbackCredentials,
  message: unknown,
  opts: { timestamp?: number; nonce?: string } = {},
): { query: SignedQuery; body: string; encrypted: string } {
  const encrypted = encrypt(creds.encodingAesKey, JSON.stringify(message), creds.receiveId, randomBytes(16));
  const timestamp = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
  const nonce = opts.nonce ?? String(randomBytes(6).readUIntBE(0, 6));
  const query = { msg_signature: getSignature(creds.token, timestamp, nonce, encrypted), timestamp, nonce };
  return { query, body: JSON.stringify({ encrypt: encrypted }), encrypted };
}
