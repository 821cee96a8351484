import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestBot } from '../helpers/test-bot.js';
import { openDashboard } from '../helpers/chromium.js';

const TOKEN = 'errors-token-for-tests-0123456789';
let t: TestBot;
let page: Page;
let close: (() => Promise<void>) | undefined;

beforeAll(async () => {
  ({ t, page, close } = await openDashboard('dashboard-errors', TOKEN, { leads: 30, seed: 5 }));
}, 120_000);
afterAll(async () => close?.());

type ErrorBody = { error: string; label?: { zh: string; en: string }; issues?: Array<{ in: string; path: string; message: string }> };
const call = async (p: string, init: { method?: string; body?: unknown; token?: string | null } = {}) => {
  const res = await fetch(`${t.url}/admin/api${p}`, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: { ...(init.token === null ? {} : { authorization: `Bearer ${init.token ?? TOKEN}` }), ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  return { status: res.status, body: (await res.json()) as ErrorBody };
};

/** The page in `language`, at `hash`; what its error says. */
async function errorOf(language: 'zh' | 'en', hash: string): Promise<string> {
  await page.evaluate((l) => localStorage.setItem('dashboard.lang', l), language);
  await page.goto(`${t.url}/admin#${hash}`);
  await page.reload();
  await page.waitForSelector('#view [role=alert]');
  return (await page.textContent('#view [role=alert]')) ?? '';
}

describe('API errors on the dashboard, in the page\'s language', () => {
  it('answers every error with its English message, its issues and a label in each language', async () => {
    const reversed = await call('/funnel?from=2026-03-10&to=2026-03-01');
    expect(reversed.status).toBe(400);
    // What the API said before stays: the message and the failing field.
    expect(reversed.body.error).toBe('invalid query: from: from must not be after to (2026-03-01)');
    expect(reversed.body.issues).toEqual([{ in: 'query', path: 'from', message: 'from must not be after to (2026-03-01)' }]);
    expect(reversed.body.label).toEqual({ zh: '查询参数有误：开始日期（2026-03-10）不能晚于结束日期（2026-03-01）', en: reversed.body.error });
    const answers = [
      await call('/leads?stage=nope'),
      await call('/funnel?from=2026-02-31'),
      await call('/leads/nobody'),
      await call('/campaigns/none'),
      await call('/no-such-route'),
      await call('/leads', { token: null }),
      await call('/pauses', { body: { kind: 'campaign', target: 'x' } }),
      await call('/leads/nobody/tags', { body: {} }),
    ];
    expect(answers.map((a) => a.status)).toEqual([400, 400, 404, 404, 404, 401, 400, 400]);
    for (const a of answers) {
      expect(a.body.label?.en, a.body.error).toBe(a.body.error);
      // Chinese: no English sentence (field names, ids and values stay as they are).
      expect(a.body.label?.zh, a.body.error).toMatch(/[\u4e00-\u9fff]/);
      expect(a.body.label?.zh, a.body.error).not.toMatch(/\b(must|invalid|no such|required|expected)\b/i);
    }
    expect(answers[0]!.body.label!.zh).toBe('查询参数有误：stage：应为 added、engaged、qualified、opportunity、customer、lost、unsubscribed 之一');
    expect(answers[1]!.body.label!.zh).toBe('查询参数有误：from：应为日历上有的一天，YYYY-MM-DD');
    expect(answers[2]!.body.label!.zh).toBe('没有线索 nobody');
  });

  it('documents the error body in the OpenAPI document', async () => {
    const res = await fetch(`${t.url}/admin/api/openapi.json`, { headers: { authorization: `Bearer ${TOKEN}` } });
    type Doc = { paths: Record<string, Record<string, { responses: Record<string, { content?: { 'application/json': { schema: { $ref?: string } } } }> }>>; components: { schemas: Record<string, { properties: Record<string, unknown>; required: string[] }> } };
    const doc = (await res.json()) as Doc;
    expect(doc.components.schemas.Error?.required).toEqual(expect.arrayContaining(['error', 'label']));
    expect(Object.keys(doc.components.schemas.Error?.properties ?? {})).toEqual(['error', 'label', 'issues']);
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        for (const [status, answer] of Object.entries(op.responses)) {
          if (status.startsWith('2')) continue;
          expect(answer.content?.['application/json'].schema.$ref, `${method} ${path} ${status}`).toBe('#/components/schemas/Error');
        }
      }
    }
  });

  it('shows a Chinese page\'s API error in Chinese (a reversed period in the address), an English page\'s in English', async () => {
    const zh = await errorOf('zh', '/funnel?from=2026-03-10&to=2026-03-01');
    expect(zh).toBe('加载失败：查询参数有误：开始日期（2026-03-10）不能晚于结束日期（2026-03-01）');
    const en = await errorOf('en', '/funnel?from=2026-03-10&to=2026-03-01');
    expect(en).toBe('Could not load: invalid query: from: from must not be after to (2026-03-01)');
    expect(await errorOf('zh', '/leads?stage=nope')).toContain('查询参数有误：stage：应为 added、');
    expect(await errorOf('zh', '/leads/nobody')).toBe('加载失败：没有线索 nobody');
    expect(await errorOf('en', '/leads/nobody')).toBe('Could not load: no lead nobody');
  });

  it('says an answer without a label (a proxy\'s 503) or no answer at all in the page\'s language', async () => {
    await page.route('**/admin/api/grades', (route) => route.fulfill({ status: 503, contentType: 'text/html', body: '<h1>503 Service Temporarily Unavailable</h1>' }));
    expect(await errorOf('zh', '/grades')).toBe('加载失败：请求失败（HTTP 503）');
    expect(await errorOf('en', '/grades')).toBe('Could not load: HTTP 503');
    await page.unroute('**/admin/api/grades');
    await page.route('**/admin/api/sequences', (route) => route.abort('connectionrefused'));
    expect(await errorOf('zh', '/sequences')).toBe('加载失败：连不上机器人，请检查网络后重试');
    await page.unroute('**/admin/api/sequences');
  });

  it('says a refused action on a lead in Chinese beside its form', async () => {
    const lead = (await (await fetch(`${t.url}/admin/api/leads?limit=1`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { items: Array<{ id: string }> };
    await page.evaluate(() => localStorage.setItem('dashboard.lang', 'zh'));
    await page.goto(`${t.url}/admin#/leads/${encodeURIComponent(lead.items[0]!.id)}`);
    await page.reload();
    await page.waitForSelector('input[name=add]');
    await page.fill('input[name=add]', '意向/高');
    await page.fill('input[name=remove]', '意向/高');
    await page.click('form:has(input[name=add]) button[type=submit]');
    await expect.poll(() => page.textContent('[data-testid=action-message]')).toBe('意向/高：既在要加的标签里，又在要去掉的标签里；每个标签只写一处');
  });
});
