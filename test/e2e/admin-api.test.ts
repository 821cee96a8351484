import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpApp } from '../../src/app/http-app.js';
import { Lead } from '../../src/store/models/lead.js';
import { timelineOf } from '../../src/store/timeline.js';
import { TEST_CORP } from '../fixtures/test-corp.js';
import { startTestBot, type TestBot } from '../helpers/test-bot.js';
import { waitFor } from '../helpers/wait-for.js';

const TOKEN = 'admin-token-for-tests-0123456789';
let t: TestBot;
beforeAll(async () => {
  t = await startTestBot('admin-api', { env: { ADMIN_TOKEN: TOKEN, SEQUENCE_STATS_MAX_AGE_SECONDS: '0' } });
});
afterAll(async () => t?.stop());

const api = (path: string, init: RequestInit & { token?: string | null } = {}) =>
  fetch(`${t.url}/admin/api${path}`, {
    ...init,
    headers: { ...(init.token === null ? {} : { authorization: `Bearer ${init.token ?? TOKEN}` }), ...(init.body ? { 'content-type': 'application/json' } : {}), ...init.headers },
  });
const post = (path: string, body: unknown) => api(path, { method: 'POST', body: JSON.stringify(body) });
const json = async <T = Record<string, unknown>>(res: Response) => (await res.json()) as T;

/** A customer scans `state`'s code and is recorded (and profiled). */
async function arrive(state: string, name: string) {
  const c = t.newContact({ state, name });
  expect((await t.post(c.xml)).status).toBe(200);
  await waitFor(async () => (await Lead.findOne({ externalUserId: c.externalUserId }))?.profileSyncedAt, 'lead profiled');
  return { ...c, id: `${TEST_CORP.corpId}:${c.externalUserId}` };
}

