import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { decryptPayload } from '../../src/wecom/callback/crypto.js';

// The sandbox's 微信客服 area on its own: documented shapes, states and errcodes [D:94670, D:94677, D:94669, D:95122,
// D:95159], on an injectable clock. A tiny receiver stands in for the bot.
const CORP_ID = 'wwsandboxkf0001';
const CB = { token: 'QDG6eK', encodingAesKey: 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C' };
const KF = 'wkSANDBOXTEST';
let clock = Date.UTC(2026, 10, 26, 2, 0, 0);
let sandbox: Sandbox;
let receiver: Server;
const callbacks: string[] = [];
type Reply = Record<string, unknown> & { errcode: number };

async function call(api: string, body?: unknown, query: Record<string, string> = {}): Promise<Reply> {
  const t = (await (await fetch(`${sandbox.url}/cgi-bin/gettoken?corpid=${CORP_ID}&corpsecret=s`)).json()) as { access_token: string };
  const q = new URLSearchParams({ ...query, access_token: t.access_token });
  const res = await fetch(`${sandbox.url}/cgi-bin/${api}?${q}`, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return (await res.json()) as Reply;
}
const tokenOfLast = () => /<Token><!\[CDATA\[(.*?)\]\]>/.exec(callbacks.at(-1) ?? '')?.[1] ?? '';

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const encrypted = /<Encrypt><!\[CDATA\[(.*?)\]\]><\/Encrypt>/.exec(Buffer.concat(chunks).toString())?.[1] ?? '';
      callbacks.push(decryptPayload({ ...CB, receiveId: CORP_ID }, encrypted));
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  sandbox = await startSandbox({
    corpId: CORP_ID,
    secrets: ['s'],
    callback: { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`, ...CB },
    now: () => clock,
    kfAccounts: [{ openKfid: KF, name: '官方客服', servicers: ['zhangsan', { userid: 'lisi', status: 1 }] }],
  });
});
afterAll(async () => {
  await sandbox.close();
  await new Promise((r) => receiver.close(r));
});
afterEach(() => {
  sandbox.state.reset({ all: true });
  sandbox.state.kf.addAccount({ openKfid: KF, name: '官方客服', servicers: ['zhangsan', { userid: 'lisi', status: 1 }] });
  callbacks.length = 0;
});

describe('sandbox 微信客服', () => {
  it('a customer message posts kf_msg_or_event (Token, OpenKfId); sync_msg pages with a cursor, has_more an int, empty pages that are not the end', async () => {
    for (let i = 0; i < 3; i++) await sandbox.state.kf.customerSays(KF, 'wmA', `m${i}`);
    expect(callbacks).toHaveLength(3);
    expect(callbacks[0]).toMatch(/<Event><!\[CDATA\[kf_msg_or_event\]\]><\/Event><Token><!\[CDATA\[ENC\w+\]\]><\/Token><OpenKfId><!\[CDATA\[wkSANDBOXTEST\]\]><\/OpenKfId>/);
    const token = tokenOfLast();
    const p1 = await call('kf/sync_msg', { open_kfid: KF, token, limit: 2 });
    expect(p1).toMatchObject({ errcode: 0, has_more: 1 });
    expect((p1.msg_list as Array<{ origin: number; text: { content: string } }>).map((m) => [m.origin, m.text.content])).toEqual([[3, 'm0'], [3, 'm1']]);
    sandbox.state.kf.injectEmptyPages(KF, 1);
    const empty = await call('kf/sync_msg', { open_kfid: KF, token, cursor: p1.next_cursor, limit: 2 });
    expect(empty).toMatchObject({ has_more: 1, msg_list: [], next_cursor: p1.next_cursor });
    const p2 = await call('kf/sync_msg', { open_kfid: KF, token, cursor: p1.next_cursor, limit: 2 });
    expect(p2).toMatchObject({ has_more: 0 });
    expect(p2.msg_list).toHaveLength(1);
    // Messages the API sent are not returned.
    await call('kf/send_msg', { touser: 'wmA', open_kfid: KF, msgtype: 'text', text: { content: 'hi' } });
    expect((await call('kf/sync_msg', { open_kfid: KF, token, cursor: p2.next_cursor })).msg_list).toEqual([]);
  });

  it("an empty page with has_more 1 on an account's first sync (no cursor yet) gives a cursor the next call accepts", async () => {
    await sandbox.state.kf.customerSays(KF, 'wmA', 'm0');
    const token = tokenOfLast();
    sandbox.state.kf.injectEmptyPages(KF, 1);
    const empty = await call('kf/sync_msg', { open_kfid: KF, token });
    expect(empty).toMatchObject({ errcode: 0, has_more: 1, msg_list: [] });
    const next = await call('kf/sync_msg', { open_kfid: KF, token, cursor: empty.next_cursor });
    expect(next).toMatchObject({ errcode: 0, has_more: 0 });
    expect((next.msg_list as Array<{ text: { content: string } }>).map((m) => m.text.content)).toEqual(['m0']);
  });

  it('sync_msg: open_kfid required (95000), a token lives 10 min (95007 after), without one only a few calls a minute (45009), 3 days of history', async () => {
    await sandbox.state.kf.customerSays(KF, 'wmB', 'old');
    const token = tokenOfLast();
    expect((await call('kf/sync_msg', { token })).errcode).toBe(95000);
    expect((await call('kf/sync_msg', { open_kfid: KF, token: 'ENCforged' })).errcode).toBe(95007);
    clock += 10 * 60_000 + 1;
    expect((await call('kf/sync_msg', { open_kfid: KF, token })).errcode).toBe(95007);
    for (let i = 0; i < 6; i++) expect((await call('kf/sync_msg', { open_kfid: KF })).errcode).toBe(0);
    expect((await call('kf/sync_msg', { open_kfid: KF })).errcode).toBe(45009);
    clock += 3 * 86_400_000;
    await sandbox.state.kf.customerSays(KF, 'wmB', 'new');
    expect((await call('kf/sync_msg', { open_kfid: KF, token: tokenOfLast() })).msg_list).toEqual([expect.objectContaining({ text: { content: 'new' } })]);
  });

  it('send_msg: only within 48 h (95002), 5 per window (95001), only in states 0/1 (95018); our msgid ≤ 32 bytes of [0-9a-zA-Z_-] (40058)', async () => {
    const send = (o: Record<string, unknown> = {}) => call('kf/send_msg', { touser: 'wmC', open_kfid: KF, msgtype: 'text', text: { content: 'x' }, ...o });
    expect((await send()).errcode).toBe(95002);
    await sandbox.state.kf.customerSays(KF, 'wmC', 'hi');
    expect((await send({ msgid: 'x'.repeat(33) })).errcode).toBe(40058);
    expect((await send({ msgid: 'has space' })).errcode).toBe(40058);
    expect(await send({ msgid: 'our_own-ID_1' })).toMatchObject({ errcode: 0, msgid: 'our_own-ID_1' });
    expect(sandbox.state.kf.session(KF, 'wmC')?.state).toBe(1);
    for (let i = 0; i < 4; i++) expect((await send()).errcode).toBe(0);
    expect((await send()).errcode).toBe(95001);
    await sandbox.state.kf.customerSays(KF, 'wmC', 'again');
    expect((await send()).errcode).toBe(0);
    clock += 48 * 3_600_000 + 1;
    expect((await send()).errcode).toBe(95002);
    await sandbox.state.kf.customerSays(KF, 'wmC', 'back');
    expect((await call('kf/service_state/trans', { open_kfid: KF, external_userid: 'wmC', service_state: 3, servicer_userid: 'zhangsan' })).errcode).toBe(0);
    expect((await send()).errcode).toBe(95018);
  });

  it('service_state: get and trans with the documented moves; a servicer off duty is 95014; msg_code on moves to 2, 3 and 4', async () => {
    await sandbox.state.kf.customerSays(KF, 'wmD', 'hi');
    expect(await call('kf/service_state/get', { open_kfid: KF, external_userid: 'wmD' })).toMatchObject({ service_state: 0 });
    expect((await call('kf/service_state/trans', { open_kfid: KF, external_userid: 'wmD', service_state: 4 })).errcode).toBe(95016);
    expect((await call('kf/service_state/trans', { open_kfid: KF, external_userid: 'wmD', service_state: 3, servicer_userid: 'lisi' })).errcode).toBe(95014);
    expect((await call('kf/service_state/trans', { open_kfid: KF, external_userid: 'wmD', service_state: 3 })).errcode).toBe(40058);
    expect(await call('kf/service_state/trans', { open_kfid: KF, external_userid: 'wmD', service_state: 2 })).toMatchObject({ errcode: 0, msg_code: expect.any(String) });
    expect((await call('kf/service_state/trans', { open_kfid: KF, external_userid: 'wmD', service_state: 1 })).errcode).toBe(95016);
    expect((await call('kf/service_state/trans', { open_kfid: KF, external_userid: 'wmD', service_state: 3, servicer_userid: 'zhangsan' })).errcode).toBe(0);
    expect(await call('kf/service_state/get', { open_kfid: KF, external_userid: 'wmD' })).toMatchObject({ service_state: 3, servicer_userid: 'zhangsan' });
    expect(await call('kf/service_state/trans', { open_kfid: KF, external_userid: 'wmD', service_state: 4 })).toMatchObject({ errcode: 0, msg_code: expect.any(String) });
    // A customer message re-opens an ended session as a new one (0).
    await sandbox.state.kf.customerSays(KF, 'wmD', 'again');
    expect(await call('kf/service_state/get', { open_kfid: KF, external_userid: 'wmD' })).toMatchObject({ service_state: 0 });
  });

  it('enter_session with a welcome_code, once, for 20 s (send_msg_on_event); customers, servicers, accounts and links', async () => {
    const first = await sandbox.state.kf.customerEnters(KF, 'wmE', { scene: 'expo', sceneParam: 'booth-3', nickname: '访客' });
    expect(first.welcomeCode).toBeTruthy();
    const page = await call('kf/sync_msg', { open_kfid: KF, token: tokenOfLast() });
    expect((page.msg_list as Array<Record<string, unknown>>)[0]).toMatchObject({ origin: 4, msgtype: 'event', event: { event_type: 'enter_session', scene: 'expo', scene_param: 'booth-3', welcome_code: first.welcomeCode } });
    expect((page.msg_list as Array<Record<string, unknown>>)[0]).not.toHaveProperty('external_userid');
    clock += 21_000;
    expect((await call('kf/send_msg_on_event', { code: first.welcomeCode, msgtype: 'text', text: { content: 'late' } })).errcode).toBe(40058);
    const again = await sandbox.state.kf.customerEnters(KF, 'wmE2', { scene: 'expo' });
    expect((await call('kf/send_msg_on_event', { code: again.welcomeCode, msgtype: 'msgmenu', msgmenu: { head_content: '您好', list: [{ type: 'click', click: { id: 'a', content: '报价' } }] } })).errcode).toBe(0);
    expect((await call('kf/send_msg_on_event', { code: again.welcomeCode, msgtype: 'text', text: { content: 'twice' } })).errcode).toBe(40058);
    // Within 48 h of a welcome, no new code.
    expect((await sandbox.state.kf.customerEnters(KF, 'wmE2')).welcomeCode).toBeNull();
    expect(await call('kf/customer/batchget', { external_userid_list: ['wmE', 'wmNOBODY'], need_enter_session_context: 1 })).toMatchObject({
      customer_list: [{ external_userid: 'wmE', nickname: '访客', enter_session_context: { scene: 'expo', scene_param: 'booth-3' } }],
      invalid_external_userid: ['wmNOBODY'],
    });
    expect(await call('kf/servicer/list', undefined, { open_kfid: KF })).toMatchObject({ servicer_list: [{ userid: 'zhangsan', status: 0 }, { userid: 'lisi', status: 1 }] });
    expect(await call('kf/account/list', {})).toMatchObject({ account_list: [{ open_kfid: KF, name: '官方客服' }] });
    expect(await call('kf/add_contact_way', { open_kfid: KF, scene: 'expo2026' })).toMatchObject({ errcode: 0, url: expect.stringContaining(KF) });
    expect((await call('kf/add_contact_way', { open_kfid: KF, scene: '展会' })).errcode).toBe(40058);
    expect((await call('kf/add_contact_way', { open_kfid: 'wkNOPE' })).errcode).toBe(95000);
  });

  it('servicers in the client: origin 5 messages, session_status_change, msg_send_fail later', async () => {
    await sandbox.state.kf.customerSays(KF, 'wmF', 'hi');
    const sent = await call('kf/send_msg', { touser: 'wmF', open_kfid: KF, msgid: 'mine1', msgtype: 'text', text: { content: 'hello' } });
    await call('kf/service_state/trans', { open_kfid: KF, external_userid: 'wmF', service_state: 2 });
    await sandbox.state.kf.servicerPicks(KF, 'wmF', 'zhangsan');
    await sandbox.state.kf.servicerSays(KF, 'wmF', 'zhangsan', '您好');
    await sandbox.state.kf.servicerEnds(KF, 'wmF');
    await sandbox.state.kf.failLater(sent.msgid as string, 4);
    const list = (await call('kf/sync_msg', { open_kfid: KF, token: tokenOfLast() })).msg_list as Array<Record<string, unknown>>;
    expect(list.map((m) => (m.event as { event_type?: string } | undefined)?.event_type ?? `origin ${m.origin}`)).toEqual(['origin 3', 'session_status_change', 'origin 5', 'session_status_change', 'msg_send_fail']);
    expect(list[2]).toMatchObject({ servicer_userid: 'zhangsan', external_userid: 'wmF' });
    expect(list[4]).toMatchObject({ event: { fail_msgid: 'mine1', fail_type: 4 } });
    await expect(sandbox.state.kf.servicerSays(KF, 'wmF', 'lisi', 'x')).rejects.toThrow(/does not serve/);
  });
});
