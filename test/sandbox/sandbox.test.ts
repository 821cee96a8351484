import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildContactEventXml, startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { SandboxState } from '../../src/sandbox/state.js';
import { decryptPayload, verifySignature } from '../../src/wecom/callback/crypto.js';

const CORP_ID = 'wwsandboxcorp0001';
const SECRET = 'sandbox-secret';
const CB = { token: 'QDG6eK', encodingAesKey: 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C' };

let clock = Date.UTC(2025, 0, 6, 2, 0, 0);
let sandbox: Sandbox;
let bot: Server;
/** What the tiny bot received: verified and decrypted plaintext XML, or the error it raised. */
const received: Array<{ xml?: string; error?: string }> = [];

type Reply = Record<string, unknown> & { errcode: number; errmsg: string };

/** Calls a sandbox API like a WeCom client would. */
async function call(api: string, opts: { query?: Record<string, string>; body?: unknown; raw?: string; token?: string | null } = {}): Promise<Reply> {
  const query = new URLSearchParams(opts.query);
  if (opts.token !== null && api !== 'gettoken') query.set('access_token', opts.token ?? (await token()));
  const post = opts.body !== undefined || opts.raw !== undefined;
  const res = await fetch(`${sandbox.url}/cgi-bin/${api}?${query}`, {
    method: post ? 'POST' : 'GET',
    headers: post ? { 'content-type': 'application/json' } : {},
    body: opts.raw ?? (post ? JSON.stringify(opts.body) : undefined),
  });
  return (await res.json()) as Reply;
}

/** gettoken for the configured secret. */
async function token(): Promise<string> {
  const r = await call('gettoken', { query: { corpid: CORP_ID, corpsecret: SECRET } });
  expect(r.errcode).toBe(0);
  return r.access_token as string;
}

beforeAll(async () => {
  bot = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const url = new URL(req.url ?? '/', 'http://bot');
        const body = Buffer.concat(chunks).toString('utf8');
        const encrypted = /<Encrypt><!\[CDATA\[(.*?)\]\]><\/Encrypt>/.exec(body)?.[1] ?? '';
        const q = {
          msg_signature: url.searchParams.get('msg_signature') ?? '',
          timestamp: url.searchParams.get('timestamp') ?? '',
          nonce: url.searchParams.get('nonce') ?? '',
        };
        verifySignature(CB, q, encrypted, { maxSkewSeconds: 300, nowMs: clock });
        received.push({ xml: decryptPayload({ ...CB, receiveId: CORP_ID }, encrypted) });
        res.writeHead(200).end();
      } catch (err) {
        received.push({ error: String(err) });
        res.writeHead(401).end();
      }
    });
  });
  await new Promise<void>((resolve) => bot.listen(0, '127.0.0.1', resolve));
  const botUrl = `http://127.0.0.1:${(bot.address() as AddressInfo).port}/wecom/callback`;
  sandbox = await startSandbox({
    corpId: CORP_ID,
    secrets: [SECRET],
    callback: { url: botUrl, ...CB },
    rateLimits: { 'externalcontact/get_contact_way': 2 },
    now: () => clock,
  });
});

afterAll(async () => {
  await sandbox.close();
  await new Promise((resolve) => bot.close(resolve));
});

afterEach(() => {
  sandbox.state.reset();
  received.length = 0;
});

