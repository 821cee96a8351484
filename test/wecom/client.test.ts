import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { QuotaWaitError, WecomApiError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { registry } from '../../src/metrics.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { RedisKeys } from '../../src/redis/keys.js';
import { WecomClient, type WecomClientOptions } from '../../src/wecom/client.js';
import { deleteKeys, TEST_CORP, uniqueName } from '../helpers/test-bot.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
let sandbox: Sandbox;
let redis: Redis;
let prefix: string;

beforeAll(async () => {
  sandbox = await startSandbox({ corpId: TEST_CORP.corpId, secrets: [TEST_CORP.secret, 'kf-app-secret'], rateLimits: { 'message/send': 5 }, kfAccounts: [{ openKfid: 'wkCLIENT', name: '客服' }] });
  redis = new Redis(REDIS_URL);
});
afterAll(async () => {
  await deleteKeys(REDIS_URL, 'tclient');
  redis.disconnect();
  await sandbox.close();
});
beforeEach(() => {
  sandbox.state.reset();
  prefix = uniqueName('tclient').replace(/^t_/, 'tclient_');
});

const client = (o: Partial<WecomClientOptions> = {}) =>
  new WecomClient({
    baseUrl: sandbox.url,
    corpId: TEST_CORP.corpId,
    secret: TEST_CORP.secret,
    agentId: 1000002,
    redis,
    keys: new RedisKeys(prefix),
    logger: createLogger('silent'),
    retryBaseMs: 50,
    ...o,
  });

describe('access token', () => {
  it('is fetched once and shared by every client (process) through Redis', async () => {
    const { externalUserId } = sandbox.state.contacts.addCustomer({ name: 'A', userId: 'zhangsan' });
    const [a, b] = [client(), client()];
    await Promise.all([a.getExternalContact(externalUserId), b.getExternalContact(externalUserId), a.getExternalContact(externalUserId)]);
    expect(sandbox.state.callsTo('gettoken')).toHaveLength(1);
  });

  it('WECOM_KF_SECRET: kf/* calls go with the 微信客服 app\'s own token, everything else with the main app\'s', async () => {
    const { externalUserId } = sandbox.state.contacts.addCustomer({ name: 'A', userId: 'zhangsan' });
    const c = client({ kfSecret: 'kf-app-secret' });
    await c.kfAccountList();
    await c.getExternalContact(externalUserId);
    await c.kfAccountList();
    expect(sandbox.state.callsTo('gettoken').map((x) => x.query.corpsecret).sort()).toEqual(['kf-app-secret', TEST_CORP.secret].sort());
    const token = (api: string) => sandbox.state.callsTo(api)[0]!.query.access_token;
    expect(token('kf/account/list')).not.toBe(token('externalcontact/get'));
    // Without it, one token serves both.
    const d = client({ keys: new RedisKeys(`${prefix}_same`) });
    sandbox.state.reset();
    await d.kfAccountList();
    await d.getExternalContact(externalUserId);
    expect(sandbox.state.callsTo('gettoken')).toHaveLength(1);
  });

  it('is refreshed once and the call retried on 42001 (expired)', async () => {
    const { externalUserId } = sandbox.state.contacts.addCustomer({ name: 'A', userId: 'zhangsan' });
    const c = client();
    await c.getExternalContact(externalUserId);
    sandbox.state.tokens.expire();
    const res = await c.getExternalContact(externalUserId);
    expect(res.external_contact.name).toBe('A');
    const codes = sandbox.state.callsTo('externalcontact/get').map((x) => x.errcode);
    expect(codes).toEqual([0, 42001, 0]);
    expect(sandbox.state.callsTo('gettoken')).toHaveLength(2);
  });

  it('a process reuses the token it read; one another process refreshed meanwhile is taken up after one 42001', async () => {
    const { externalUserId } = sandbox.state.contacts.addCustomer({ name: 'A', userId: 'zhangsan' });
    const [a, b] = [client(), client()];
    await a.getExternalContact(externalUserId);
    // The shared cache loses the token: a process that read it keeps using it (it is still valid at WeCom).
    await redis.del(...(await redis.keys(`${prefix}:*token*`)));
    await a.getExternalContact(externalUserId);
    expect(sandbox.state.callsTo('gettoken')).toHaveLength(1);
    // Another process refreshes it after WeCom expired the old one: the first finds out from WeCom, once, and takes
    // the new token from the shared cache instead of calling gettoken again.
    sandbox.state.tokens.expire();
    await b.getExternalContact(externalUserId);
    await a.getExternalContact(externalUserId);
    expect(sandbox.state.callsTo('gettoken')).toHaveLength(2);
    expect(sandbox.state.callsTo('externalcontact/get').map((x) => x.errcode)).toEqual([0, 0, 0, 42001, 0]);
  });

  it('a bad secret is a permanent, typed error that never prints the secret', async () => {
    const c = client({ secret: 'wrong-secret-value' });
    const err = await c.getCorpTagList().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WecomApiError);
    expect((err as WecomApiError).errcode).toBe(40001);
    expect((err as WecomApiError).retryable).toBe(false);
    expect(String((err as Error).message)).not.toContain('wrong-secret-value');
  });
});

