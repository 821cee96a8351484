import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/dev/demo-data.js';
import { reasonName, roleName, shortTime, stopReasonName } from '../../src/domain/commands/words.js';
import { Enrollment } from '../../src/store/models/enrollment.js';
import { Lead, leadId } from '../../src/store/models/lead.js';
import { recordSteps, timelineOf } from '../../src/store/timeline.js';
import { TIMELINE_TYPES } from '../../src/store/timeline-types.js';
import { templateDir } from '../helpers/template-dir.js';
import { startTestBot, TEMPLATES_DIR, type TestBot } from '../helpers/test-bot.js';

/** Screenshots of the main views, for a person to look at (test/artifacts/ is not committed). */
const ARTIFACTS = path.resolve('test/artifacts');
const TOKEN = 'browser-token-for-tests-012345';
/** An ops time zone whose date is not UTC's right now (UTC+14 in the afternoon, UTC-12 in the morning). */
const OPS_TZ = new Date().getUTCHours() >= 12 ? 'Pacific/Kiritimati' : 'Etc/GMT+12';
/** What expo2026 cost (its spend so far, channels.yaml `cost`): the funnel shows its cost per lead. */
const EXPO_COST = 4321;
let t: TestBot;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  // The test templates, with a cost declared for expo2026 (the channel the demo gives most leads).
  const channelsYaml = readFileSync(path.join(TEMPLATES_DIR, 'channels.yaml'), 'utf8').replace('  - key: notext\n', `    cost: ${EXPO_COST}\n  - key: notext\n`);
  expect(channelsYaml).toContain(`cost: ${EXPO_COST}`);
  // And a service sequence for customers (kind: service).
  const care = 'key: care\nname: 客户关怀\nkind: service\nsteps:\n  - delay: 1d\n    text: "感谢签约！"\n';
  const templates = templateDir({ 'channels.yaml': `serviceSequence: care\n${channelsYaml}`, 'sequences/care.yaml': care }, { from: TEMPLATES_DIR });
  t = await startTestBot('dashboard-browser', { env: { ADMIN_TOKEN: TOKEN, OPS_TIMEZONE: OPS_TZ, TEMPLATES_DIR: templates } });
  await seedDemo(t.bot.ctx, { members: ['zhangsan', 'lisi'], leads: 150, seed: 11, kf: { openKfid: 'wkBROWSER', servicers: ['zhangsan', 'lisi'] } });
  mkdirSync(ARTIFACTS, { recursive: true });
  // Debian's chromium, never a downloaded browser (.ci/run installs it).
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--no-first-run'],
  });
  // The browser is in UTC, the ops team is not: every time shown must be in OPS_TIMEZONE all the same.
  page = await browser.newPage({ viewport: { width: 1280, height: 900 }, timezoneId: 'UTC' });
  page.on('pageerror', (err) => errors.push(err.message));
  // A failed load (a missing favicon, a 404 asset) is a console error too; the 401 of the wrong token is meant.
  page.on('console', (m) => void (m.type() === 'error' && !m.text().includes('(Unauthorized)') && errors.push(m.text())));
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await t?.stop();
});