describe('access token', () => {
  it('issues one token per secret and accepts it on calls', async () => {
    const a = await call('gettoken', { query: { corpid: CORP_ID, corpsecret: SECRET } });
    expect(a).toMatchObject({ errcode: 0, errmsg: 'ok', expires_in: 7200 });
    const b = await call('gettoken', { query: { corpid: CORP_ID, corpsecret: SECRET } });
    expect(b.access_token).toBe(a.access_token);
    const list = await call('externalcontact/get_corp_tag_list', { body: {}, token: a.access_token as string });
    expect(list).toMatchObject({ errcode: 0, tag_group: expect.any(Array) });
    expect(sandbox.state.okCallsTo('externalcontact/get_corp_tag_list')).toHaveLength(1);
  });

  it('rejects bad credentials and tokens with WeCom errcodes', async () => {
    expect((await call('gettoken', { query: { corpid: 'nope', corpsecret: SECRET } })).errcode).toBe(40013);
    expect((await call('gettoken', { query: { corpid: CORP_ID, corpsecret: 'nope' } })).errcode).toBe(40001);
    expect((await call('externalcontact/get_corp_tag_list', { body: {}, token: null })).errcode).toBe(41001);
    expect((await call('externalcontact/get_corp_tag_list', { body: {}, token: 'bogus' })).errcode).toBe(40014);
    expect(sandbox.state.callsTo('gettoken').map((c) => c.errcode)).toEqual([40013, 40001]);
  });

  it('answers 42001 after expireTokens, and gettoken then issues a new token', async () => {
    const old = await token();
    sandbox.state.tokens.expire();
    expect((await call('externalcontact/get_corp_tag_list', { body: {}, token: old })).errcode).toBe(42001);
    const fresh = await token();
    expect(fresh).not.toBe(old);
    expect((await call('externalcontact/get_corp_tag_list', { body: {}, token: fresh })).errcode).toBe(0);
  });

  it('expires tokens by the clock', async () => {
    const t = await token();
    clock += 7200_000;
    expect((await call('externalcontact/get_corp_tag_list', { body: {}, token: t })).errcode).toBe(42001);
  });
});

describe('request handling', () => {
  it('answers 47001 to a body that is not JSON and 404 to unknown paths, recording both', async () => {
    expect((await call('externalcontact/mark_tag', { raw: '{not json' })).errcode).toBe(47001);
    const res = await fetch(`${sandbox.url}/cgi-bin/no/such/api`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ errcode: 404, errmsg: 'not found' });
    expect(sandbox.state.callsTo('externalcontact/mark_tag')[0]).toMatchObject({ errcode: 47001, body: '{not json' });
    expect(sandbox.state.callsTo('no/such/api')[0]?.errcode).toBe(404);
  });
});

describe('welcome messages', () => {
  it('accepts a welcome code once, then answers 41051', async () => {
    const { welcomeCode, externalUserId } = sandbox.state.contacts.addCustomer({ name: '张三', userId: 'alice', state: 'ch_1' });
    const body = { welcome_code: welcomeCode, text: { content: '你好' } };
    expect((await call('externalcontact/send_welcome_msg', { body })).errcode).toBe(0);
    expect((await call('externalcontact/send_welcome_msg', { body })).errcode).toBe(41051);
    expect(sandbox.state.welcome.sent).toEqual([
      { welcomeCode, userId: 'alice', externalUserId, text: '你好', attachments: [], at: clock },
    ]);
  });

  it('treats a code older than 20 s as invalid (41050), and rejects missing codes and oversized content', async () => {
    const { welcomeCode } = sandbox.state.contacts.addCustomer({ name: '李四', userId: 'alice' });
    clock += 20_001;
    expect((await call('externalcontact/send_welcome_msg', { body: { welcome_code: welcomeCode, text: { content: 'hi' } } })).errcode).toBe(41050);
    expect((await call('externalcontact/send_welcome_msg', { body: { text: { content: 'hi' } } })).errcode).toBe(41049);
    expect((await call('externalcontact/send_welcome_msg', { body: { welcome_code: 'unknown', text: { content: 'hi' } } })).errcode).toBe(41050);
    const fresh = sandbox.state.contacts.addCustomer({ name: '王五', userId: 'alice' }).welcomeCode;
    const long = { welcome_code: fresh, text: { content: '字'.repeat(1334) } }; // 4002 bytes
    expect((await call('externalcontact/send_welcome_msg', { body: long })).errcode).toBe(40058);
    const tooMany = { welcome_code: fresh, attachments: Array.from({ length: 10 }, () => ({ msgtype: 'image', image: { media_id: 'm' } })) };
    expect((await call('externalcontact/send_welcome_msg', { body: tooMany })).errcode).toBe(40058);
    // A rejected request does not burn the code.
    expect((await call('externalcontact/send_welcome_msg', { body: { welcome_code: fresh, text: { content: 'ok' } } })).errcode).toBe(0);
  });
});