describe('WECOM_API_BASE', () => {
  it('a base URL with a path (a gateway in front of WeCom) keeps it: calls go to <base>/cgi-bin/<api>', async () => {
    const paths: string[] = [];
    const gateway = createServer((req, res) => {
      paths.push(req.url!.split('?')[0]!);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ errcode: 0, errmsg: 'ok', access_token: 'tok', expires_in: 7200, tag_group: [] }));
    });
    await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
    try {
      const base = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}/qyapi`;
      for (const [i, baseUrl] of [base, `${base}/`].entries()) await client({ baseUrl, keys: new RedisKeys(`${prefix}_${i}`) }).getCorpTagList();
      expect(paths).toEqual(['/qyapi/cgi-bin/gettoken', '/qyapi/cgi-bin/externalcontact/get_corp_tag_list', '/qyapi/cgi-bin/gettoken', '/qyapi/cgi-bin/externalcontact/get_corp_tag_list']);
    } finally {
      await new Promise((r) => gateway.close(r));
    }
  });
});

describe('retryable and permanent errors', () => {
  it('a refused connection is retryable and never ambiguous (nothing reached WeCom); a dead answer is both', async () => {
    const closed = await new Promise<number>((resolve) => {
      const srv = createServer();
      srv.listen(0, '127.0.0.1', () => {
        const port = (srv.address() as AddressInfo).port;
        srv.close(() => resolve(port));
      });
    });
    const refused = (await client({ baseUrl: `http://127.0.0.1:${closed}`, retries: 0 }).getCorpTagList().catch((e: unknown) => e)) as WecomApiError;
    expect([refused.errmsg, refused.retryable, refused.ambiguous]).toEqual(['connection refused', true, false]);
    // A server that takes the request and closes without answering: WeCom may have acted on it.
    const mute = createServer((req, res) => {
      if (!req.url?.startsWith('/cgi-bin/gettoken')) return req.socket.destroy();
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ errcode: 0, errmsg: 'ok', access_token: 'tok', expires_in: 7200 }));
    });
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
    try {
      const lost = (await client({ baseUrl: `http://127.0.0.1:${(mute.address() as AddressInfo).port}`, retries: 0 }).getCorpTagList().catch((e: unknown) => e)) as WecomApiError;
      expect([lost.api, lost.errmsg, lost.retryable, lost.ambiguous]).toEqual(['externalcontact/get_corp_tag_list', 'network error', true, true]);
    } finally {
      await new Promise((r) => mute.close(r));
    }
  });

  it('a gettoken with no answer is retryable and never ambiguous: the call that needed the token was not made', async () => {
    const mute = createServer((req) => req.socket.destroy());
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
    try {
      const lost = (await client({ baseUrl: `http://127.0.0.1:${(mute.address() as AddressInfo).port}`, retries: 0 }).getCorpTagList().catch((e: unknown) => e)) as WecomApiError;
      expect([lost.api, lost.errmsg, lost.retryable, lost.ambiguous]).toEqual(['gettoken', 'network error', true, false]);
    } finally {
      await new Promise((r) => mute.close(r));
    }
    sandbox.state.inject({ api: 'gettoken', httpStatus: 502 });
    const failed = (await client({ retries: 0 }).getCorpTagList().catch((e: unknown) => e)) as WecomApiError;
    expect([failed.api, failed.httpStatus, failed.retryable, failed.ambiguous]).toEqual(['gettoken', 502, true, false]);
  });

  it('backs off on 45009 and succeeds', async () => {
    sandbox.state.inject({ api: 'externalcontact/get_corp_tag_list', errcode: 45009, times: 2 });
    const res = await client().getCorpTagList();
    expect(res.errcode).toBe(0);
    const calls = sandbox.state.callsTo('externalcontact/get_corp_tag_list');
    expect(calls.map((x) => x.errcode)).toEqual([45009, 45009, 0]);
    // Backoff: the retries were spaced out, not fired back to back.
    expect(calls[2]!.at - calls[0]!.at).toBeGreaterThanOrEqual(100);
  });

  it('retries 45033, -1, 5xx and timeouts', async () => {
    const c = client({ retries: 4, timeoutMs: 300 });
    sandbox.state.inject({ api: 'externalcontact/get_corp_tag_list', errcode: 45033 });
    sandbox.state.inject({ api: 'externalcontact/get_corp_tag_list', errcode: -1 });
    sandbox.state.inject({ api: 'externalcontact/get_corp_tag_list', httpStatus: 502 });
    sandbox.state.inject({ api: 'externalcontact/get_corp_tag_list', delayMs: 1000 });
    expect((await c.getCorpTagList()).errcode).toBe(0);
    expect(sandbox.state.callsTo('externalcontact/get_corp_tag_list').length).toBeGreaterThanOrEqual(4);
  });

  it('gives up with a retryable error when retries run out', async () => {
    sandbox.state.inject({ api: 'externalcontact/get_corp_tag_list', errcode: 45009, times: Infinity });
    const err = (await client({ retries: 1 }).getCorpTagList().catch((e: unknown) => e)) as WecomApiError;
    expect(err.errcode).toBe(45009);
    expect(err.retryable).toBe(true);
    sandbox.state.reset();
  });

  it('an HTTP 4xx is permanent and never ambiguous (the request was not served), except 408 and 429, which are retried', async () => {
    sandbox.state.inject({ api: 'externalcontact/get_corp_tag_list', httpStatus: 404 });
    const err = (await client().getCorpTagList().catch((e: unknown) => e)) as WecomApiError;
    expect([err.httpStatus, err.retryable, err.ambiguous]).toEqual([404, false, false]);
    expect(sandbox.state.callsTo('externalcontact/get_corp_tag_list')).toHaveLength(1);
    sandbox.state.reset();
    sandbox.state.inject({ api: 'externalcontact/get_corp_tag_list', httpStatus: 429 });
    sandbox.state.inject({ api: 'externalcontact/get_corp_tag_list', httpStatus: 408 });
    expect((await client().getCorpTagList()).errcode).toBe(0);
    expect(sandbox.state.callsTo('externalcontact/get_corp_tag_list').map((c) => c.httpStatus)).toEqual([429, 408, 200]);
  });

  it('does not retry permanent errors (84061)', async () => {
    const err = (await client()
      .markTag({ userid: 'zhangsan', external_userid: 'wm_nobody', add_tag: [] })
      .catch((e: unknown) => e)) as WecomApiError;
    expect(err.retryable).toBe(false);
    expect(sandbox.state.callsTo('externalcontact/mark_tag')).toHaveLength(1);
  });

  it('counts every call by api and errcode', async () => {
    sandbox.state.inject({ api: 'externalcontact/get_corp_tag_list', errcode: 45009 });
    await client().getCorpTagList();
    const metrics = await registry.getSingleMetricAsString('wecom_api_calls_total');
    expect(metrics).toMatch(/api="externalcontact\/get_corp_tag_list",errcode="45009"/);
    expect(metrics).toMatch(/api="externalcontact\/get_corp_tag_list",errcode="0"/);
  });
});

