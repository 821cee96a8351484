import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildEncryptedCallback, toQueryString } from '../../src/wecom/callback/crypto.js';
import { CREDS, startTestBot, type TestBot } from '../helpers/test-bot.js';

/**
 * A client that keeps its connection open (WeCom's, a load balancer's, Node's own fetch) must be able to send its
 * next request after the receiver refused one before reading its body: an answer sent early either leaves nothing
 * unread on the socket or says `Connection: close`.
 */
describe('the receiver and keep-alive clients', () => {
  let t: TestBot;
  beforeAll(async () => {
    t = await startTestBot('keep-alive', { role: 'web', env: { CALLBACK_BODY_LIMIT_BYTES: '65536' } });
  });
  afterAll(async () => t?.stop());

  const signedQuery = () => toQueryString(buildEncryptedCallback(CREDS, '<xml><a>1</a></xml>').query);
  const badDoctype = `<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><ToUserName>&x;</ToUserName><Encrypt>&x;</Encrypt></xml>`;
  /** A signed URL-verification request and the answer WeCom expects. */
  const verification = () => {
    const { query, encrypted } = buildEncryptedCallback(CREDS, 'echo-1616140317555161061');
    return { path: `/wecom/callback?${toQueryString({ ...query, echostr: encrypted })}`, answer: 'echo-1616140317555161061' };
  };

  it("Node's fetch: 2 MB body (413), then a bad DOCTYPE (400), then URL verification (200) on the same client", async () => {
    // Node's fetch keeps connections alive by default: each request goes on the socket the previous one left idle.
    for (let round = 0; round < 3; round++) {
      const big = await fetch(`${t.url}/wecom/callback?${signedQuery()}`, { method: 'POST', body: 'x'.repeat(2 * 1024 * 1024) });
      expect(big.status).toBe(413);
      await big.text();
      const bad = await fetch(`${t.url}/wecom/callback?${signedQuery()}`, { method: 'POST', body: badDoctype });
      expect(bad.status).toBe(400);
      expect(await bad.text()).toContain('DOCTYPE');
      const v = verification();
      const get = await fetch(`${t.url}${v.path}`);
      expect(get.status).toBe(200);
      expect(await get.text()).toBe(v.answer);
    }
  });

  /** One request on `agent`; resolves with the status, the Connection header, the body and whether the socket was reused. */
  function request(agent: http.Agent, method: string, path: string, body?: string) {
    return new Promise<{ status: number; connection: string | undefined; body: string; reused: boolean }>((resolve, reject) => {
      const req = http.request(`${t.url}${path}`, { method, agent, headers: body === undefined ? {} : { 'content-type': 'text/xml' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body: Buffer.concat(chunks).toString(), reused: req.reusedSocket }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  it('a keep-alive agent with one socket: every early 4xx is followed by a working request', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const big = 'x'.repeat(2 * 1024 * 1024);
      const almostAtTheLimit = `<xml><ToUserName>x</ToUserName><Encrypt>${'A'.repeat(60_000)}</Encrypt></xml>`;
      const early: Array<[string, string, string | undefined, number]> = [
        ['POST', `/wecom/callback?${signedQuery()}`, big, 413], // over the limit: refused part-way through the body
        ['POST', '/wecom/callback', big, 400], // no signed query: refused before the body is read
        ['POST', '/wecom/callback?msg_signature=0&timestamp=1&nonce=1', big, 413], // bad signature, body over the limit
        ['POST', `/wecom/callback?msg_signature=0&timestamp=${Math.floor(Date.now() / 1000)}&nonce=1`, almostAtTheLimit, 401], // bad signature, big body read
        ['POST', '/no/such/path', big, 404],
        ['POST', `/wecom/callback?${signedQuery()}`, badDoctype, 400],
      ];
      for (const [method, path, body, status] of early) {
        const refused = await request(agent, method, path, body);
        expect(refused.status, `${method} ${path.slice(0, 40)}`).toBe(status);
        const v = verification();
        const next = await request(agent, 'GET', v.path);
        expect(next, `the request after ${status} on ${path.slice(0, 40)}`).toMatchObject({ status: 200, body: v.answer });
        // When the early answer kept the connection, the next request reused it and still got its answer.
        if (refused.connection !== 'close') expect(next.reused).toBe(true);
      }
      // The connection after a fully read request stays open: keep-alive still works for valid traffic.
      const v1 = verification();
      expect(await request(agent, 'GET', v1.path)).toMatchObject({ status: 200, reused: true });
      const v2 = verification();
      expect(await request(agent, 'GET', v2.path)).toMatchObject({ status: 200, reused: true, connection: 'keep-alive' });
    } finally {
      agent.destroy();
    }
  });

  it('an answer sent before the body was fully read says Connection: close', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const refused = await request(agent, 'POST', `/wecom/callback?${signedQuery()}`, 'x'.repeat(2 * 1024 * 1024));
      expect(refused).toMatchObject({ status: 413, connection: 'close' });
      const v = verification();
      expect(await request(agent, 'GET', v.path)).toMatchObject({ status: 200, body: v.answer, reused: false });
    } finally {
      agent.destroy();
    }
  });
});