describe('fault injection', () => {
  it('answers injected errcodes for the next `times` calls, then processes normally', async () => {
    const t = await token();
    sandbox.state.inject({ api: 'externalcontact/get_corp_tag_list', errcode: -1, times: 2 });
    const codes = [];
    for (let i = 0; i < 3; i++) codes.push((await call('externalcontact/get_corp_tag_list', { body: {}, token: t })).errcode);
    expect(codes).toEqual([-1, -1, 0]);
    expect(sandbox.state.callsTo('externalcontact/get_corp_tag_list').map((c) => c.errcode)).toEqual([-1, -1, 0]);
  });

  it('answers an injected HTTP status with a non-JSON body', async () => {
    const t = await token();
    sandbox.state.inject({ api: 'message/send', httpStatus: 502 });
    const res = await fetch(`${sandbox.url}/cgi-bin/message/send?access_token=${t}`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(502);
    expect(await res.text()).toBe('Bad Gateway');
    expect(sandbox.state.callsTo('message/send')[0]).toMatchObject({ errcode: -1, httpStatus: 502 });
  });

  it('delays, then processes normally', async () => {
    const t = await token();
    sandbox.state.inject({ api: 'externalcontact/get_corp_tag_list', delayMs: 150 });
    const started = performance.now();
    const pending = call('externalcontact/get_corp_tag_list', { body: {}, token: t });
    await new Promise((resolve) => setTimeout(resolve, 50));
    // The call is visible while in flight.
    expect(sandbox.state.callsTo('externalcontact/get_corp_tag_list')).toMatchObject([{ errcode: NaN, httpStatus: 0 }]);
    expect((await pending).errcode).toBe(0);
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    expect(sandbox.state.callsTo('externalcontact/get_corp_tag_list')).toMatchObject([{ errcode: 0, httpStatus: 200 }]);
  });

  it('delayAfterMs: the call takes effect before the slow answer arrives', async () => {
    const t = await token();
    const { welcomeCode } = sandbox.state.contacts.addCustomer({ name: '慢', userId: 'alice' });
    sandbox.state.inject({ api: 'externalcontact/send_welcome_msg', delayAfterMs: 200 });
    const pending = call('externalcontact/send_welcome_msg', { body: { welcome_code: welcomeCode, text: { content: 'hi' } }, token: t });
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(sandbox.state.welcome.sent).toHaveLength(1);
    expect((await pending).errcode).toBe(0);
  });
});

describe('rate limits', () => {
  it('answers 45009 beyond N calls in one second, and resets with the next window', async () => {
    const t = await token();
    const { config_id } = await call('externalcontact/add_contact_way', { body: { type: 1, scene: 2, user: ['alice'] }, token: t });
    const get = async (): Promise<number> => (await call('externalcontact/get_contact_way', { body: { config_id }, token: t })).errcode;
    clock = Math.floor(clock / 1000) * 1000 + 1000;
    expect([await get(), await get(), await get()]).toEqual([0, 0, 45009]);
    clock += 1000;
    expect(await get()).toBe(0);
    expect(sandbox.state.callsTo('externalcontact/get_contact_way')).toHaveLength(4);
  });
});

describe('corp tags', () => {
  it('adds tags, lists them, adds into an existing group by name, and rejects duplicates and long names', async () => {
    const t = await token();
    const added = await call('externalcontact/add_corp_tag', { body: { group_name: '渠道', tag: [{ name: '线下门店' }, { name: '公众号' }] }, token: t });
    expect(added.errcode).toBe(0);
    const group = added.tag_group as { group_id: string; tag: Array<{ id: string; name: string }> };
    expect(group.tag.map((x) => x.name)).toEqual(['线下门店', '公众号']);

    const more = await call('externalcontact/add_corp_tag', { body: { group_name: '渠道', tag: [{ name: '抖音' }] }, token: t });
    expect((more.tag_group as { group_id: string }).group_id).toBe(group.group_id);
    expect((await call('externalcontact/add_corp_tag', { body: { group_name: '渠道', tag: [{ name: '抖音' }] }, token: t })).errcode).toBe(40071);
    expect((await call('externalcontact/add_corp_tag', { body: { group_name: '渠道', tag: [{ name: 'x'.repeat(31) }] }, token: t })).errcode).toBe(40058);

    const list = await call('externalcontact/get_corp_tag_list', { body: { group_id: [group.group_id] }, token: t });
    const groups = list.tag_group as Array<{ group_name: string; deleted: boolean; tag: Array<{ name: string }> }>;
    expect(groups).toHaveLength(1);
    expect(groups[0]?.tag.map((x) => x.name)).toEqual(['线下门店', '公众号', '抖音']);
    const byTag = await call('externalcontact/get_corp_tag_list', { body: { tag_id: [group.tag[1]?.id] }, token: t });
    expect((byTag.tag_group as Array<{ tag: unknown[] }>)[0]?.tag).toHaveLength(1);
  });

  it('an admin renaming and deleting posts change_external_tag; a deleted tag is answered by id, marked deleted [D:92117, D:92130]', async () => {
    const t = await token();
    const { group, added } = sandbox.state.tags.addCorpTags({ groupName: '来源', tags: [{ name: '展会' }, { name: '官网' }, { name: '转介绍' }] });
    const [expo, site, referral] = added.map((x) => x.id);
    received.length = 0;
    expect(await sandbox.state.tags.adminRename({ tagId: expo! }, '展会2026')).toBe(200);
    await expect(sandbox.state.tags.adminRename({ tagId: site! }, '展会2026')).rejects.toMatchObject({ errcode: 40071 });
    expect(await sandbox.state.tags.adminDelete({ tagId: site! })).toBe(200);
    expect(received.map((r) => /<ChangeType><!\[CDATA\[(\w+)\]\]>/.exec(r.xml ?? '')?.[1])).toEqual(['update', 'delete']);

    type Listed = Array<{ group_id: string; deleted?: boolean; tag: Array<{ id: string; name: string; deleted?: boolean }> }>;
    const list = async (body: unknown): Promise<Listed> => (await call('externalcontact/get_corp_tag_list', { body, token: t })).tag_group as Listed;
    // The whole list leaves the deleted tag out, and says nothing of `deleted`.
    const all = (await list({})).find((g) => g.group_id === group.groupId)!;
    expect(all.tag.map((x) => x.name)).toEqual(['展会2026', '转介绍']);
    expect(all.deleted).toBeUndefined();
    expect(all.tag[0]?.deleted).toBeUndefined();
    // By tag id: the deleted one too, marked.
    expect(await list({ tag_id: [site, referral] })).toEqual([
      expect.objectContaining({ group_id: group.groupId, deleted: false, tag: [expect.objectContaining({ id: referral, deleted: false }), expect.objectContaining({ id: site, name: '官网', deleted: true })] }),
    ]);
    // By group id: the group's tags with the deleted one marked.
    expect((await list({ group_id: [group.groupId] }))[0]?.tag.map((x) => `${x.name}:${x.deleted}`)).toEqual(['展会2026:false', '转介绍:false', '官网:true']);

    // A deleted group: its tags answered by tag id, the group marked deleted.
    expect(await sandbox.state.tags.adminDelete({ groupId: group.groupId })).toBe(200);
    expect((await list({})).some((g) => g.group_id === group.groupId)).toBe(false);
    const gone = await list({ tag_id: [referral] });
    expect(gone).toEqual([expect.objectContaining({ group_id: group.groupId, deleted: true, tag: [expect.objectContaining({ id: referral, deleted: true })] })]);
  });

  it('mark_tag: 84061 without a relationship, 40068 for unknown tags, idempotent otherwise', async () => {
    const t = await token();
    const { added } = sandbox.state.tags.addCorpTags({ groupName: '意向', tags: [{ name: '高' }] });
    const tagId = added[0]?.id ?? '';
    const { externalUserId } = sandbox.state.contacts.addCustomer({ name: '赵六', userId: 'alice', state: 'ch_2' });
    const mark = (userid: string, add: string[]): Promise<Reply> =>
      call('externalcontact/mark_tag', { body: { userid, external_userid: externalUserId, add_tag: add }, token: t });
    expect((await mark('bob', [tagId])).errcode).toBe(84061);
    expect((await mark('alice', ['etUnknown'])).errcode).toBe(40068);
    expect((await mark('alice', [tagId])).errcode).toBe(0);
    expect((await mark('alice', [tagId])).errcode).toBe(0);
    expect(sandbox.state.tags.tagsOf('alice', externalUserId)).toEqual([{ group_name: '意向', tag_name: '高', type: 1, tag_id: tagId }]);

    const got = await call('externalcontact/get', { query: { external_userid: externalUserId }, token: t });
    expect(got).toMatchObject({
      errcode: 0,
      external_contact: { external_userid: externalUserId, name: '赵六', type: 1 },
      follow_user: [{ userid: 'alice', state: 'ch_2', tags: [{ group_name: '意向', tag_name: '高', type: 1, tag_id: tagId }] }],
    });
    expect((await call('externalcontact/get', { query: { external_userid: 'wmNope' }, token: t })).errcode).toBe(40096);
  });
});

describe('contact ways and app messages', () => {
  it('creates, reads and updates a 联系我 config', async () => {
    const t = await token();
    const created = await call('externalcontact/add_contact_way', { body: { type: 1, scene: 2, state: 'ch_store_01', user: ['alice'] }, token: t });
    expect(created).toMatchObject({ errcode: 0, qr_code: `https://wework.qpic.cn/sandbox/${created.config_id as string}.png` });
    expect((await call('externalcontact/add_contact_way', { body: { type: 1, scene: 2, state: 's'.repeat(31), user: ['alice'] }, token: t })).errcode).toBe(40058);
    expect((await call('externalcontact/add_contact_way', { body: { type: 1, scene: 3, user: ['alice'] }, token: t })).errcode).toBe(41040);
    expect((await call('externalcontact/update_contact_way', { body: { config_id: created.config_id, remark: '门店' }, token: t })).errcode).toBe(0);
    expect((await call('externalcontact/update_contact_way', { body: { config_id: 'nope' }, token: t })).errcode).toBe(41044);
    const got = await call('externalcontact/get_contact_way', { body: { config_id: created.config_id }, token: t });
    expect(got.contact_way).toMatchObject({ config_id: created.config_id, type: 1, scene: 2, state: 'ch_store_01', remark: '门店', user: ['alice'] });
  });

  it('a corp with a member list refuses a 联系我 code for a userid it does not have (60111) and lists its members with 客户联系', () => {
    const corp = new SandboxState({ corpId: CORP_ID, secrets: [SECRET], members: ['alice', 'bob'] });
    expect(() => corp.contactWays.apiAddContactWay({ type: 2, scene: 2, state: 'x', user: ['alice', 'nobody'] })).toThrow(expect.objectContaining({ errcode: 60111 }));
    expect(corp.contactWays.ways.size).toBe(0);
    const { config_id } = corp.contactWays.apiAddContactWay({ type: 2, scene: 2, state: 'x', user: ['alice', 'bob'] }) as { config_id: string };
    expect(() => corp.contactWays.apiUpdateContactWay({ config_id, user: ['nobody'] })).toThrow(expect.objectContaining({ errcode: 60111 }));
    expect(corp.contactWays.ways.get(config_id)?.user).toEqual(['alice', 'bob']);
    expect(corp.contactWays.apiGetFollowUserList()).toEqual({ follow_user: ['alice', 'bob'] });
  });

  it('lists the 联系我 configs made in a span (list_contact_way: start_time and end_time in seconds) and deletes one', async () => {
    const t = await token();
    const first = Math.floor(clock / 1000);
    const a = await call('externalcontact/add_contact_way', { body: { type: 1, scene: 2, state: 'span_a', user: ['alice'] }, token: t });
    clock += 10_000;
    const b = await call('externalcontact/add_contact_way', { body: { type: 1, scene: 2, state: 'span_b', user: ['alice'] }, token: t });
    const list = async (body: Record<string, unknown>) => ((await call('externalcontact/list_contact_way', { body, token: t })).contact_way as Array<{ config_id: string }>).map((w) => w.config_id);
    expect(await list({})).toEqual(expect.arrayContaining([a.config_id, b.config_id]));
    const later = await list({ start_time: first + 5 });
    expect(later).toContain(b.config_id);
    expect(later).not.toContain(a.config_id);
    const earlier = await list({ start_time: first, end_time: first + 1 });
    expect(earlier).toContain(a.config_id);
    expect(earlier).not.toContain(b.config_id);
    expect((await call('externalcontact/del_contact_way', { body: { config_id: a.config_id }, token: t })).errcode).toBe(0);
    expect(await list({})).not.toContain(a.config_id);
  });

  it('records message/send', async () => {
    const r = await call('message/send', { body: { touser: 'alice|bob', msgtype: 'text', agentid: 1000002, text: { content: 'new lead' } } });
    expect(r).toMatchObject({ errcode: 0, invaliduser: '', msgid: expect.any(String) });
    expect(sandbox.state.appMessages.sent[0]).toMatchObject({ touser: ['alice', 'bob'], msgtype: 'text', content: 'new lead' });
  });

  it('message/send over a member\'s limit (30 in any minute, 1,000 in any hour) answers ok and drops it for that member [D:90236]', async () => {
    sandbox.state.reset();
    const t = await token();
    const send = (touser: string) => call('message/send', { body: { touser, msgtype: 'text', agentid: 1000002, text: { content: 'hi' } }, token: t });
    for (let i = 0; i < 30; i++) expect((await send('alice')).errcode).toBe(0);
    // The 31st within the minute: errcode 0 and a msgid, yet alice never gets it; bob (under his limit) does.
    const over = await send('alice|bob');
    expect(over).toMatchObject({ errcode: 0, invaliduser: '', msgid: expect.any(String) });
    expect(sandbox.state.appMessages.sentTo('alice')).toHaveLength(30);
    expect(sandbox.state.appMessages.sent.at(-1)).toMatchObject({ msgid: over.msgid, touser: ['bob'] });
    expect(sandbox.state.appMessages.dropped).toEqual([{ msgid: over.msgid, userids: ['alice'], at: clock }]);
    // A minute after the first, alice gets messages again; the hour counts every one she got.
    clock += 60_001;
    expect((await send('alice')).errcode).toBe(0);
    expect(sandbox.state.appMessages.sentTo('alice')).toHaveLength(31);
    for (let m = 0; m < 40; m++) {
      clock += 60_001;
      for (let i = 0; i < 30; i++) sandbox.state.appMessages.apiSendMessage({ touser: 'alice', msgtype: 'text', agentid: 1000002, text: { content: 'hi' } });
    }
    expect(sandbox.state.appMessages.sentTo('alice').filter((x) => x.at > clock - 3_600_000)).toHaveLength(1000);
    clock += 60_001;
  });
});

describe('scan', () => {
  it('posts a correctly signed and encrypted add_external_contact callback', async () => {
    const result = await sandbox.state.contacts.scan({ state: 'ch_store_01', userId: 'alice', name: '客户甲' });
    expect(result.status).toBe(200);
    expect(received).toHaveLength(1);
    const xml = received[0]?.xml ?? received[0]?.error ?? '';
    expect(xml).toBe(
      buildContactEventXml({
        toUserName: CORP_ID,
        createTime: Math.floor(clock / 1000),
        changeType: 'add_external_contact',
        userId: 'alice',
        externalUserId: result.externalUserId,
        state: 'ch_store_01',
        welcomeCode: result.welcomeCode,
      }),
    );
    expect(xml).toContain(`<ExternalUserID><![CDATA[${result.externalUserId}]]></ExternalUserID>`);
    expect(sandbox.state.contacts.relationship('alice', result.externalUserId)?.state).toBe('ch_store_01');
  });

  it('is reachable through the control API', async () => {
    const res = await fetch(`${sandbox.url}/sandbox/scan`, {
      method: 'POST',
      body: JSON.stringify({ state: 'ch_9', userId: 'bob', name: '客户乙' }),
    });
    const body = (await res.json()) as { status: number; welcomeCode: string };
    expect(body.status).toBe(200);
    expect(received[0]?.xml).toContain('<State><![CDATA[ch_9]]></State>');
    const calls = await (await fetch(`${sandbox.url}/sandbox/calls`)).json();
    expect(calls).toEqual([]);
  });
});

describe('buildContactEventXml', () => {
  it('omits absent optional fields and includes Source / FailReason when given', () => {
    const xml = buildContactEventXml({ toUserName: 'ww1', createTime: 1700000000, changeType: 'del_external_contact', userId: 'u', externalUserId: 'wm1', source: 'DELETE_BY_TRANSFER' });
    expect(xml).toBe(
      '<xml><ToUserName><![CDATA[ww1]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName><CreateTime>1700000000</CreateTime>' +
        '<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]></Event><ChangeType><![CDATA[del_external_contact]]></ChangeType>' +
        '<UserID><![CDATA[u]]></UserID><ExternalUserID><![CDATA[wm1]]></ExternalUserID><Source><![CDATA[DELETE_BY_TRANSFER]]></Source></xml>',
    );
  });
});

describe('the robot\'s response_url [D:101138]', () => {
  it('takes one markdown POST (no access token) within an hour, records it, and refuses a second or a late one', async () => {
    const robot = sandbox.state.robot;
    const url = robot.issueResponseUrl('msg-1');
    expect(url.startsWith(`${sandbox.url}/cgi-bin/aibot/response?response_code=`)).toBe(true);
    const post = (u: string, body: unknown) => fetch(u, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.json() as Promise<Reply>);
    expect((await post(url, { msgtype: 'text', text: { content: 'x' } })).errcode).toBe(40008);
    expect((await post(url, { msgtype: 'markdown', markdown: { content: '**done**' } })).errcode).toBe(0);
    expect((await post(url, { msgtype: 'markdown', markdown: { content: 'again' } })).errcode).toBe(40058);
    expect(robot.responseTo('msg-1')).toMatchObject({ msgtype: 'markdown', content: '**done**' });
    const late = robot.issueResponseUrl('msg-2');
    clock += 3_600_001;
    expect((await post(late, { msgtype: 'markdown', markdown: { content: 'late' } })).errcode).toBe(40058);
    expect((await post(`${sandbox.url}/cgi-bin/aibot/response?response_code=nope`, { msgtype: 'markdown', markdown: { content: 'x' } })).errcode).toBe(40058);
    expect(robot.responses).toHaveLength(1);
  });
});
