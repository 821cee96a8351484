import { encrypt, getSignature } from '@wecom/crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildEncryptedCallback, toQueryString } from '../../src/wecom/callback/crypto.js';
import { buildContactEventXml } from '../../src/sandbox/index.js';
import { parseXml } from '../../src/wecom/callback/xml.js';
import { CREDS, startTestBot, TEST_CORP, type TestBot } from '../helpers/test-bot.js';
import { waitFor } from '../helpers/wait-for.js';
import { Lead } from '../../src/store/models/lead.js';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHttpApp } from '../../src/app/http-app.js';
import { InboxWriter } from '../../src/inbox/writer.js';
import { createRedis } from '../../src/redis/connect.js';

// The official URL-verification vector [D:90968].
const VECTOR = {
  msg_signature: '5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3',
  timestamp: '1409659589',
  nonce: '263014780',
  echostr: 'P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==',
  plaintext: '1616140317555161061',
};

describe('the HTTP receiver', () => {
  let t: TestBot;
  beforeAll(async () => {
    t = await startTestBot('receiver', { env: { CALLBACK_MAX_SKEW_SECONDS: '300', CALLBACK_BODY_LIMIT_BYTES: '65536' } });
  });
  afterAll(async () => t?.stop());

  const post = (query: Record<string, string>, body: string) =>
    fetch(`${t.url}/wecom/callback?${new URLSearchParams(query)}`, { method: 'POST', body });
  const validXml = () =>
    buildContactEventXml({
      toUserName: TEST_CORP.corpId,
      createTime: Math.floor(Date.now() / 1000),
      changeType: 'add_external_contact',
      userId: 'zhangsan',
      externalUserId: `wm_${Math.random().toString(36).slice(2)}`,
      state: 'notext',
    });
  const signedEnvelope = (encrypted: string, timestamp = String(Math.floor(Date.now() / 1000))) => {
    const nonce = '12345';
    return {
      query: { msg_signature: getSignature(TEST_CORP.token, timestamp, nonce, encrypted), timestamp, nonce },
      body: `<xml><ToUserName><![CDATA[${TEST_CORP.corpId}]]></ToUserName><Encrypt><![CDATA[${encrypted}]]></Encrypt></xml>`,
    };
  };

  it('answers URL verification with the official vector when the replay check is off', async () => {
    // The same receiver, configured as CALLBACK_MAX_SKEW_SECONDS=0 would configure it.
    const app = createHttpApp({ ...t.bot.ctx, config: { ...t.bot.ctx.config, CALLBACK_MAX_SKEW_SECONDS: 0 } });
    const server = await new Promise<Server>((r) => { const s = app.listen(0, '127.0.0.1', () => r(s)); });
    try {
      const { port } = server.address() as AddressInfo;
      const res = await fetch(`http://127.0.0.1:${port}/wecom/callback?${toQueryString(VECTOR)}`);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe(VECTOR.plaintext);
    } finally {
      server.close();
    }
  });

  it('rejects the official vector as stale when the replay check is on', async () => {
    const res = await fetch(`${t.url}/wecom/callback?${toQueryString(VECTOR)}`);
    expect(res.status).toBe(401);
  });

  it('accepts a fresh URL verification and answers the plaintext exactly', async () => {
    const echo = encrypt(TEST_CORP.encodingAesKey, '8843672348123', TEST_CORP.corpId);
    const { query } = signedEnvelope(echo);
    const res = await fetch(`${t.url}/wecom/callback?${new URLSearchParams({ ...query, echostr: echo })}`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('8843672348123');
  });

  it('401 on a wrong signature', async () => {
    const { query, body } = buildEncryptedCallback(CREDS, validXml());
    const res = await post({ ...query, msg_signature: 'a'.repeat(40) }, body);
    expect(res.status).toBe(401);
  });

  it('401 on a stale timestamp, even correctly signed', async () => {
    const { query, body } = buildEncryptedCallback(CREDS, validXml(), { timestamp: Math.floor(Date.now() / 1000) - 3600 });
    expect((await post(query as unknown as Record<string, string>, body)).status).toBe(401);
  });

  it('403 when the receiveid is another corp', async () => {
    const { query, body } = buildEncryptedCallback({ ...CREDS, receiveId: 'wwsomeoneelse' }, validXml());
    expect((await post(query as unknown as Record<string, string>, body)).status).toBe(403);
  });

  it('400 on bad base64 in Encrypt', async () => {
    const { query, body } = signedEnvelope('not*base64!');
    expect((await post(query, body)).status).toBe(400);
  });

  it('400 on ciphertext that is not whole AES blocks', async () => {
    const { query, body } = signedEnvelope(Buffer.alloc(20, 7).toString('base64'));
    expect((await post(query, body)).status).toBe(400);
  });

  it('400 on a malformed envelope and on a body without Encrypt', async () => {
    expect((await post({ msg_signature: 'x', timestamp: '1', nonce: '1' }, '<xml><Encrypt>')).status).toBe(400);
    expect((await post({ msg_signature: 'x', timestamp: '1', nonce: '1' }, '<xml><Other>1</Other></xml>')).status).toBe(400);
    expect((await post({ msg_signature: 'x', timestamp: '1', nonce: '1' }, 'plain text')).status).toBe(400);
  });

  it('400 on missing query parameters', async () => {
    const { body } = buildEncryptedCallback(CREDS, validXml());
    expect((await post({ timestamp: '1', nonce: '1' }, body)).status).toBe(400);
  });

  it('400 on decrypted XML that is malformed or declares entities', async () => {
    const bad = buildEncryptedCallback(CREDS, '<xml><MsgType>event</MsgType>');
    expect((await post(bad.query as unknown as Record<string, string>, bad.body)).status).toBe(400);
    const xxe = buildEncryptedCallback(CREDS, '<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><MsgType>&x;</MsgType></xml>');
    expect((await post(xxe.query as unknown as Record<string, string>, xxe.body)).status).toBe(400);
    // The parser is lenient by itself; these must still be refused: mismatched tags, text after the root, a second
    // root, another root element, a cut-off document, plain text.
    const full = validXml();
    for (const xml of [
      full.replace('</ChangeType>', '</Changetype>'),
      `${full}trailing`,
      `${full}<xml></xml>`,
      full.replace(/^<xml>/, '<doc>').replace(/<\/xml>$/, '</doc>'),
      full.slice(0, full.length - 12),
      'not xml at all',
      // What the underlying parser would accept (or hang on): a close tag that only contains the open tag's name,
      // one that closes an outer tag, unterminated or lower-case CDATA, raw-text tags left open.
      full.replace('<UserID>', '<UserI>').replace('</UserID>', '</UserID>'),
      full.replace('</UserID>', ''),
      full.replace('<![CDATA[zhangsan]]>', '<![CDATA[zhangsan'),
      full.replace('<![CDATA[zhangsan]]>', '<![cdata[zhangsan]]>'),
      full.replace('<UserID>', '<UserID><script>'),
      '<xml><script><script><script></xml>',
    ]) {
      const cb = buildEncryptedCallback(CREDS, xml);
      expect((await post(cb.query as unknown as Record<string, string>, cb.body)).status, xml.slice(-40)).toBe(400);
    }
  });

  it('parses the XML WeCom sends: an XML declaration, CDATA split around "]]>", plain text values kept as strings', () => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<xml>\n  <ToUserName><![CDATA[ww1]]></ToUserName>\n  <CreateTime>1700000000</CreateTime>\n  <State><![CDATA[a]]]]><![CDATA[>b]]></State>\n  <UserID>007</UserID>\n</xml>\n`;
    expect(parseXml(xml)).toEqual({ ToUserName: 'ww1', CreateTime: '1700000000', State: 'a]]>b', UserID: '007' });
  });

  it('400 on a known event missing required fields', async () => {
    const xml = validXml().replace(/<ExternalUserID>.*<\/ExternalUserID>/, '');
    const { query, body } = buildEncryptedCallback(CREDS, xml);
    const res = await post(query as unknown as Record<string, string>, body);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('ExternalUserID');
  });

  it('413 on a body over the limit', async () => {
    const { query, body } = buildEncryptedCallback(CREDS, validXml());
    const res = await post(query as unknown as Record<string, string>, body.replace('</xml>', `<Pad>${'x'.repeat(70_000)}</Pad></xml>`));
    expect(res.status).toBe(413);
  });

  it('200 and ignored for a well-formed event of an unknown type', async () => {
    const xml = `<xml><ToUserName><![CDATA[${TEST_CORP.corpId}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_tag]]></Event><Id><![CDATA[et1]]></Id><TagType><![CDATA[tag]]></TagType><ChangeType><![CDATA[create]]></ChangeType></xml>`;
    const { query, body } = buildEncryptedCallback(CREDS, xml);
    const total = async () => Object.values(await t.bot.ctx.queues.get('events').getJobCounts('completed', 'waiting', 'active', 'delayed', 'failed')).reduce((a, b) => a + b, 0);
    const before = await total();
    const res = await post(query as unknown as Record<string, string>, body);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
    expect(await total()).toBe(before); // nothing was enqueued
  });

  it('keeps serving after all of that: a valid callback is still processed', async () => {
    const xml = validXml();
    const { query, body } = buildEncryptedCallback(CREDS, xml);
    expect((await post(query as unknown as Record<string, string>, body)).status).toBe(200);
    const ext = /<ExternalUserID><!\[CDATA\[(.*?)\]\]>/.exec(xml)?.[1] ?? /<ExternalUserID>(.*?)<\/ExternalUserID>/.exec(xml)?.[1];
    await waitFor(() => Lead.findOne({ externalUserId: ext }), 'lead stored');
    const health = await fetch(`${t.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ ok: true, redis: true, mongodb: true });
  });

  it('503 within a few seconds when Redis is unreachable, so WeCom retries (no hanging request)', async () => {
    const deadRedis = createRedis('redis://127.0.0.1:1');
    deadRedis.on('error', () => undefined);
    // The bot's own web app, its inbox pointed at a Redis nobody listens on.
    const app = createHttpApp({ ...t.bot.ctx, inbox: new InboxWriter(deadRedis, 'dead:inbox') });
    const server = await new Promise<Server>((r) => {
      const s = app.listen(0, '127.0.0.1', () => r(s));
    });
    try {
      const { port } = server.address() as AddressInfo;
      const { query, body } = buildEncryptedCallback(CREDS, validXml());
      const started = Date.now();
      const res = await fetch(`http://127.0.0.1:${port}/wecom/callback?${toQueryString(query)}`, { method: 'POST', body });
      expect(res.status).toBe(503);
      expect(Date.now() - started).toBeLessThan(4_000);
    } finally {
      server.close();
      deadRedis.disconnect();
    }
  });

  it('exposes callback outcomes as metrics', async () => {
    const text = await (await fetch(`${t.url}/metrics`)).text();
    expect(text).toMatch(/wecom_callbacks_total\{outcome="signature_invalid"\} [1-9]/);
    expect(text).toMatch(/wecom_callbacks_total\{outcome="enqueued"\} [1-9]/);
  });
});