describe('rate limits', () => {
  it('keeps calls under a configured per-API limit instead of earning 45009', async () => {
    // The sandbox allows 5 message/send calls per second; the client is told the same.
    const c = client({ rateLimits: { 'message/send': [{ limit: 5, windowMs: 1000 }] }, retries: 0 });
    const started = Date.now();
    await Promise.all(Array.from({ length: 12 }, () => c.sendAppText(['zhangsan'], 'hi')));
    expect(sandbox.state.callsTo('message/send').every((x) => x.errcode === 0)).toBe(true);
    expect(sandbox.state.callsTo('message/send')).toHaveLength(12);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000); // 12 calls at 5/s need at least two window turns
  });

  it('enforces every window of an API (e.g. per second and per hour) at once', async () => {
    const c = client({ rateLimits: { 'message/send': [{ limit: 3, windowMs: 1000 }, { limit: 4, windowMs: 2000 }] }, retries: 0 });
    await Promise.all(Array.from({ length: 10 }, () => c.sendAppText(['zhangsan'], 'hi')));
    const at = sandbox.state.callsTo('message/send').map((x) => x.at);
    expect(at).toHaveLength(10);
    const most = (ms: number) => {
      const perWindow = new Map<number, number>();
      for (const x of at) perWindow.set(Math.floor(x / ms), (perWindow.get(Math.floor(x / ms)) ?? 0) + 1);
      return Math.max(...perWindow.values());
    };
    // Exactly the limits, counted where the sandbox (like WeCom) counts: on arrival. No call is granted in the last
    // moments of a window, so none arrives in the next one on top of its own grants. With only the per-second window,
    // 10 calls at 3/s would put 6 into some 2 s window.
    expect(most(2000)).toBeLessThanOrEqual(4);
    expect(most(1000)).toBeLessThanOrEqual(3);
  });

  it('grants nothing in the last moments of a window: such a call waits and arrives in the next one', async () => {
    const c = client({ rateLimits: { 'message/send': [{ limit: 100, windowMs: 1000 }] }, retries: 0 });
    // Wait until 80–70 ms before a second ends (the last 100 ms of a 1 s window grant nothing).
    while (Date.now() % 1000 < 920 || Date.now() % 1000 > 930) await new Promise((r) => setTimeout(r, 2));
    const asked = Date.now();
    await c.sendAppText(['zhangsan'], 'late in the window');
    const arrived = sandbox.state.callsTo('message/send').at(-1)!.at;
    expect(Math.floor(arrived / 1000)).toBe(Math.floor(asked / 1000) + 1);
  });

  it('app messages keep to each member\'s limit in any span, across processes; a message to several counts for each', async () => {
    // Two clients (two processes) on one Redis; 3 a second per member.
    const limits = { memberMessageLimits: [{ limit: 3, windowMs: 1000 }] };
    const [a, b] = [client(limits), client(limits)];
    const started = Date.now();
    await Promise.all([
      ...Array.from({ length: 4 }, (_, i) => a.sendAppText(['lisi', 'wangwu'], `both ${i}`)),
      ...Array.from({ length: 4 }, (_, i) => b.sendAppText(['wangwu'], `one ${i}`)),
    ]);
    expect(sandbox.state.okCallsTo('message/send')).toHaveLength(8);
    const arrivals = (u: string) => sandbox.state.callsTo('message/send').filter((x) => (x.body as { touser: string }).touser.split('|').includes(u)).map((x) => x.at);
    const mostInASecond = (at: number[]) => Math.max(...at.map((t) => at.filter((x) => x >= t && x < t + 1000).length));
    // Any span of a second, wherever it starts (WeCom's minute is not ours): never more than 3 for a member.
    expect(mostInASecond(arrivals('wangwu'))).toBeLessThanOrEqual(3);
    expect(mostInASecond(arrivals('lisi'))).toBeLessThanOrEqual(3);
    expect(arrivals('wangwu')).toHaveLength(8);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000); // wangwu's 8 at 3 a second
    expect(sandbox.state.appMessages.dropped).toEqual([]);
  });

  it('a member at the limit for longer than the call may wait: QuotaWaitError (nothing sent), retryable, when there is room', async () => {
    const c = client({ memberMessageLimits: [{ limit: 2, windowMs: 60_000 }] });
    await c.sendAppText(['zhaoliu'], '1');
    const first = Date.now();
    await c.sendAppText(['ZhaoLiu'], '2'); // userids differing only in case are one member
    const err = (await c.sendAppText(['zhaoliu', 'lisi'], '3', { quotaWaitMs: 200 }).catch((e: unknown) => e)) as QuotaWaitError;
    expect(err).toBeInstanceOf(QuotaWaitError);
    expect([err.retryable, err.ambiguous]).toEqual([true, false]);
    expect(err.retryAt).toBeGreaterThanOrEqual(first + 60_000);
    expect(err.retryAt).toBeLessThan(first + 61_000);
    expect(sandbox.state.callsTo('message/send')).toHaveLength(2);
    // lisi took no place: the call was refused for both at once.
    await c.sendAppText(['lisi'], '4', { quotaWaitMs: 0 });
    await c.sendAppText(['lisi'], '5', { quotaWaitMs: 0 });
    expect(sandbox.state.appMessages.sentTo('lisi')).toHaveLength(2);
  });

  it('a call with a hard deadline gives up waiting for quota (retryable, never ambiguous); others wait', async () => {
    const c = client({ rateLimits: { 'externalcontact/get_corp_tag_list': [{ limit: 1, windowMs: 1500 }] }, retries: 0 });
    await c.getCorpTagList();
    const err = (await c.call('externalcontact/get_corp_tag_list', { body: {}, quotaWaitMs: 100 }).catch((e: unknown) => e)) as WecomApiError;
    expect(err).toBeInstanceOf(WecomApiError);
    expect([err.retryable, err.ambiguous]).toEqual([true, false]);
    expect((await c.getCorpTagList()).errcode).toBe(0); // no budget: waits for the next window
    expect(sandbox.state.callsTo('externalcontact/get_corp_tag_list')).toHaveLength(2);
  });
});