describe('admin API: access', () => {
  it('answers 401 without the token or with a wrong one, and 404 under /admin when no token is configured', async () => {
    expect((await api('/leads', { token: null })).status).toBe(401);
    const wrong = await api('/leads', { token: 'admin-token-for-tests-012345678X' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toContain('Bearer');
    expect((await api('/openapi.json', { token: null })).status).toBe(401);
    // Every route the API documents (each page of the dashboard reads one) refuses a call without the token.
    const doc = await json<{ paths: Record<string, Record<string, unknown>> }>(await api('/openapi.json'));
    for (const [p, methods] of Object.entries(doc.paths)) {
      const url = p.replace('/admin/api', '').replace(/\{[^}]+\}/g, 'x');
      for (const method of Object.keys(methods)) expect((await api(url, { token: null, method: method.toUpperCase() })).status, `${method} ${p}`).toBe(401);
    }
    // The same bot's web app, configured without a token.
    const app = createHttpApp({ ...t.bot.ctx, config: { ...t.bot.ctx.config, ADMIN_TOKEN: undefined } });
    const server = await new Promise<Server>((r) => {
      const s = app.listen(0, '127.0.0.1', () => r(s));
    });
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      expect((await fetch(`${base}/admin/api/leads`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
      expect((await fetch(`${base}/admin`)).status).toBe(404);
      expect((await fetch(`${base}/admin/api/openapi.json`)).status).toBe(404);
    } finally {
      server.close();
    }
  });

  it('refuses bad input with 400 and the failing fields', async () => {
    const a = await json<{ issues: Array<{ in: string; path: string }> }>(await api('/leads?stage=nope&limit=0'));
    expect(a.issues.map((i) => `${i.in}:${i.path}`).sort()).toEqual(['query:limit', 'query:stage']);
    expect((await api('/leads?cursor=garbage')).status).toBe(400);
    // Well formed, but past any time a lead could have (a date no Date holds): 400, not a failed query.
    for (const v of [1e300, -1e20, 1.5e16]) expect((await api(`/leads?sort=added&cursor=${Buffer.from(JSON.stringify([v, 'x'])).toString('base64url')}`)).status).toBe(400);
    expect((await api('/funnel?from=2026-13-01')).status).toBe(400);
    expect((await api('/funnel?from=2026-11-10&to=2026-11-01')).status).toBe(400);
    // A day that does not exist, a period that ends (today, by default) before it starts, one longer than a year.
    expect((await api('/funnel?from=2026-02-31')).status).toBe(400);
    expect((await api('/service?to=2026-04-31')).status).toBe(400);
    expect((await api('/funnel?from=2999-01-01')).status).toBe(400);
    const long = await api('/service?from=2024-01-01&to=2026-01-01');
    expect(long.status).toBe(400);
    expect((await json<{ issues: Array<{ path: string; message: string }> }>(long)).issues).toEqual([{ in: 'query', path: 'from', message: 'a period is at most 366 days' }]);
    const lead = await arrive('expo2026', '校验');
    const noReason = await post(`/leads/${lead.id}/stage`, { stage: 'qualified' });
    expect(noReason.status).toBe(400);
    expect((await json<{ issues: Array<{ path: string }> }>(noReason)).issues.map((i) => i.path)).toEqual(['reason']);
    expect((await post(`/leads/${lead.id}/grade`, { grade: 'Z' })).status).toBe(400);
    expect((await api(`/leads/${lead.id}/stage`, { method: 'POST', body: '{not json' })).status).toBe(400);
    expect((await post('/leads/wm_nobody/stage', { stage: 'qualified', reason: 'x' })).status).toBe(404);
    expect((await api('/leads/wm_nobody')).status).toBe(404);
    expect((await api('/no-such-route')).status).toBe(404);
  });

  it('takes a query parameter left empty as not given, as the routes are written (?q=&stage=&…, ?from=&to=)', async () => {
    const all = await api('/leads?q=&stage=&grade=&channel=&tag=&owner=&limit=&cursor=');
    expect(all.status, await all.clone().text()).toBe(200);
    // The same page as without them (the total may appear meanwhile: null until the lead index is built).
    const page = async (r: Response) => ({ ...(await json<{ items: unknown[]; next: string | null }>(r)), total: undefined });
    expect(await page(all)).toEqual(await page(await api('/leads')));
    const f = await api('/funnel?from=&to=&channel=');
    expect(f.status, await f.clone().text()).toBe(200);
    expect(await json(f)).toEqual(await json(await api('/funnel')));
    expect((await api('/service?from=&to=')).status).toBe(200);
    // A value that is given is still checked.
    expect((await api('/leads?stage=nope')).status).toBe(400);
  });

  it('answers a period that ends on the last day a date can hold (9999-12-31) like any other', async () => {
    // The day after it has no YYYY-MM-DD form: a loop that steps past `to` by day must not need it.
    const res = await api('/service?from=9999-12-25&to=9999-12-31');
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ from: '9999-12-25', to: '9999-12-31', total: { count: 0 }, breaches: [] });
  });
});

describe('admin API: leads, stages, grades, funnel, channels', () => {
  it('lists leads with filters and a cursor, and shows one with its timeline, enrollments and score reasons', async () => {
    const [a, b, c] = [await arrive('expo2026', '列表甲'), await arrive('expo2026', '列表乙'), await arrive('notext', '列表丙')];
    const page1 = await json<{ items: Array<{ id: string; channel: string }>; next: string | null }>(await api('/leads?channel=expo2026&limit=1'));
    expect(page1.items).toHaveLength(1);
    expect(page1.next).toBeTruthy();
    const page2 = await json<{ items: Array<{ id: string }> }>(await api(`/leads?channel=expo2026&limit=1&cursor=${page1.next}`));
    expect(page2.items[0]?.id).not.toBe(page1.items[0]?.id);
    // A cursor goes on in the order it was made in: with another sort it is refused, not read as a place in that one.
    const crossed = await api(`/leads?channel=expo2026&limit=1&sort=score&cursor=${page1.next}`);
    expect(crossed.status).toBe(400);
    expect(JSON.stringify(await crossed.json())).toContain('it is a cursor of sort=lastTouch, not sort=score');
    const foundRes = await api(`/leads?q=${encodeURIComponent('列表乙')}`);
    const found = await json<{ items: Array<{ id: string; name: string; tags: Array<{ group: string; name: string }> }> }>(foundRes);
    expect(foundRes.status, JSON.stringify(found)).toBe(200);
    expect(found.items.map((i) => i.id)).toEqual([b.id]);
    expect(found.items[0]?.tags).toContainEqual({ group: '行业', name: '制造业' });
    const byTagRes = await api(`/leads?tag=${encodeURIComponent('渠道/无欢迎语')}`);
    const byTag = await json<{ items: Array<{ id: string }> }>(byTagRes);
    expect(byTagRes.status, JSON.stringify(byTag)).toBe(200);
    expect(byTag.items.map((i) => i.id)).toContain(c.id);
    expect(byTag.items.map((i) => i.id)).not.toContain(a.id);
    const detail = await json<{ id: string; timeline: Array<{ type: string }>; enrollments: unknown[]; scoreReasons: Array<{ reason: string; points: number }> }>(await api(`/leads/${encodeURIComponent(a.id)}`));
    expect(detail.id).toBe(a.id);
    expect(detail.timeline.map((e) => e.type)).toEqual(expect.arrayContaining(['added', 'profile_synced']));
    expect(detail.scoreReasons.length).toBeGreaterThan(0);
    // The external user id alone finds the lead too.
    expect((await json<{ id: string }>(await api(`/leads/${a.externalUserId}`))).id).toBe(a.id);
  });

  it('moves a stage with a reason (on the timeline, who and why) and pins and unpins a grade', async () => {
    const l = await arrive('notext', '阶段');
    const moved = await json<{ lead: { stage: string }; change: { from: string; to: string } }>(await post(`/leads/${l.id}/stage`, { stage: 'opportunity', reason: '已约演示', actor: 'lisi' }));
    // No service sequence here (the test templates name none): nothing entered.
    expect(moved).toMatchObject({ lead: { stage: 'opportunity' }, change: { from: 'added', to: 'opportunity' }, serviceEnrolled: false });
    const entry = (await timelineOf(TEST_CORP.corpId, l.externalUserId)).find((e) => e.type === 'stage_changed');
    expect(entry?.detail).toMatchObject({ to: 'opportunity', by: 'staff', source: 'api', actor: 'lisi', reason: '已约演示' });
    // Staff may move it back; the funnel keeps what it reached.
    expect((await json<{ lead: { stage: string } }>(await post(`/leads/${l.id}/stage`, { stage: 'engaged', reason: '客户暂缓' }))).lead.stage).toBe('engaged');
    const pinned = await json<{ lead: { grade: string; gradePinned: boolean } }>(await post(`/leads/${l.id}/grade`, { grade: 'S', actor: 'lisi' }));
    expect(pinned.lead).toMatchObject({ grade: 'S', gradePinned: true });
    const unpinned = await json<{ lead: { grade: string; gradePinned: boolean } }>(await post(`/leads/${l.id}/grade`, { grade: 'auto' }));
    expect(unpinned.lead.gradePinned).toBe(false);
    expect(unpinned.lead.grade).not.toBe('S');
    expect((await timelineOf(TEST_CORP.corpId, l.externalUserId)).map((e) => e.type)).toEqual(expect.arrayContaining(['grade_pinned', 'grade_unpinned']));
  });

  it('a pin up to A tells the owner once, by app message, however often it is repeated', async () => {
    const l = await arrive('notext', '定级客户');
    await post(`/leads/${l.id}/grade`, { grade: 'A', actor: 'lisi' });
    await post(`/leads/${l.id}/grade`, { grade: 'A', actor: 'lisi' });
    const notices = await waitFor(() => {
      const m = t.sandbox.state.appMessages.sent.filter((x) => x.content?.includes('定级客户 升为 A 级'));
      return m.length ? m : null;
    }, 'notice sent');
    await new Promise((r) => setTimeout(r, 500));
    expect(t.sandbox.state.appMessages.sent.filter((x) => x.content?.includes('定级客户 升为'))).toHaveLength(1);
    expect(notices[0]?.touser).toEqual(['zhangsan']);
  });

  it('the funnel counts, per channel, the leads added in the period that reached each stage', async () => {
    const day = new Date().toLocaleDateString('en-CA', { timeZone: 'Asia/Shanghai' });
    const before = await json<{ channels: Array<{ channel: string; added: number; qualified: number; customer: number; lost: number; grades: Record<string, number> }> }>(await api(`/funnel?from=${day}&to=${day}&channel=slowseq`));
    const base = before.channels[0] ?? { added: 0, qualified: 0, customer: 0, lost: 0 };
    const leads = [await arrive('slowseq', '漏斗一'), await arrive('slowseq', '漏斗二'), await arrive('slowseq', '漏斗三')];
    await post(`/leads/${leads[0]!.id}/stage`, { stage: 'customer', reason: '签约' });
    await post(`/leads/${leads[1]!.id}/stage`, { stage: 'qualified', reason: '要报价' });
    await post(`/leads/${leads[1]!.id}/stage`, { stage: 'lost', reason: '选了别家' });
    const f = await json<{ channels: Array<{ channel: string; added: number; engaged: number; qualified: number; customer: number; lost: number; conversion: Record<string, number | null> }>; total: { added: number } }>(await api(`/funnel?from=${day}&to=${day}&channel=slowseq`));
    const ch = f.channels.find((x) => x.channel === 'slowseq')!;
    expect(ch.added - base.added).toBe(3);
    expect(ch.qualified - base.qualified).toBe(2); // the customer passed through qualified; the lost one reached it
    expect(ch.customer - base.customer).toBe(1);
    expect(ch.lost - base.lost).toBe(1);
    expect(f.total.added).toBe(ch.added);
    const channels = await json<Array<{ key: string; counts: { added: number } }>>(await api('/channels'));
    expect(channels.find((x) => x.key === 'slowseq')?.counts.added).toBeGreaterThanOrEqual(3);
    expect(channels.map((x) => x.key)).toEqual(expect.arrayContaining(['expo2026', 'notext', 'nurture', 'slowseq', 'organic']));
  });

  it('tags a lead in WeCom and on the lead, and untags it, with a timeline entry', async () => {
    const l = await arrive('expo2026', '打标签');
    const bad = await post(`/leads/${l.id}/tags`, {});
    expect(bad.status).toBe(400);
    // A group or name WeCom would refuse (1-30 characters each): 400 naming the tag, before WeCom is asked.
    for (const add of [['名'.repeat(31)], ['意向/'], [`${'组'.repeat(31)}/高`]]) {
      const res = await post(`/leads/${l.id}/tags`, { add });
      expect(res.status, add[0]).toBe(400);
      expect((await json<{ issues: Array<{ path: string }> }>(res)).issues.map((i) => i.path), add[0]).toEqual(['add.0']);
    }
    const r = await json<{ added: string[]; removed: string[] }>(await post(`/leads/${l.id}/tags`, { add: ['意向/高', '展会回访'], actor: 'lisi' }));
    expect(r.added).toEqual(['意向/高', '渠道/展会回访']);
    expect(t.sandbox.state.tags.tagsOf('zhangsan', l.externalUserId).map((x) => `${x.group_name}/${x.tag_name}`)).toEqual(expect.arrayContaining(['意向/高', '渠道/展会回访']));
    const removed = await json<{ removed: string[] }>(await post(`/leads/${l.id}/tags`, { remove: ['意向/高', '意向/不存在'] }));
    expect(removed.removed).toEqual(['意向/高']);
    expect(t.sandbox.state.tags.tagsOf('zhangsan', l.externalUserId).map((x) => x.tag_name)).not.toContain('高');
    const lead = await Lead.findById(l.id).lean();
    expect(lead?.tags.map((x) => `${x.group}/${x.name}`)).toEqual(expect.arrayContaining(['渠道/展会回访', '行业/制造业']));
    expect(lead?.tags.map((x) => x.name)).not.toContain('高');
    expect((await timelineOf(TEST_CORP.corpId, l.externalUserId)).filter((e) => e.type === 'tags_changed')).toHaveLength(2);
    expect((await post('/leads/wm_nobody/tags', { add: ['x'] })).status).toBe(404);
    // Only tags nobody has to remove: nothing to do, said as such (no call to WeCom, which refuses empty lists).
    expect(await json(await post(`/leads/${l.id}/tags`, { remove: ['意向/从来没有'] }))).toMatchObject({ added: [], removed: [], unknown: ['意向/从来没有'] });
    // A tag named twice is one; one both added and removed is a contradiction, refused before WeCom is asked.
    const twice = await json<{ added: string[] }>(await post(`/leads/${l.id}/tags`, { add: ['意向/中', '意向/中'] }));
    expect(twice.added).toEqual(['意向/中']);
    const calls = t.sandbox.state.callsTo('externalcontact/mark_tag').length;
    const both = await post(`/leads/${l.id}/tags`, { add: ['意向/低'], remove: ['意向/低'] });
    expect(both.status).toBe(400);
    expect((await json<{ error: string }>(both)).error).toBe('意向/低: both in add and in remove; give each tag once');
    expect(t.sandbox.state.callsTo('externalcontact/mark_tag')).toHaveLength(calls);
    // Nobody follows the customer: WeCom has no relationship to tag [D:92117], said so (it answered 200 with nothing).
    const alone = { corpId: TEST_CORP.corpId, externalUserId: `wm_alone_${Date.now().toString(36)}` };
    await t.bot.ctx.leads.mutate(alone, { channelKey: 'expo2026', userId: 'zhangsan', at: new Date() }, (d) => {
      d.name = '无人跟进';
    });
    const noOwner = await post(`/leads/${alone.externalUserId}/tags`, { add: ['意向/高'] });
    expect(noOwner.status).toBe(409);
    expect((await json<{ error: string }>(noOwner)).error).toContain('has no active owner');
  });

  it('pauses and resumes a lead, a sequence or a channel, and lists what is paused', async () => {
    const l = await arrive('notext', '暂停');
    expect((await post('/pauses', { kind: 'sequence', target: 'nope' })).status).toBe(400);
    expect((await post('/pauses', { kind: 'lead', target: 'wm_nobody' })).status).toBe(404);
    // A campaign has its own routes (POST /campaigns/<key>/pause, /resume: they check its key and state); here a
    // typo would pause a key no campaign has yet, and a resume would lift the pause a cancelled campaign keeps.
    for (const resume of [false, true]) {
      const res = await post('/pauses', { kind: 'campaign', target: 'no-such-campaign', resume });
      expect(res.status).toBe(400);
      expect((await json<{ issues: Array<{ path: string }> }>(res)).issues.map((i) => i.path)).toEqual(['kind']);
    }
    expect((await json<Array<{ kind: string }>>(await api('/pauses'))).map((p) => p.kind)).not.toContain('campaign');
    expect(await json(await post('/pauses', { kind: 'lead', target: l.externalUserId, reason: '客户要求暂停', actor: 'lisi' }))).toEqual({ changed: true });
    expect(await json(await post('/pauses', { kind: 'lead', target: l.id }))).toEqual({ changed: false });
    expect(await json(await post('/pauses', { kind: 'sequence', target: 'slow' }))).toEqual({ changed: true });
    const list = await json<Array<{ kind: string; target: string; by: string; reason: string | null }>>(await api('/pauses'));
    expect(list).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'lead', target: l.id, by: 'lisi', reason: '客户要求暂停' }), expect.objectContaining({ kind: 'sequence', target: 'slow' })]));
    expect(await json(await post('/pauses', { kind: 'sequence', target: 'slow', resume: true }))).toEqual({ changed: true });
    expect(await json(await post('/pauses', { kind: 'lead', target: l.id, resume: true }))).toEqual({ changed: true });
    const after = await json<Array<{ target: string }>>(await api('/pauses'));
    expect(after.map((p) => p.target)).not.toContain(l.id);
    expect(after.map((p) => p.target)).not.toContain('slow');
  });

  it('shows grades overall and per channel, and the S and A leads nobody has followed up yet', async () => {
    const l = await arrive('expo2026', '等跟进');
    await post(`/leads/${l.id}/grade`, { grade: 'S', actor: 'lisi' });
    const board = await json<{ overall: Record<string, number>; channels: Array<{ channel: string; S: number }>; waiting: Array<{ id: string; grade: string }> }>(await api('/grades'));
    expect(board.waiting.map((w) => w.id)).toContain(l.id);
    expect(board.waiting.every((w) => w.grade === 'S' || w.grade === 'A')).toBe(true);
    const sum = board.channels.reduce((n, c) => n + c.S, 0);
    expect(board.overall.S).toBe(sum);
    expect(board.overall.S).toBeGreaterThanOrEqual(1);
    // A member takes it up (moves its stage): it waits no more, until the customer does something again.
    await post(`/leads/${l.id}/stage`, { stage: 'qualified', reason: '电话沟通过', actor: 'lisi' });
    expect((await json<{ waiting: Array<{ id: string }> }>(await api('/grades'))).waiting.map((w) => w.id)).not.toContain(l.id);
  });

  it('shows per sequence and step what was sent', async () => {
    const l = await arrive('slowseq', '序列统计');
    type Stats = Array<{ key: string; name: string; enrollments: Record<string, number>; steps: Array<{ label: string; sent: number; submitted: number; reminded: number }> }>;
    const stepOne = async () => {
      const s = (await json<Stats>(await api('/sequences'))).find((x) => x.key === 'slow')!.steps[0]!;
      return s.sent + s.submitted + s.reminded;
    };
    const before = await stepOne();
    await waitFor(async () => (await stepOne()) > before, 'first step delivered', 15_000);
    const slow = (await json<Stats>(await api('/sequences'))).find((s) => s.key === 'slow')!;
    expect(slow.name).toBe('测试培育（三步，2 秒）');
    expect(slow.steps.map((s) => s.label)).toEqual(['第一步', '第二步', '第三步']);
    expect(Object.values(slow.enrollments).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1);
    expect(l.id).toBeTruthy();
  });

  it('publishes an OpenAPI document generated from the same schemas', async () => {
    const doc = await json<{ openapi: string; paths: Record<string, Record<string, { parameters?: Array<{ name: string }> }>> }>(await api('/openapi.json'));
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths).sort()).toEqual(expect.arrayContaining(['/admin/api/channels', '/admin/api/funnel', '/admin/api/grades', '/admin/api/leads', '/admin/api/leads/{id}', '/admin/api/leads/{id}/grade', '/admin/api/leads/{id}/stage', '/admin/api/leads/{id}/tags', '/admin/api/pauses', '/admin/api/sequences', '/admin/api/service', '/admin/api/campaigns', '/admin/api/campaigns/{key}', '/admin/api/campaigns/{key}/cancel', '/admin/api/campaigns/{key}/dry-run', '/admin/api/campaigns/{key}/launch', '/admin/api/campaigns/{key}/pause', '/admin/api/campaigns/{key}/resume']));
    expect(doc.paths['/admin/api/leads']?.get?.parameters?.map((p) => p.name)).toEqual(expect.arrayContaining(['q', 'stage', 'grade', 'channel', 'tag', 'owner', 'limit', 'cursor']));
    // Every answer a route can give is in it: a body's limits, and a route's own (a lead nobody follows cannot be tagged).
    const answers = (path: string) => Object.keys((doc.paths[path]?.post as { responses?: object } | undefined)?.responses ?? {});
    expect(answers('/admin/api/leads/{id}/tags')).toEqual(expect.arrayContaining(['200', '400', '401', '404', '409', '413', '415']));
    expect(answers('/admin/api/pauses')).toEqual(expect.arrayContaining(['404', '413']));
  });
});
