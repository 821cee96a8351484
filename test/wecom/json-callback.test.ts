import Router from '@koa/router';
import { decrypt, encrypt, getSignature } from '@wecom/crypto';
import Koa from 'koa';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallbackError } from '../../src/errors.js';
import { mountJsonCallbackRoute, type JsonEvent } from '../../src/http/json-callback-route.js';
import { createLogger } from '../../src/logger.js';
import { buildEncryptedJsonCallback } from '../../src/wecom/callback/json.js';
import { toQueryString } from '../../src/wecom/callback/crypto.js';
import type { ParsedEvent } from '../../src/wecom/events/index.js';
import { TEST_CORP } from '../fixtures/test-corp.js';

// The JSON receiver (智能机器人 in API mode: receiveid "", body {"encrypt"}, encrypted JSON replies [D:101033, D:101031]),
// with a family of its own for the test: messages {msgid, msgtype: "text"} are known, answered with a stream.
const ROBOT = { token: TEST_CORP.token, encodingAesKey: TEST_CORP.encodingAesKey, receiveId: '' };
const classify = (f: Record<string, unknown>): ParsedEvent =>
  f.msgtype === 'text' && typeof f.msgid === 'string'
    ? ({ kind: 'known', key: 'test.text', event: f, dedupeKey: f.msgid } as unknown as ParsedEvent)
    : { kind: 'unknown', key: String(f.msgtype) };
const answered: JsonEvent[] = [];

let server: Server;
let url: string;
beforeAll(async () => {
  const app = new Koa();
  app.context.log = createLogger('silent');
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      if (!(err instanceof CallbackError)) throw err;
      ctx.status = err.status;
      ctx.body = err.message;
    }
  });
  const router = new Router();
  mountJsonCallbackRoute(router, '/wecom/robot', {
    credentials: ROBOT,
    maxSkewSeconds: 300,
    bodyLimitBytes: 65536,
    classify,
    answer: async (e) => {
      answered.push(e);
      return { msgtype: 'stream', stream: { id: `s-${e.dedupeKey}`, finish: true, content: '**ok**' } };
    },
  });
  app.use(router.routes());
  server = await new Promise<Server>((r) => {
    const s = app.listen(0, '127.0.0.1', () => r(s));
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/wecom/robot`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const post = (message: unknown, creds = ROBOT) => {
  const { query, body } = buildEncryptedJsonCallback(creds, message);
  return fetch(`${url}?${toQueryString(query)}`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
};

describe('the JSON callback receiver', () => {
  it('answers URL verification with receiveid ""', async () => {
    const echostr = encrypt(ROBOT.encodingAesKey, 'robot-echo-123', '');
    const timestamp = String(Math.floor(Date.now() / 1000));
    const q = { msg_signature: getSignature(ROBOT.token, timestamp, '77', echostr), timestamp, nonce: '77', echostr };
    const res = await fetch(`${url}?${new URLSearchParams(q)}`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('robot-echo-123');
  });

  it('answers a known message with the encrypted, signed passive reply, echoing the nonce', async () => {
    const { query, body } = buildEncryptedJsonCallback(ROBOT, { msgid: 'm1', msgtype: 'text', text: { content: '@bot help' } }, { nonce: '4242' });
    const res = await fetch(`${url}?${toQueryString(query)}`, { method: 'POST', body });
    expect(res.status).toBe(200);
    const reply = (await res.json()) as { encrypt: string; msgsignature: string; timestamp: number; nonce: string };
    expect(reply.nonce).toBe('4242');
    expect(typeof reply.timestamp).toBe('number');
    expect(reply.msgsignature).toBe(getSignature(ROBOT.token, String(reply.timestamp), reply.nonce, reply.encrypt));
    const { message, id } = decrypt(ROBOT.encodingAesKey, reply.encrypt);
    expect(id).toBe('');
    expect(JSON.parse(message)).toEqual({ msgtype: 'stream', stream: { id: 's-m1', finish: true, content: '**ok**' } });
    expect(answered.at(-1)).toMatchObject({ key: 'test.text', dedupeKey: 'm1' });
  });

  it('acknowledges an unknown message type with an empty body', async () => {
    const res = await post({ msgid: 'm2', msgtype: 'event' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
  });

  it('refuses what is not a signed, encrypted JSON envelope for us: 401, 400, 403 — never 5xx', async () => {
    const { query, body } = buildEncryptedJsonCallback(ROBOT, { msgid: 'm3', msgtype: 'text' });
    expect((await fetch(`${url}?${toQueryString({ ...query, msg_signature: 'f'.repeat(40) })}`, { method: 'POST', body })).status).toBe(401);
    expect((await fetch(`${url}?${toQueryString(query)}`, { method: 'POST', body: 'not json' })).status).toBe(400);
    expect((await fetch(`${url}?${toQueryString(query)}`, { method: 'POST', body: '{"other":1}' })).status).toBe(400);
    // Encrypted for a corp (receiveid = corp id) instead of the robot's "".
    expect((await post({ msgid: 'm4', msgtype: 'text' }, { ...ROBOT, receiveId: TEST_CORP.corpId })).status).toBe(403);
    // Decrypts, but is not a JSON object.
    expect((await post('just a string')).status).toBe(400);
  });
});
