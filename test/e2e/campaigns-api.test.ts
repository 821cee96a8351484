import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CampaignRecord } from '../../src/store/models/campaign.js';
import { CampaignRun } from '../../src/store/models/campaign-run.js';
import { Pause } from '../../src/store/models/pause.js';
import { startTestBot, type TestBot } from '../helpers/test-bot.js';
import { seedLeads } from '../helpers/seed-leads.js';
import { waitFor } from '../helpers/wait-for.js';

const TOKEN = 'admin-token-for-tests-0123456789';
let t: TestBot;
beforeAll(async () => {
  t = await startTestBot('campaigns_api', { env: { ADMIN_TOKEN: TOKEN, CAMPAIGN_QUIET_HOURS: 'none', NURTURE_DAILY_CAP: '0' } });
});
afterAll(async () => t?.stop());

const api = (path: string, init: RequestInit & { token?: string | null } = {}) =>
  fetch(`${t.url}/admin/api${path}`, {
    ...init,
    headers: { ...(init.token === null ? {} : { authorization: `Bearer ${init.token ?? TOKEN}` }), ...(init.body ? { 'content-type': 'application/json' } : {}), ...init.headers },
  });
const post = (path: string, body?: unknown) => api(path, { method: 'POST', ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
const json = async <T = Record<string, unknown>>(res: Response) => (await res.json()) as T;
type Issues = { error: string; issues?: Array<{ in: string; path: string; message: string }> };
const valid = (key: string) => ({
  key,
  name: '接口群发',
  segment: { tags: { all: ['测试/api'] } },
  content: { text: '您好，这是接口创建的群发。', link: { title: '详情', url: 'https://example.com/api' } },
  schedule: { cron: '0 10 * * 1', timezone: 'Asia/Shanghai' },
});

describe('campaigns API: access and validation', () => {
  it('answers 401 without the token and 404 for an unknown campaign', async () => {
    expect((await api('/campaigns', { token: null })).status).toBe(401);
    expect((await post('/campaigns', valid('x'))).status).not.toBe(401);
    expect((await api('/campaigns/nope', { token: 'wrong-token-wrong-token-wrong' })).status).toBe(401);
    expect((await api('/campaigns/nope')).status).toBe(404);
    for (const action of ['dry-run', 'launch', 'pause', 'resume', 'cancel']) expect((await post(`/campaigns/nope/${action}`)).status).toBe(404);
  });

  it('refuses invalid campaigns with 400 and the failing fields, taken keys with 409', async () => {
    const missing = await json<Issues>(await post('/campaigns', { key: 'bad key!', segment: { grades: ['Z'] } }));
    expect(missing.issues?.map((i) => `${i.in}:${i.path}`).sort()).toEqual(['body:content', 'body:key', 'body:name', 'body:schedule', 'body:segment.grades.0']);
    const refs = await post('/campaigns', { ...valid('refs'), content: { sequence: 'nope' }, segment: { channels: ['nowhere'] } });
    expect(refs.status).toBe(400);
    expect((await json<Issues>(refs)).issues?.map((i) => i.path).sort()).toEqual(['content.sequence', 'segment.channels']);
    const past = await post('/campaigns', { ...valid('past'), schedule: { at: '2020-01-01T10:00:00+08:00' } });
    expect(past.status).toBe(400);
    expect((await json<Issues>(past)).issues?.[0]).toMatchObject({ in: 'body', path: 'schedule.at' });
    expect((await post('/campaigns', { ...valid('both'), schedule: { at: '2099-01-01T10:00:00+08:00', cron: '0 10 * * 1' } })).status).toBe(400);
    // A text that fits alone but not with its link line on the 微信客服 route (2048 bytes) is refused, as in a file.
    const long = await post('/campaigns', { ...valid('longkf'), content: { text: '产品更新说明。'.repeat(90), link: { title: '更新详情', url: 'https://example.com/update' } } });
    expect(long.status).toBe(400);
    const longIssue = (await json<Issues>(long)).issues?.[0];
    expect(longIssue).toMatchObject({ in: 'body', path: 'content.text' });
    expect(longIssue?.message).toMatch(/微信客服 route .* over kf\/send_msg's 2048 .*shorten it by \d+ bytes/);
    expect((await post('/campaigns', { ...valid('shortkf'), content: { text: '产品更新说明。'.repeat(75), link: { title: '更新详情', url: 'https://example.com/update' } } })).status).toBe(200);
    // Patterns croner reads but BullMQ's job scheduler cannot (a weekday-nearest day, a day no month has, an alias it
    // lacks): refused with the field, and the key is not left taken by a campaign that has no schedule.
    for (const [i, cron] of ['0 10 15W * *', '0 10 31 2 *', '@annually'].entries()) {
      const res = await post('/campaigns', { ...valid(`cron${i}`), schedule: { cron, timezone: 'Asia/Shanghai' } });
      expect(res.status, cron).toBe(400);
      expect((await json<Issues>(res)).issues?.map((x) => x.path), cron).toEqual(['schedule.cron']);
      expect((await api(`/campaigns/cron${i}`)).status, cron).toBe(404);
    }
    // A day no calendar has is refused, not read as another (2026-02-31 would be 3 March).
    const noDay = await post('/campaigns', { ...valid('noday'), segment: { addedAfter: '2026-02-31', lastTouchBefore: '2026-13-01' } });
    expect(noDay.status).toBe(400);
    expect((await json<Issues>(noDay)).issues?.map((i) => i.path).sort()).toEqual(['segment.addedAfter', 'segment.lastTouchBefore']);
    // A span no date can be counted with (its dry run and its runs failed on an invalid date): refused with the field.
    const far = await post('/campaigns', { ...valid('far'), segment: { addedAfter: '99999999999d' }, window: '99999999999999d' });
    expect(far.status).toBe(400);
    expect((await json<Issues>(far)).issues?.map((i) => i.path).sort()).toEqual(['segment.addedAfter', 'window']);
    expect((await post('/campaigns', { ...valid('century'), segment: { addedAfter: '36500d' }, window: '36500d' })).status).toBe(200);
    expect((await api('/campaigns', { method: 'POST', body: '{nope' })).status).toBe(400);
    expect((await post('/campaigns', valid('dup'))).status).toBe(200);
    expect((await post('/campaigns', valid('dup'))).status).toBe(409);
    // A key a template file uses (test/fixtures/templates/campaigns/expo-draft.yaml).
    expect((await post('/campaigns', valid('expo-draft'))).status).toBe(409);
    // A draft can be dry-run but not launched.
    expect((await post('/campaigns/expo-draft/dry-run')).status).toBe(200);
    expect((await post('/campaigns/expo-draft/launch')).status).toBe(409);
    expect((await post('/campaigns/dup/pause', { actor: '' })).status).toBe(400);
    // A blank actor names nobody: refused too, not recorded as "   ".
    const blank = await post('/campaigns/dup/pause', { actor: '   ' });
    expect(blank.status).toBe(400);
    expect(JSON.stringify(await json<Issues>(blank))).toContain('must name who did it');
    // A broken or oversized body is refused before anything is done: the campaign is not cancelled.
    const broken = await api('/campaigns/dup/cancel', { method: 'POST', body: '{"actor": "zhangsan"' });
    expect(broken.status).toBe(400);
    expect((await json<Issues>(broken)).error).toBe('body is not valid JSON');
    // A body in an encoding the API does not read is a 415 that says so, not "not valid JSON".
    const compressed = await api('/campaigns/dup/cancel', { method: 'POST', body: '{"actor": "zhangsan"}', headers: { 'content-encoding': 'compress' } });
    expect(compressed.status).toBe(415);
    expect((await json<Issues>(compressed)).error).toMatch(/^body not readable: .*; send UTF-8 JSON$/);
    const huge = await api('/campaigns/dup/cancel', { method: 'POST', body: JSON.stringify({ actor: 'zhangsan', pad: 'x'.repeat(70_000) }) });
    expect(huge.status).toBe(413);
    expect((await json<{ status: string }>(await api('/campaigns/dup'))).status).not.toBe('cancelled');
  });
});

describe('campaigns API: a one-off campaign whose run has ended', () => {
  it('is not paused (409, saying why): it sends nothing more', async () => {
    expect((await post('/campaigns', { ...valid('oneoff'), schedule: { at: '2099-01-01T10:00:00+08:00' } })).status).toBe(200);
    await CampaignRun.collection.insertOne({ _id: 'oneoff|at' as never, campaignKey: 'oneoff', trigger: 'launch', status: 'finished', startedAt: new Date(), finishedAt: new Date(), counters: {} });
    const refused = await post('/campaigns/oneoff/pause', { actor: 'lisi' });
    expect(refused.status).toBe(409);
    expect((await json<Issues>(refused)).error).toContain('nothing to pause');
    expect((await json<{ paused: boolean }>(await api('/campaigns/oneoff'))).paused).toBe(false);
  });
});

describe('campaigns API: create, dry run, launch, results, pause, resume, cancel', () => {
  it('goes through a campaign\'s life', async () => {
    const leads = await seedLeads(t.sandbox, [{ name: '接口甲' }, { name: '接口乙' }, { name: '接口丙', owner: 'lisi' }, { name: '接口丁', stage: 'customer' }].map((x) => ({ ...x, tags: ['测试/api'] })));
    const created = await json<{ key: string; source: string; status: string; nextRunAt: string }>(await post('/campaigns', valid('life')));
    expect(created).toMatchObject({ key: 'life', source: 'api', status: 'active' });
    expect(Date.parse(created.nextRunAt)).toBeGreaterThan(Date.now());
    expect(await t.bot.ctx.queues.get('campaign-tick').getJobScheduler('campaign|life')).toMatchObject({ pattern: '0 10 * * 1' });
    const list = await json<Array<{ key: string; source: string; draft: boolean }>>(await api('/campaigns'));
    expect(list.map((c) => c.key)).toEqual(expect.arrayContaining(['life', 'dup', 'expo-draft']));
    expect(list.find((c) => c.key === 'expo-draft')).toMatchObject({ source: 'file', draft: true });

    const dry = await json<{ targeted: number; byRoute: Record<string, number>; excluded: Record<string, number>; owners: unknown[]; sample: Array<{ name: string }> }>(await post('/campaigns/life/dry-run'));
    expect(dry).toMatchObject({ targeted: 3, byRoute: { mass: 3 }, excluded: { customer: 1 } });
    expect(dry.owners).toEqual([{ owner: 'lisi', tasks: 1, customers: 1, reminders: 0 }, { owner: 'zhangsan', tasks: 1, customers: 2, reminders: 0 }]);
    expect(dry.sample.map((s) => s.name).sort()).toEqual(['接口丙', '接口乙', '接口甲']);

    const launched = await json<{ run: { id: string }; created: boolean }>(await post('/campaigns/life/launch', { actor: 'lisi' }));
    expect(launched.created).toBe(true);
    expect((await json<{ created: boolean }>(await post('/campaigns/life/launch'))).created).toBe(false);
    type Detail = { definition: { key: string }; runs: Array<{ id: string; status: string; results: Record<string, unknown> }> };
    const detail = await waitFor(async () => {
      const d = await json<Detail>(await api('/campaigns/life'));
      return d.runs[0]?.status === 'finished' ? d : null;
    }, 'run finished');
    expect(detail.definition.key).toBe('life');
    expect(detail.runs[0]).toMatchObject({ id: launched.run.id, results: { targeted: 3, waitingForOwner: 3, byRoute: { mass: 3 }, excluded: { customer: 1 } } });
    const calls = t.sandbox.state.okCallsTo('externalcontact/add_msg_template').filter((c) => (c.body as { text?: { content: string } }).text?.content === '您好，这是接口创建的群发。');
    expect(calls.flatMap((c) => (c.body as { external_userid: string[] }).external_userid).sort()).toEqual(leads.slice(0, 3).map((l) => l.externalUserId).sort());

    expect(await json(await post('/campaigns/life/pause', { actor: 'lisi', reason: '文案要改' }))).toEqual({ key: 'life', paused: true, changed: true });
    expect((await json<Array<{ key: string; paused: boolean; nextRunAt: string | null }>>(await api('/campaigns'))).find((c) => c.key === 'life')).toMatchObject({ paused: true, nextRunAt: null });
    expect((await post('/campaigns/life/launch')).status).toBe(409);
    expect(await json(await post('/campaigns/life/resume'))).toMatchObject({ key: 'life', paused: false, changed: true });
    expect(await json(await post('/campaigns/life/cancel', { actor: 'lisi' }))).toMatchObject({ key: 'life', status: 'cancelled', changed: true });
    expect(await t.bot.ctx.queues.get('campaign-tick').getJobScheduler('campaign|life')).toBeFalsy();
    expect((await post('/campaigns/life/launch')).status).toBe(409);
    expect((await post('/campaigns/life/resume')).status).toBe(409);
  });

  it('a cancel repeated after one that stopped part-way does the rest: the pause and the schedule', async () => {
    expect((await post('/campaigns', { ...valid('halfway'), segment: { tags: { all: ['测试/halfway'] } } })).status).toBe(200);
    expect(await t.bot.ctx.queues.get('campaign-tick').getJobScheduler('campaign|halfway')).toBeTruthy();
    // A cancel whose process died right after writing the status: no pause, the schedule still there.
    await CampaignRecord.updateOne({ _id: 'halfway' }, { $set: { status: 'cancelled', cancelledAt: new Date(), cancelledBy: 'lisi' } });
    expect(await Pause.findById('campaign:halfway').lean()).toBeNull();
    expect(await json(await post('/campaigns/halfway/cancel', { actor: 'lisi' }))).toMatchObject({ key: 'halfway', status: 'cancelled', changed: false });
    expect(await Pause.findById('campaign:halfway').lean()).toMatchObject({ reason: 'cancelled' });
    expect(await t.bot.ctx.queues.get('campaign-tick').getJobScheduler('campaign|halfway')).toBeFalsy();
  });
});

describe('campaigns API: who created a campaign', () => {
  it('POST /campaigns takes an actor as the other routes do: kept as createdBy, not in the definition; blank refused; absent is "admin"', async () => {
    expect((await post('/campaigns', { ...valid('byactor'), actor: 'lisi' })).status).toBe(200);
    const detail = await json<{ createdBy: string | null; definition: Record<string, unknown> }>(await api('/campaigns/byactor'));
    expect(detail.createdBy).toBe('lisi');
    expect(detail.definition).not.toHaveProperty('actor');
    expect((await CampaignRecord.findById('byactor').lean())?.createdBy).toBe('lisi');
    // A blank actor names nobody: refused, and nothing is created.
    const blank = await post('/campaigns', { ...valid('blankactor'), actor: '   ' });
    expect(blank.status).toBe(400);
    expect((await json<Issues>(blank)).issues).toEqual([expect.objectContaining({ in: 'body', path: 'actor', message: expect.stringContaining('must name who did it') })]);
    expect((await api('/campaigns/blankactor')).status).toBe(404);
    // A client that sends none, as before.
    expect((await post('/campaigns', valid('noactor'))).status).toBe(200);
    expect((await json<{ createdBy: string }>(await api('/campaigns/noactor'))).createdBy).toBe('admin');
  });

  it('the OpenAPI document lists the actor of every campaign route that changes one', async () => {
    type Op = { requestBody?: { content?: Record<string, { schema?: { properties?: Record<string, unknown> } }> } };
    const doc = await json<{ paths: Record<string, Record<string, Op>> }>(await api('/openapi.json'));
    const bodyFields = (p: string) => Object.keys(doc.paths[p]?.post?.requestBody?.content?.['application/json']?.schema?.properties ?? {});
    for (const p of ['/admin/api/campaigns', '/admin/api/campaigns/{key}/launch', '/admin/api/campaigns/{key}/pause', '/admin/api/campaigns/{key}/resume', '/admin/api/campaigns/{key}/cancel']) {
      expect(bodyFields(p), p).toContain('actor');
    }
    expect(bodyFields('/admin/api/campaigns')).toEqual(expect.arrayContaining(['key', 'name', 'content', 'schedule', 'actor']));
  });
});
