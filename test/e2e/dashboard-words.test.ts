import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Delivery } from '../../src/store/models/delivery.js';
import { recordSteps } from '../../src/store/timeline.js';
import type { TestBot } from '../helpers/test-bot.js';
import { openDashboard } from '../helpers/chromium.js';

const TOKEN = 'words-token-for-tests-0123456789';
let t: TestBot;
let page: Page;
let close: (() => Promise<void>) | undefined;

beforeAll(async () => {
  ({ t, page, close } = await openDashboard('dashboard-words', TOKEN, { leads: 20, seed: 7 }));
}, 120_000);
afterAll(async () => close?.());

const api = async <T>(p: string) => (await (await fetch(`${t.url}/admin/api${p}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as T;

/** The page `hash` in `language`, once `selector` is on it. */
async function open(language: 'zh' | 'en', hash: string, selector: string): Promise<void> {
  await page.evaluate((l) => localStorage.setItem('dashboard.lang', l), language);
  await page.goto(`${t.url}/admin#${hash}`);
  await page.reload();
  await page.waitForSelector(selector);
}

describe('a lead\'s timeline and deliveries in words', () => {
  it('says a customer message\'s intent, a stage move, a skipped welcome and a 客服 reply in words, in each language, without internal ids', async () => {
    const lead = (await api<{ items: Array<{ id: string; externalUserId: string }> }>('/leads?limit=1')).items[0]!;
    const ref = { corpId: t.bot.ctx.corpId, externalUserId: lead.externalUserId };
    const base = Date.now() + 60_000; // the newest entries, on top
    const replyKey = `kf-reply|words|${lead.externalUserId}`;
    await Delivery.create({ _id: replyKey, key: replyKey, kind: 'kf_reply', corpId: ref.corpId, externalUserId: ref.externalUserId, userId: 'wkWORDS0001', status: 'sent', via: 'kf', content: { text: '报价见案例', intent: 'qualify' }, caseSlug: 'general-a', sentAt: new Date(base) });
    const nurtureKey = `nurture|words|${lead.externalUserId}|1`;
    await Delivery.create({ _id: nurtureKey, key: nurtureKey, kind: 'nurture', corpId: ref.corpId, externalUserId: ref.externalUserId, userId: 'zhangsan', status: 'failed', via: 'mass', sequenceKey: 'slow', step: 1, reason: 'not_a_contact_of_sender' });
    await recordSteps([
      { lead: ref, sourceKey: nurtureKey, type: 'nurture_failed', detail: { sequence: 'slow', step: 1, via: 'mass' }, at: new Date(base - 1) },
      { lead: ref, sourceKey: 'words|1', type: 'kf_message', detail: { text: '你们怎么收费', intent: 'qualify', openKfid: 'wkWORDS0001', newSession: false }, at: new Date(base) },
      { lead: ref, sourceKey: 'words|2', type: 'kf_welcome_skipped', detail: { reason: 'channel_has_no_kf_welcome', channel: 'notext' }, at: new Date(base + 1) },
      { lead: ref, sourceKey: 'words|3', type: 'stage_changed', detail: { from: 'engaged', to: 'qualified', by: 'system', source: 'intent', actor: null, reason: null }, at: new Date(base + 2) },
      { lead: ref, sourceKey: replyKey, type: 'kf_reply_sent', detail: { intent: 'deploy', text: '支持私有化部署' }, at: new Date(base + 3) },
    ]);

    // The API gives the words, and keeps the fields it had.
    type Entry = { type: string; detail: Record<string, unknown>; label: { zh: string; en: string } | null };
    type D = { timeline: Entry[]; deliveries: Array<{ kind: string; caseSlug: string | null; reason: string | null; label: { zh: string; en: string }; reasonLabel: { zh: string; en: string } | null }> };
    const detail = await api<D>(`/leads/${encodeURIComponent(lead.id)}`);
    const label = (type: string) => detail.timeline.find((e) => e.type === type)!.label;
    expect(detail.timeline.find((e) => e.type === 'kf_message')!.detail).toMatchObject({ intent: 'qualify', openKfid: 'wkWORDS0001' });
    expect(label('kf_message')).toEqual({ zh: '“你们怎么收费”，意向：询价', en: '“你们怎么收费”, intent: pricing / demo / trial' });
    expect(label('stage_changed')).toEqual({ zh: '已互动 → 合格，系统（客服意向）', en: 'engaged → qualified, by the system (a 客服 intent)' });
    expect(label('kf_welcome_skipped')).toEqual({ zh: '渠道「无欢迎语渠道」没有设置客服欢迎语', en: 'channel “无欢迎语渠道” has no 客服 welcome' });
    expect(label('kf_reply_sent')).toEqual({ zh: '意向：咨询 deploy，“支持私有化部署”', en: 'intent: question deploy, “支持私有化部署”' });
    const reply = detail.deliveries.find((d) => d.kind === 'kf_reply')!;
    expect(reply.caseSlug).toBe('general-a');
    expect(reply.label).toEqual({ zh: '客服自动回复（询价）：案例「200 家客户的投入产出复盘」', en: '客服 auto-reply (pricing / demo / trial): case study “200 家客户的投入产出复盘”' });
    expect(reply.reasonLabel).toBeNull();
    const nurture = detail.deliveries.find((d) => d.kind === 'nurture' && d.reason === 'not_a_contact_of_sender')!;
    expect(nurture.label).toEqual({ zh: '培育消息「测试培育（三步，2 秒）」第 2 步', en: 'Nurture message “测试培育（三步，2 秒）” step 2' });
    expect(nurture.reasonLabel).toEqual({ zh: '客户不是发送人的好友', en: 'not a contact of the sender' });
    expect(label('nurture_failed')).toEqual({ zh: '序列「测试培育（三步，2 秒）」，第 2 步，经负责人群发', en: 'sequence “测试培育（三步，2 秒）”, step 2, via owner\'s mass message' });

    // The page says them so, in each language.
    const entryText = (type: string) => page.textContent(`[data-testid=timeline] li[data-type=${type}] .detail`);
    await open('zh', `/leads/${encodeURIComponent(lead.id)}`, '[data-testid=timeline] li');
    expect(await entryText('kf_message')).toBe('“你们怎么收费”，意向：询价');
    expect(await entryText('stage_changed')).toBe('已互动 → 合格，系统（客服意向）');
    expect(await page.textContent('[data-testid=timeline] li[data-type=stage_changed] .what')).toBe('阶段变更');
    expect(await entryText('kf_welcome_skipped')).toBe('渠道「无欢迎语渠道」没有设置客服欢迎语');
    const timeline = (await page.textContent('[data-testid=timeline]')) ?? '';
    expect(timeline).not.toMatch(/openKfid|newSession|wkWORDS|channel_has_no|source: |by: system|intent: qualify/);
    const deliveries = (await page.textContent('section:has(h2:text("发送记录"))')) ?? '';
    expect(deliveries).toContain('客服自动回复（询价）：案例「200 家客户的投入产出复盘」');
    expect(deliveries).not.toContain('kf_reply');
    expect(deliveries).not.toContain('general-a');
    expect(deliveries).toContain('培育消息「测试培育（三步，2 秒）」第 2 步');
    expect(deliveries).toContain('客户不是发送人的好友');
    expect(deliveries).toContain('负责人群发');
    expect(deliveries).not.toMatch(/not_a_contact|\bmass\b/);

    await open('en', `/leads/${encodeURIComponent(lead.id)}`, '[data-testid=timeline] li');
    expect(await entryText('kf_message')).toBe('“你们怎么收费”, intent: pricing / demo / trial');
    expect(await entryText('stage_changed')).toBe('engaged → qualified, by the system (a 客服 intent)');
    expect(await page.textContent('section:has(h2:text("Deliveries"))')).toContain('客服 auto-reply (pricing / demo / trial): case study “200 家客户的投入产出复盘”');
    expect(await page.textContent('[data-testid=timeline]')).not.toMatch(/openKfid|newSession|wkWORDS/);
  });

  it('documents the words in the OpenAPI document', async () => {
    type Schema = { properties?: Record<string, Schema>; items?: Schema; required?: string[] };
    const doc = await api<{ paths: Record<string, { get?: { responses: { 200: { content: { 'application/json': { schema: Schema } } } } } }> }>('/openapi.json');
    const lead = doc.paths['/admin/api/leads/{id}']!.get!.responses[200].content['application/json'].schema;
    expect(Object.keys(lead.properties!.timeline!.items!.properties!)).toEqual(['at', 'type', 'detail', 'label']);
    expect(Object.keys(lead.properties!.deliveries!.items!.properties!)).toEqual(expect.arrayContaining(['kind', 'caseSlug', 'label']));
  });
});

describe('a page with a period whose data fails to load', () => {
  for (const [hash, heading] of [['/funnel', '各渠道漏斗'], ['/service', '客服']] as const) {
    it(`keeps ${hash}'s picker beside the error, so a reversed period can be fixed on the page`, async () => {
      await open('zh', `${hash}?from=2026-12-07&to=2026-11-01`, '#view [role=alert]');
      expect(await page.textContent('#view h1')).toBe(heading);
      // The error says the dates in words, without the raw field name.
      expect(await page.textContent('#view [role=alert]')).toBe('加载失败：查询参数有误：开始日期（2026-12-07）不能晚于结束日期（2026-11-01）');
      expect(await page.inputValue('#view input[name=from]')).toBe('2026-12-07');
      expect(await page.inputValue('#view input[name=to]')).toBe('2026-11-01');
      // Fixed on the page: the data loads.
      await page.fill('#view input[name=from]', '2026-10-01');
      await page.click('#view form button[type=submit]');
      await page.waitForFunction(() => location.hash.includes('from=2026-10-01'));
      await page.waitForSelector(hash === '/funnel' ? '[data-testid=funnel-table]' : '[data-testid=service-servicers]');
      expect(await page.$('#view [role=alert]')).toBeNull();

      await open('en', `${hash}?from=2026-12-07&to=2026-11-01`, '#view [role=alert]');
      expect(await page.textContent('#view [role=alert]')).toBe('Could not load: invalid query: from: from must not be after to (2026-11-01)');
      expect(await page.$$eval('#view form button', (bs) => bs.map((b) => b.textContent))).toEqual(['Last 7 days', 'Last 30 days', 'Last 90 days', 'Show']);
    });
  }
});

describe('the page\'s title', () => {
  it('names the bot in Chinese on a Chinese page and in English on an English one', async () => {
    await open('zh', '/funnel', '[data-testid=funnel-table]');
    expect(await page.textContent('header .brand')).toBe('企业微信运营助手');
    expect(await page.title()).toBe('私域运营看板 - 企业微信运营助手');
    expect(await page.title()).not.toContain('WeCom');
    await open('en', '/funnel', '[data-testid=funnel-table]');
    expect(await page.textContent('header .brand')).toBe('WeCom ops bot');
    expect(await page.title()).toBe('Ops dashboard - WeCom ops bot');
    // Before the scripts run (the page's default language is Chinese).
    const html = await (await fetch(`${t.url}/admin`)).text();
    expect(html).toContain('<title>企业微信运营助手</title>');
    expect(html).not.toContain('WeCom ops bot');
  });
});
