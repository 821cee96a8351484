import { describe, expect, it } from 'vitest';
import type { CallbackError } from '../../src/errors.js';
import { buildEncryptedCallback, decryptPayload, verifySignature } from '../../src/wecom/callback/crypto.js';
import { CREDS } from '../helpers/test-bot.js';

// The official URL-verification vector [D:90968].
const VECTOR = {
  msg_signature: '5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3',
  timestamp: '1409659589',
  nonce: '263014780',
  echostr: 'P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==',
  plaintext: '1616140317555161061',
};

describe('callback crypto (pure)', () => {
  it('passes the official vector', () => {
    expect(() => verifySignature(CREDS, VECTOR, VECTOR.echostr, { maxSkewSeconds: 0, nowMs: Date.now() })).not.toThrow();
    expect(decryptPayload(CREDS, VECTOR.echostr)).toBe(VECTOR.plaintext);
  });

  it('rejects the official vector once the replay window is on', () => {
    const err = (() => {
      try {
        verifySignature(CREDS, VECTOR, VECTOR.echostr, { maxSkewSeconds: 300, nowMs: Date.now() });
      } catch (e) {
        return e as CallbackError;
      }
    })();
    expect(err?.status).toBe(401);
    expect(err?.code).toBe('timestamp_stale');
    // ...but accepts it with a clock set to its own time.
    expect(() => verifySignature(CREDS, VECTOR, VECTOR.echostr, { maxSkewSeconds: 300, nowMs: 1409659589_000 + 10_000 })).not.toThrow();
  });

  it('round-trips what buildEncryptedCallback produces', () => {
    const { query, encrypted } = buildEncryptedCallback(CREDS, '<xml><a>1</a></xml>');
    verifySignature(CREDS, query, encrypted, { maxSkewSeconds: 300, nowMs: Date.now() });
    expect(decryptPayload(CREDS, encrypted)).toBe('<xml><a>1</a></xml>');
  });
});

