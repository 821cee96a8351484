import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/dev/demo-data.js';
import { Lead } from '../../src/store/models/lead.js';
import { sessionValue } from '../../src/http/admin/session.js';
import { startTestBot, type TestBot } from '../helpers/test-bot.js';

const TOKEN = 'dashboard-token-for-tests-0123';
let t: TestBot;
beforeAll(async () => {
  t = await startTestBot('dashboard', { env: { ADMIN_TOKEN: TOKEN } });
  await seedDemo(t.bot.ctx, { members: ['zhangsan', 'lisi'], leads: 120, seed: 7 });
});
afterAll(async () => t?.stop());

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${t.url}${path}`, { headers, redirect: 'manual' });
const bearer = { authorization: `Bearer ${TOKEN}` };
const api = async <T>(path: string) => (await (await get(`/admin/api${path}`, bearer)).json()) as T;

describe('dashboard: pages and sign-in', () => {
  it('serves the page and its scripts from the bot itself, with a strict content policy, and nothing outside its folder', async () => {
    const page = await get('/admin');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await page.text();
    // Every file it loads is the bot's own (the icon is an empty data: URL, so the browser asks for none).
    for (const src of html.matchAll(/(?:src|href)="([^"]+)"/g)) {
      if (src[1]!.startsWith('data:') || src[1]!.startsWith('#')) continue;
      expect(src[1]).toMatch(/^\/admin\//);
      expect((await get(src[1]!)).status, src[1]).toBe(200);
    }
    // The ops team's time zone, for the dashboard's days.
    expect(html).toContain(`<meta name="ops-timezone" content="${t.config.OPS_TIMEZONE}">`);
    const chart = await get('/admin/assets/chart.umd.min.js');
    expect(chart.status).toBe(200);
    expect((await chart.text()).length).toBeGreaterThan(100_000);
    for (const path of ['/admin/assets/..%2F..%2F..%2Fconfig.ts', '/admin/assets/..%2Fsession.ts', '/admin/assets/nope.js', '/admin/assets/.env']) {
      expect((await get(path)).status, path).toBe(404);
    }
  });

  it('signs in with the token (a cookie that is not the token), and out', async () => {
    expect((await fetch(`${t.url}/admin/session`, { method: 'POST' })).status).toBe(401);
    expect((await fetch(`${t.url}/admin/session`, { method: 'POST', headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status).toBe(401);
    const ok = await fetch(`${t.url}/admin/session`, { method: 'POST', headers: bearer });
    expect(ok.status).toBe(204);
    const cookie = ok.headers.get('set-cookie')!;
    expect(cookie).toMatch(/admin_session=[\w-]+/);
    expect(cookie).toContain('httponly');
    expect(cookie).not.toContain(TOKEN);
    const out = await fetch(`${t.url}/admin/session`, { method: 'DELETE' });
    expect(out.headers.get('set-cookie')).toMatch(/admin_session=;/);
  });

  it('keeps Bull Board behind the same token: the bearer header or the session cookie', async () => {
    expect((await get('/admin/queues/api/queues', { accept: 'application/json' })).status).toBe(401);
    const page = await get('/admin/queues', { accept: 'text/html' });
    expect(page.status).toBe(302);
    expect(page.headers.get('location')).toBe('/admin#/queues');
    expect((await get('/admin/queues/api/queues', { accept: 'application/json', cookie: 'admin_session=forged' })).status).toBe(401);
    const cookie = (await fetch(`${t.url}/admin/session`, { method: 'POST', headers: bearer })).headers.get('set-cookie')!.split(';')[0]!;
    const queues = await get('/admin/queues/api/queues', { accept: 'application/json', cookie });
    expect(queues.status).toBe(200);
    const names = ((await queues.json()) as { queues: Array<{ name: string }> }).queues.map((q) => q.name);
    expect(names).toEqual(expect.arrayContaining(['events', 'welcome', 'nurture', 'records']));
    const board = await get('/admin/queues', { ...bearer, accept: 'text/html' });
    expect(board.status).toBe(200);
    // In the dashboard's language (Chinese first; Bull Board has its own switch).
    const config = JSON.parse(/<script id="__UI_CONFIG__" type="application\/json">([^<]*)<\/script>/.exec(await board.clone().text())?.[1] ?? '{}') as { boardTitle?: string; locale?: { lng?: string } };
    expect(config).toMatchObject({ boardTitle: '企业微信运营助手 · 队列', locale: { lng: 'zh-CN' } });
    // Its pages load nothing from another origin (its HTML links a web font on fonts.googleapis.com).
    const csp = board.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    for (const directive of csp.split(';')) expect(directive, csp).not.toMatch(/https?:|\*|googleapis/);
    // A session ends: a cookie past its end, or one whose end was moved, opens nothing.
    expect((await fetch(`${t.url}/admin/session`, { method: 'POST', headers: bearer })).headers.get('set-cookie')).toMatch(/max-age=43200|expires=/i);
    const ended = `admin_session=${sessionValue(TOKEN, Date.now() - 1000)}`;
    expect((await get('/admin/queues/api/queues', { accept: 'application/json', cookie: ended })).status).toBe(401);
    const [end, sig] = cookie.slice('admin_session='.length).split('.');
    const moved = `admin_session=${Number(end) + 86_400}.${sig}`;
    expect((await get('/admin/queues/api/queues', { accept: 'application/json', cookie: moved })).status).toBe(401);
  });
});

describe('dashboard: the numbers on a known data set', () => {
  it('the funnel, grades and leads agree with the leads in the database', async () => {
    const leads = await Lead.find({}).lean();
    expect(leads).toHaveLength(120);
    const f = await api<{ total: { added: number; customer: number; lost: number; grades: Record<string, number> }; channels: Array<{ channel: string; added: number }> }>('/funnel?from=2000-01-01&to=2999-12-31');
    expect(f.total.added).toBe(120);
    expect(f.total.customer).toBe(leads.filter((l) => l.reached?.customer).length);
    expect(f.total.lost).toBe(leads.filter((l) => l.stage === 'lost').length);
    for (const c of f.channels) expect(c.added, c.channel).toBe(leads.filter((l) => l.firstTouch?.channelKey === c.channel).length);
    const grades = await api<{ overall: Record<string, number>; waiting: Array<{ grade: string }> }>('/grades');
    for (const g of ['S', 'A', 'B', 'C']) expect(grades.overall[g], g).toBe(leads.filter((l) => l.grade === g).length);
    expect(grades.waiting.every((w) => ['S', 'A'].includes(w.grade))).toBe(true);
    const customers = await api<{ items: Array<{ stage: string }> }>('/leads?stage=customer&limit=200');
    expect(customers.items.length).toBe(leads.filter((l) => l.stage === 'customer').length);
    const seqs = await api<Array<{ key: string; steps: Array<{ sent: number }> }>>('/sequences');
    const sent = seqs.flatMap((s) => s.steps).reduce((n, s) => n + s.sent, 0);
    expect(sent).toBeGreaterThan(0);
  });
});