const errors: string[] = [];
const api = async <T>(p: string) => (await (await fetch(`${t.url}/admin/api${p}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as T;
/** A time as the dashboard shows it in Chinese: short, in OPS_TIMEZONE (formatted by the browser, named zone). */
/** A time as the dashboard shows it in either language (as the chat writes it): MM-DD HH:mm in OPS_TIMEZONE. */
const opsTime = async (at: string | Date) => shortTime(at, OPS_TZ);
const shot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS, `dashboard-${name}.png`), fullPage: true });

describe('dashboard in a browser', () => {
  it('refuses a wrong token, then signs in and shows the funnel with the numbers the API gives', async () => {
    await page.goto(`${t.url}/admin`);
    await page.fill('input[name=token]', 'not-the-token-at-all');
    await page.click('button[type=submit]');
    await expect.poll(() => page.textContent('[role=alert]')).toContain('令牌不对');
    await shot('login');
    await page.fill('input[name=token]', TOKEN);
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-testid=funnel-table] tbody tr');
    const from = await page.inputValue('input[name=from]');
    const to = await page.inputValue('input[name=to]');
    // The default period is the API's: the last 30 days of OPS_TIMEZONE, not of UTC.
    const byDefault = await api<{ from: string; to: string }>('/funnel');
    expect([from, to]).toEqual([byDefault.from, byDefault.to]);
    expect(to).not.toBe(new Date().toISOString().slice(0, 10));
    const f = await api<{ total: { added: number; qualified: number; customer: number; lost: number }; channels: Array<{ channel: string; added: number }> }>(`/funnel?from=${from}&to=${to}`);
    expect(f.total.added).toBeGreaterThan(0);
    for (const k of ['added', 'qualified', 'customer', 'lost'] as const) {
      expect(await page.textContent(`[data-kpi=${k}] b`), k).toBe(f.total[k].toLocaleString('zh-CN'));
    }
    const rows = await page.$$eval('[data-testid=funnel-table] tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    expect(rows.map((r) => Number(r[1]!.replace(/,/g, '')))).toEqual(f.channels.map((c) => c.added));
    // The median first response per channel comes from the service API (demo customers wrote in on some channels),
    // counted within service hours, as its column says.
    expect(rows.some((r) => r[6] !== '—')).toBe(true);
    expect(await page.$$eval('[data-testid=funnel-table] thead th', (ths) => ths[6]?.textContent)).toBe('首次响应（服务时间内，中位）');
    expect(await page.$('canvas')).not.toBeNull();
    await page.waitForTimeout(300); // the chart's first frame
    await shot('funnel');
  });

  it('shows the funnel of a period longer than the service page takes (more than 366 days), without response times', async () => {
    const to = await page.inputValue('input[name=to]');
    const from = new Date(Date.parse(to) - 400 * 86_400_000).toISOString().slice(0, 10);
    await page.goto(`${t.url}/admin#/funnel?from=${from}&to=${to}`);
    // The period's page, or the error it failed with.
    await page.waitForFunction((day) => document.querySelector('#view h1')?.textContent?.includes(day) || document.querySelector('#view [role=alert]'), from);
    expect(await page.$eval('#view', (v) => v.querySelector('[role=alert]')?.textContent ?? null)).toBeNull();
    const f = await api<{ total: { added: number }; channels: Array<{ added: number }> }>(`/funnel?from=${from}&to=${to}`);
    expect(await page.textContent('[data-kpi=added] b')).toBe(f.total.added.toLocaleString('zh-CN'));
    const rows = await page.$$eval('[data-testid=funnel-table] tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    expect(rows.map((r) => Number(r[1]!.replace(/,/g, '')))).toEqual(f.channels.map((c) => c.added));
    expect(rows.map((r) => r[6])).toEqual(f.channels.map(() => '—'));
  });

  it('shows a channel\'s cost per lead as its cost over every lead it brought, whatever the period shown', async () => {
    // A period shorter than the demo's two weeks: fewer of expo2026's leads were added in it than it brought in all.
    const to = (await api<{ to: string }>('/funnel')).to;
    const from = new Date(Date.parse(to) - 6 * 86_400_000).toISOString().slice(0, 10);
    await page.goto(`${t.url}/admin#/funnel?from=${from}&to=${to}`);
    await page.waitForFunction((day) => document.querySelector('#view h1')?.textContent?.includes(day), from);
    await page.waitForSelector('[data-testid=funnel-table] tbody tr');
    const channels = await api<Array<{ key: string; name: string; cost: number | null; counts: { added: number } }>>('/channels');
    const expo = channels.find((c) => c.key === 'expo2026')!;
    expect(expo.cost).toBe(EXPO_COST);
    const f = await api<{ channels: Array<{ channel: string; added: number }> }>(`/funnel?from=${from}&to=${to}`);
    const inPeriod = f.channels.find((c) => c.channel === 'expo2026')?.added ?? 0;
    expect(inPeriod).toBeGreaterThan(0);
    expect(inPeriod).toBeLessThan(expo.counts.added);
    const headers = await page.$$eval('[data-testid=funnel-table] thead th', (ths) => ths.map((th) => th.textContent));
    const rows = await page.$$eval('[data-testid=funnel-table] tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    const row = rows.find((r) => r[0] === expo.name)!;
    const money = (x: number) => page.evaluate((v) => v.toLocaleString(undefined, { maximumFractionDigits: 2 }), x);
    expect(row[headers.indexOf('花费')]).toBe(await money(EXPO_COST));
    expect(row[headers.indexOf('单线索成本')]).toBe(await money(EXPO_COST / expo.counts.added));
    // A channel that declares no cost has none.
    const other = rows.find((r) => r[0] === channels.find((c) => c.key === 'nurture')!.name);
    if (other) expect(other[headers.indexOf('单线索成本')]).toBe('—');
  });

  it('keeps a reversed period in the picker with a message in the page\'s language, not an error page without the picker', async () => {
    await page.goto(`${t.url}/admin#/funnel`);
    await page.waitForSelector('[data-testid=funnel-table] tbody tr');
    const hash = await page.evaluate(() => location.hash);
    const asked: string[] = [];
    const onRequest = (r: { url(): string }) => void (r.url().includes('/admin/api/funnel') && asked.push(r.url()));
    page.on('request', onRequest);
    await page.fill('input[name=from]', '2026-03-10');
    await page.fill('input[name=to]', '2026-03-01');
    await page.click('#view form button[type=submit]');
    await page.waitForTimeout(500);
    page.off('request', onRequest);
    expect(asked).toEqual([]);
    expect(await page.evaluate(() => location.hash)).toBe(hash);
    expect(await page.$eval('input[name=to]', (i) => (i as HTMLInputElement).validationMessage)).toBe('开始日期不能晚于结束日期。');
    expect(await page.$('[data-testid=funnel-table]')).not.toBeNull();
    // Put right, the period is shown.
    await page.fill('input[name=to]', '2026-03-20');
    await page.click('#view form button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#view h1')?.textContent?.includes('2026-03-10 – 2026-03-20'));
  });

  it('filters leads like a segment and opens a lead with its timeline', async () => {
    await page.goto(`${t.url}/admin#/leads`);
    await page.waitForSelector('[data-testid=leads-table] tbody tr');
    await page.selectOption('select[name=stage]', 'customer');
    await page.click('form button[type=submit]');
    await page.waitForFunction(() => location.hash.includes('stage=customer'));
    await page.waitForSelector('[data-testid=leads-table] tbody tr');
    const expected = await api<{ items: Array<{ id: string; name: string; lastTouchAt: string | null }> }>('/leads?stage=customer&limit=50');
    const names = await page.$$eval('[data-testid=leads-table] tbody tr td:first-child', (tds) => tds.map((td) => td.textContent));
    expect(names).toEqual(expected.items.map((l) => l.name));
    // Last touch in OPS_TIMEZONE, not in the browser's UTC.
    expect(await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone)).toBe('UTC');
    const touches = await page.$$eval('[data-testid=leads-table] tbody tr td:nth-child(8)', (tds) => tds.map((td) => td.textContent));
    expect(touches).toEqual(await Promise.all(expected.items.map((l) => (l.lastTouchAt ? opsTime(l.lastTouchAt) : '—'))));
    const stages = await page.$$eval('[data-testid=leads-table] tbody tr td:nth-child(4)', (tds) => [...new Set(tds.map((td) => td.textContent))]);
    expect(stages).toEqual(['成交']);
    await shot('leads');

    // A next page that fails (the network, the bot restarting) is said beside "more", which can be pressed again.
    await page.goto(`${t.url}/admin#/leads`);
    await page.waitForSelector('[data-testid=leads-table] tbody tr');
    const shown = await page.$$eval('[data-testid=leads-table] tbody tr', (trs) => trs.length);
    await page.route('**/admin/api/leads?*cursor=*', (route) => route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ error: 'service unavailable' }) }));
    await page.click('button.ghost:has-text("加载更多")');
    await expect.poll(() => page.textContent('[data-testid=more-error]')).toContain('加载失败');
    // The browser logs the refused load as a console error: meant here, not one of the page's.
    await expect.poll(() => errors.some((e) => e.includes('503'))).toBe(true);
    errors.splice(0, errors.length, ...errors.filter((e) => !e.includes('503')));
    expect(await page.isEnabled('button.ghost:has-text("加载更多")')).toBe(true);
    await page.unroute('**/admin/api/leads?*cursor=*');
    await page.click('button.ghost:has-text("加载更多")');
    await expect.poll(() => page.$$eval('[data-testid=leads-table] tbody tr', (trs) => trs.length)).toBeGreaterThan(shown);
    expect(await page.textContent('[data-testid=more-error]')).toBe('');

    await page.goto(`${t.url}/admin#/leads?stage=engaged`);
    await page.waitForSelector('[data-testid=leads-table] tbody tr a');
    await page.click('[data-testid=leads-table] tbody tr a');
    await page.waitForSelector('[data-testid=timeline] li');
    const id = decodeURIComponent(await page.evaluate(() => location.hash.replace('#/leads/', '')));
    const [corpId, externalUserId] = id.split(':') as [string, string];
    const entries = await timelineOf(corpId, externalUserId);
    expect(await page.$$eval('[data-testid=timeline] li', (lis) => lis.length)).toBe(entries.length);
    const times = await page.$$eval('[data-testid=timeline] li time', (els) => els.map((el) => el.textContent));
    expect(times).toEqual(await Promise.all([...entries].reverse().map((e) => opsTime(e.at))));
    expect(await page.textContent('[data-testid=timeline]')).toContain('添加为好友');
    await shot('lead');
  });

  it('moves a lead to another stage with a reason, on the lead and its timeline', async () => {
    const lead = (await api<{ items: Array<{ id: string; externalUserId: string }> }>('/leads?stage=engaged&limit=1')).items[0]!;
    await page.goto(`${t.url}/admin#/leads/${encodeURIComponent(lead.id)}`);
    await page.waitForSelector('[data-testid=stage-form]');
    await page.fill('input[name=actor]', 'lisi');
    await page.selectOption('[data-testid=stage-form] select[name=stage]', 'opportunity');
    // No reason: the browser asks for one before anything is sent.
    await page.click('[data-testid=stage-form] button[type=submit]');
    expect((await api<{ stage: string }>(`/leads/${encodeURIComponent(lead.id)}`)).stage).toBe('engaged');
    await page.fill('[data-testid=stage-form] input[name=reason]', '客户约了演示');
    await page.click('[data-testid=stage-form] button[type=submit]');
    await expect.poll(() => page.textContent('[data-testid=lead-stage]')).toBe('商机');
    const detail = await api<{ stage: string; timeline: Array<{ type: string; detail: Record<string, unknown> }> }>(`/leads/${encodeURIComponent(lead.id)}`);
    expect(detail.stage).toBe('opportunity');
    expect(detail.timeline.filter((e) => e.type === 'stage_changed').at(-1)?.detail).toMatchObject({ to: 'opportunity', by: 'staff', actor: 'lisi', reason: '客户约了演示' });
    expect(await page.textContent('[data-testid=timeline] li:first-child')).toContain('客户约了演示');
  });

  it('names every kind of timeline entry the bot records in the page\'s language, not by its type key', async () => {
    const lead = (await api<{ items: Array<{ id: string; externalUserId: string }> }>('/leads?limit=1')).items[0]!;
    const ref = { corpId: t.bot.ctx.corpId, externalUserId: lead.externalUserId };
    // Every type the bot can record (src/store/timeline-types.ts), on one lead.
    const types = [...TIMELINE_TYPES];
    await recordSteps(types.map((type, i) => ({ lead: ref, sourceKey: `review|${i}`, type, detail: {}, at: new Date(Date.now() - 60_000 + i) })));
    const recorded = (await api<{ timeline: Array<{ type: string }> }>(`/leads/${encodeURIComponent(lead.id)}`)).timeline.map((e) => e.type);
    expect(recorded).toEqual(expect.arrayContaining(types));
    for (const [language, label] of [['zh', '添加为好友'], ['en', 'Added us']] as const) {
      await page.evaluate((l) => localStorage.setItem('dashboard.lang', l), language);
      await page.goto(`${t.url}/admin#/leads/${encodeURIComponent(lead.id)}?${language}`);
      await page.waitForSelector('[data-testid=timeline] li');
      expect(await page.textContent('[data-testid=timeline]')).toContain(label);
      const raw = await page.$$eval('[data-testid=timeline] li', (lis) => lis.map((li) => [li.getAttribute('data-type'), li.querySelector('.what')?.textContent ?? '']).filter(([, what]) => /[a-z]+_[a-z]/.test(what!)));
      expect(raw, language).toEqual([]);
    }
    await page.evaluate(() => localStorage.setItem('dashboard.lang', 'zh'));
  });

  it('says in Chinese why a lead has its score, its role and why its nurture stopped, as the chat\'s 线索 does', async () => {
    type Detail = { id: string; role: string | null; scoreReasons: Array<{ reason: string }>; enrollments: Array<{ stopReason: string | null }> };
    const stopped = (await Enrollment.find({ stopReason: { $type: 'string' } }, { externalUserId: 1, stopReason: 1 }).lean()).filter((e) => e.stopReason === 'reply' || e.stopReason!.startsWith('stage:'));
    let lead: Detail | null = null;
    for (const e of stopped) {
      const d = await api<Detail>(`/leads/${encodeURIComponent(leadId(t.bot.ctx.corpId, e.externalUserId))}`);
      if (d.role && d.scoreReasons.some((r) => r.reason.startsWith('stage ')) && d.scoreReasons.some((r) => r.reason === 'company')) {
        lead = d;
        break;
      }
    }
    expect(lead).not.toBeNull();
    await page.goto(`${t.url}/admin#/leads/${encodeURIComponent(lead!.id)}`);
    await page.waitForSelector('[data-testid=score-reasons] tbody tr');
    const reasons = await page.$$eval('[data-testid=score-reasons] tbody tr td:first-child', (tds) => tds.map((td) => td.textContent));
    expect(reasons).toHaveLength(lead!.scoreReasons.length);
    // The chat's names (src/domain/commands/words.ts), which the API gives with each reason.
    expect(reasons).toEqual(lead!.scoreReasons.map((r) => reasonName(r.reason, 'zh')));
    expect(reasons).toContain('公司');
    expect(await page.textContent('[data-testid=lead-role]')).toBe(roleName(lead!.role!, 'zh'));
    // Its channel by name, as the leads list shows it, with the key.
    const channel = t.bot.ctx.channels.get((await Lead.findById(lead!.id, { firstTouch: 1 }).lean())!.firstTouch!.channelKey!)!;
    expect(await page.textContent('[data-testid=lead-channel]')).toBe(`${channel.name} (${channel.key})`);
    const ended = await page.$$eval('[data-testid=enrollments] tbody tr td:last-child', (tds) => tds.map((td) => td.textContent));
    expect(ended).toEqual(lead!.enrollments.map((e) => (e.stopReason ? stopReasonName(e.stopReason, 'zh') : '')));
    const zhTimes = await page.$$eval('[data-testid=timeline] li time', (els) => els.map((el) => el.textContent));
    // In English they stay as the API gives them; times read the same (MM-DD HH:mm), not day first.
    await page.click('#lang');
    await expect.poll(() => page.textContent('#nav')).toContain('Funnel');
    await page.waitForSelector('[data-testid=timeline] li time');
    expect(await page.$$eval('[data-testid=timeline] li time', (els) => els.map((el) => el.textContent))).toEqual(zhTimes);
    expect(zhTimes[0]).toMatch(/^\d\d-\d\d \d\d:\d\d$/);
    await page.waitForSelector('[data-testid=score-reasons] tbody tr');
    expect(await page.$$eval('[data-testid=score-reasons] tbody tr td:first-child', (tds) => tds.map((td) => td.textContent))).toEqual(lead!.scoreReasons.map((r) => r.reason));
    expect(await page.$$eval('[data-testid=enrollments] tbody tr td:last-child', (tds) => tds.map((td) => td.textContent))).toEqual(lead!.enrollments.map((e) => (e.stopReason ? stopReasonName(e.stopReason, 'en') : '')));
    await page.click('#lang');
    await expect.poll(() => page.textContent('#nav')).toContain('渠道漏斗');
  });

  it('shows the customers waiting now and response times per servicer, as the API gives them', async () => {
    await page.goto(`${t.url}/admin#/service`);
    await page.waitForSelector('[data-testid=service-waiting] tbody tr a');
    const waiting = await api<{ total: number; items: Array<{ name: string; since: string }> }>('/service/waiting');
    expect(waiting.total).toBe(6);
    expect(await page.textContent('[data-kpi=waiting] b')).toBe(String(waiting.total));
    expect(await page.$$eval('[data-testid=service-waiting] tbody tr td:first-child', (tds) => tds.map((td) => td.textContent))).toEqual(waiting.items.map((w) => w.name));
    expect(await page.$$eval('[data-testid=service-waiting] tbody tr td:nth-child(3)', (tds) => tds.map((td) => td.textContent))).toEqual(await Promise.all(waiting.items.map((w) => opsTime(w.since))));
    const stats = await api<{ servicers: Array<{ name: string; count: number }>; breaches: unknown[] }>(`/service?from=${await page.inputValue('input[name=from]')}&to=${await page.inputValue('input[name=to]')}`);
    const servicerRows = await page.$$eval('[data-testid=service-servicers] tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].slice(0, 2).map((td) => td.textContent)));
    expect(servicerRows).toEqual(stats.servicers.map((x) => [x.name, String(x.count)]));
    expect(await page.$$eval('[data-testid=service-breaches] tbody tr', (trs) => trs.length)).toBe(Math.max(1, stats.breaches.length));
    // Response times count service hours only: the figures and the columns say so, and a note says what that means.
    expect(await page.textContent('[data-kpi=median] span')).toBe('首次响应中位数（服务时间内）');
    expect(await page.$$eval('[data-testid=service-servicers] thead th', (ths) => ths.map((th) => th.textContent))).toEqual(expect.arrayContaining(['响应中位数（服务时间内）', '响应 P90（服务时间内）']));
    expect(await page.textContent('[data-testid=service-response-note]')).toContain('服务时间（SERVICE_HOURS）');
    await shot('service');
  });

  it('lists campaigns and shows a finished run with its results', async () => {
    await page.goto(`${t.url}/admin#/campaigns`);
    await page.waitForSelector('[data-testid=campaign-list] tbody tr a');
    await shot('campaigns');
    await page.click('[data-testid=campaign-list] tbody tr a');
    await page.waitForSelector('[data-testid=campaign-runs] tbody tr');
    const key = decodeURIComponent(await page.evaluate(() => location.hash.replace('#/campaigns/', '')));
    const detail = await api<{ runs: Array<{ scheduledFor: string; results: Record<string, number>; followUp: { final: boolean; asOf: string; finalAt?: string | null } | null }> }>(`/campaigns/${encodeURIComponent(key)}`);
    const headers = await page.$$eval('[data-testid=campaign-runs] thead th', (ths) => ths.map((th) => th.textContent));
    const cells = await page.$$eval('[data-testid=campaign-runs] tbody tr:first-child td', (tds) => tds.map((td) => td.textContent));
    const cell = (header: string) => cells[headers.indexOf(header)];
    expect(cell('目标人数')).toBe(detail.runs[0]!.results.targeted!.toLocaleString('zh-CN'));
    expect(cell('已确认')).toBe(detail.runs[0]!.results.confirmed!.toLocaleString('zh-CN'));
    expect(cell('状态')).toBe('已完成');
    expect(cell('执行时间')).toBe(await opsTime(detail.runs[0]!.scheduledFor));
    // Whether the follow-up's numbers are the last, or as of when and final when.
    const f = detail.runs[0]!.followUp;
    expect(cell('跟进统计')).toBe(!f ? '—' : f.final ? '最终' : `截至 ${await opsTime(f.asOf)}，最终统计 ${f.finalAt ? await opsTime(f.finalAt) : '—'}`);
    if (f && !f.final) expect(f.finalAt).toBeTruthy();
    await page.waitForTimeout(300);
    await shot('campaign');
  });

  it('shows a cancelled campaign as cancelled, not paused, in the list and on its page', async () => {
    const post = (p: string, body: unknown) => fetch(`${t.url}/admin/api${p}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const campaign = { key: 'called-off', name: '取消的群发', segment: { tags: { all: ['测试/无人'] } }, content: { text: '不会发出。' }, schedule: { cron: '0 10 * * 1', timezone: 'Asia/Shanghai' } };
    expect((await post('/campaigns', campaign)).status).toBe(200);
    expect((await post('/campaigns/called-off/cancel', { actor: 'lisi' })).status).toBe(200);
    // It keeps a pause so that its senders stop; the API says both.
    expect((await api<Array<{ key: string; status: string; paused: boolean }>>('/campaigns')).find((c) => c.key === 'called-off')).toMatchObject({ status: 'cancelled', paused: true });
    await page.goto(`${t.url}/admin#/campaigns`);
    await page.waitForSelector('[data-testid=campaign-list] tbody tr a');
    const headers = await page.$$eval('[data-testid=campaign-list] thead th', (ths) => ths.map((th) => th.textContent));
    const row = await page.$$eval('[data-testid=campaign-list] tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)).find((r) => r[0] === '取消的群发'));
    expect(row?.[headers.indexOf('状态')]).toBe('已取消');
    await page.goto(`${t.url}/admin#/campaigns/called-off`);
    await page.waitForSelector('[data-testid=campaign-state]');
    expect(await page.textContent('[data-testid=campaign-state]')).toBe('已取消');
    expect(await page.textContent('#view h1')).not.toContain('已暂停');
  });

  it('shows grades, sequences and queues, and speaks English on request', async () => {
    for (const view of ['grades', 'sequences', 'queues']) {
      await page.goto(`${t.url}/admin#/${view}`);
      await page.waitForSelector('main h1');
      await page.waitForTimeout(300);
      await shot(view);
    }
    // A service sequence says it is one.
    await page.goto(`${t.url}/admin#/sequences`);
    await page.waitForSelector('[data-testid=sequence-service]');
    expect(await page.$$eval('[data-testid=sequence-service]', (ps) => ps.map((p) => p.closest('section, .card')?.textContent ?? ''))).toEqual([expect.stringContaining('客户关怀 (care)')]);
    await page.goto(`${t.url}/admin#/grades`);
    await page.waitForSelector('[data-testid=grade-counts]');
    const board = await api<{ overall: Record<string, number> }>('/grades');
    expect(await page.textContent('[data-testid=grade-counts]')).toBe(['S', 'A', 'B', 'C'].map((g) => `${g} ${board.overall[g]}`).join(' · '));
    await page.click('#lang');
    await expect.poll(() => page.textContent('#nav')).toContain('Funnel');
    expect(await page.textContent('main h1')).toBe('Grades');
    await page.goto(`${t.url}/admin#/funnel`);
    await page.waitForSelector('[data-testid=funnel-table] tbody tr');
    expect(await page.$$eval('[data-testid=funnel-table] thead th', (ths) => ths[6]?.textContent)).toBe('First response (in service hours, median)');
    await page.goto(`${t.url}/admin#/service`);
    await page.waitForSelector('[data-testid=service-response-note]');
    expect(await page.textContent('[data-kpi=median] span')).toBe('Median first response (in service hours)');
    expect(await page.textContent('[data-testid=service-response-note]')).toContain('within service hours (SERVICE_HOURS)');
    await page.goto(`${t.url}/admin#/grades`);
    await page.waitForSelector('[data-testid=grade-counts]');
    await page.click('#lang');
    await expect.poll(() => page.textContent('#nav')).toContain('渠道漏斗');
    expect(errors).toEqual([]);
  });

  it('opens Bull Board with its queues, and nothing is asked of another origin (its HTML links a Google web font)', async () => {
    // Signed in (the session cookie the login form gets), as the queues view's button opens the board in a new tab.
    const signIn = await fetch(`${t.url}/admin/session`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    const [name, value] = signIn.headers.get('set-cookie')!.split(';')[0]!.split('=') as [string, string];
    const context = await browser.newContext();
    await context.addCookies([{ name, value, url: `${t.url}/admin` }]);
    const board = await context.newPage();
    const own = new URL(t.url).origin;
    // What leaves the machine for another origin reaches the network, where the route sees it (and aborts it, so the
    // test needs no Internet); a request the page's policy refuses never gets there.
    const sent: string[] = [];
    await context.route((u) => u.origin !== own, (route) => (sent.push(route.request().url()), route.abort()));
    const boardErrors: string[] = [];
    board.on('pageerror', (err) => boardErrors.push(err.message));
    try {
      const res = await board.goto(`${t.url}/admin/queues`);
      expect(res?.status()).toBe(200);
      // The board lists the bot's queues (its script ran and its API answered under the page's policy).
      for (const queue of ['events', 'welcome', 'nurture']) await board.getByText(queue, { exact: true }).first().waitFor({ timeout: 15_000 });
      await board.waitForLoadState('networkidle');
      await board.screenshot({ path: path.join(ARTIFACTS, 'dashboard-bull-board.png'), fullPage: true });
      expect(sent).toEqual([]);
      expect(boardErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('counts every late customer in the service page\'s figures, not only the 200 it lists', async () => {
    // 230 more customers waiting: 220 for three hours (past their target), 10 for a minute (within it).
    const now = Date.now();
    const min = 60_000;
    const docs = Array.from({ length: 230 }, (_, i) => {
      const externalUserId = `wmwaiting${String(i).padStart(4, '0')}`;
      const late = i < 220;
      const since = now - (late ? 180 : 1) * min - i * 1000;
      return {
        _id: leadId(t.bot.ctx.corpId, externalUserId),
        corpId: t.bot.ctx.corpId,
        externalUserId,
        name: `等待${i}`,
        stage: 'engaged',
        grade: 'B',
        firstTouch: { channelKey: 'organic', userId: 'zhangsan', at: new Date(now - 86_400_000) },
        kf: { openKfid: 'wkBROWSER', clock: { id: `c|${externalUserId}`, msgid: `m-${externalUserId}`, excerpt: '在吗', startedAt: new Date(since), targetSeconds: 600, firstDue: new Date(since + 10 * min), secondDue: new Date(since + 20 * min), level: late ? 2 : 0 } },
      };
    });
    await Lead.insertMany(docs);
    for (const d of docs) await t.bot.ctx.leadIndex.refresh(d._id);
    const waiting = (await Lead.find({ 'kf.clock.id': { $type: 'string' } }, { kf: 1 }).lean()).map((l) => l.kf!.clock!);
    // Past the target: its alert was sent, or is due now.
    const late = waiting.filter((c) => c.level > 0 || Date.now() > c.firstDue.getTime()).length;
    expect(late).toBeGreaterThanOrEqual(220);
    await page.goto(`${t.url}/admin#/service`);
    await page.waitForSelector('[data-testid=service-waiting] tbody tr a');
    expect(await page.textContent('[data-kpi=waiting] b')).toBe(waiting.length.toLocaleString('zh-CN'));
    expect(await page.$$eval('[data-testid=service-waiting] tbody tr', (trs) => trs.length)).toBe(200);
    expect(await page.textContent('[data-kpi=late] b')).toBe(late.toLocaleString('zh-CN'));
  });
});
