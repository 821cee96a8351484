import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/dev/demo-data.js';
import { Lead, leadId } from '../../src/store/models/lead.js';
import { startTestBot, type TestBot } from '../helpers/test-bot.js';
import { launchChromium } from '../helpers/chromium.js';

/** Screenshots of the pages on a phone, for a person to look at (test/artifacts/ is not committed). */
const ARTIFACTS = path.resolve('test/artifacts');
const TOKEN = 'phone-token-for-tests-0123456789';
let t: TestBot;
let browser: Browser;
let page: Page;
const errors: string[] = [];

beforeAll(async () => {
  t = await startTestBot('dashboard-phone', { env: { ADMIN_TOKEN: TOKEN } });
  await seedDemo(t.bot.ctx, { members: ['zhangsan', 'lisi'], leads: 60, seed: 7, kf: { openKfid: 'wkPHONE', servicers: ['zhangsan', 'lisi'] } });
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await launchChromium();
  // An iPhone-sized screen.
  page = await browser.newPage({ viewport: { width: 390, height: 844 } });
  page.on('pageerror', (err) => errors.push(err.message));
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await t?.stop();
});

const api = async <T>(p: string) => (await (await fetch(`${t.url}/admin/api${p}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as T;

/** How wide the page is against the screen, and each table wider than the screen with the box it scrolls in. */
const measure = () => page.evaluate(() => {
  const tables = [...document.querySelectorAll('#view table')].map((table) => {
    // The nearest box around the table that scrolls sideways.
    let box: HTMLElement | null = table.parentElement;
    while (box && box !== document.body && !['auto', 'scroll'].includes(getComputedStyle(box).overflowX)) box = box.parentElement;
    const scroller = box && box !== document.body ? box : null;
    let scrolled = false;
    if (scroller && scroller.scrollWidth > scroller.clientWidth) {
      scroller.scrollLeft = scroller.scrollWidth;
      scrolled = scroller.scrollLeft > 0;
      scroller.scrollLeft = 0;
    }
    return {
      width: table.getBoundingClientRect().width,
      scroller: scroller ? { right: scroller.getBoundingClientRect().right, scrolled } : null,
    };
  });
  // What sticks out past the screen's right edge, outside any box that scrolls (to say what to fix).
  const inScroller = (el: Element) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(p).overflowX)) return true;
    return false;
  };
  const outside = [...document.querySelectorAll('body *')]
    .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1 && !inScroller(el))
    .map((el) => `${el.tagName.toLowerCase()}${el.className ? `.${String(el.className).replace(/ /g, '.')}` : ''}`);
  return { scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth, tables, outside };
});

describe('dashboard on a phone (390 px wide)', () => {
  it('never scrolls the page sideways: a wide table scrolls inside its own box, its columns all reachable', async () => {
    await page.goto(`${t.url}/admin`);
    await page.waitForSelector('input[name=token]');
    const login = await measure();
    expect(login.scrollWidth, `login: the page's width (${login.outside.join(', ')})`).toBeLessThanOrEqual(login.innerWidth + 1);
    await page.fill('input[name=token]', TOKEN);
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-testid=funnel-table] tbody tr');
    // The lead with the most deliveries and enrollments: its page has the widest tables.
    const ids = (await api<{ items: Array<{ id: string }> }>('/leads?limit=60')).items.map((l) => l.id);
    const details = await Promise.all(ids.map((id) => api<{ id: string; deliveries: unknown[]; enrollments: unknown[] }>(`/leads/${encodeURIComponent(id)}`)));
    const lead = details.sort((a, b) => b.deliveries.length + b.enrollments.length - (a.deliveries.length + a.enrollments.length))[0]!;
    expect(lead.deliveries.length).toBeGreaterThan(0);
    const campaign = (await api<Array<{ key: string }>>('/campaigns'))[0]!;
    // A lead as WeCom may give one: no name (so its 32-character external userid is its title), a latin company and tag
    // name longer than a phone's line.
    const externalUserId = 'wmAbCdEfGhIjKlMnOpQrStUvWxYz012345';
    const longId = leadId(t.bot.ctx.corpId, externalUserId);
    await Lead.create({
      _id: longId, corpId: t.bot.ctx.corpId, externalUserId, stage: 'engaged', grade: 'B', corpName: 'InternationalBusinessMachinesCorporationLimited',
      tags: [{ group: 'interest', name: 'enterprise-procurement-automation-platform-evaluation' }], firstTouch: { channelKey: 'organic', userId: 'zhangsan', at: new Date() },
    });
    await t.bot.ctx.leadIndex.refresh(longId);
    const views: Array<[string, string]> = [
      ['funnel', 'funnel'], ['leads', 'leads'], ['lead', `leads/${encodeURIComponent(lead.id)}`], ['lead-long', `leads/${encodeURIComponent(longId)}`],
      // A lead that is not there: the error names its id.
      ['lead-missing', `leads/${encodeURIComponent(`${longId}0`)}`],
      ['grades', 'grades'], ['sequences', 'sequences'], ['campaigns', 'campaigns'], ['campaign', `campaigns/${encodeURIComponent(campaign.key)}`], ['service', 'service'], ['queues', 'queues'],
    ];
    let wide = 0;
    for (const language of ['zh', 'en']) {
      await page.evaluate((l) => localStorage.setItem('dashboard.lang', l), language);
      for (const [name, view] of views) {
        await page.goto(`${t.url}/admin#/${view}?${language}`);
        await page.waitForFunction(() => document.querySelector('#view h1, #view [role=alert]'));
        await page.waitForTimeout(300); // charts drawn
        const m = await measure();
        await page.screenshot({ path: path.join(ARTIFACTS, `dashboard-phone-${name}-${language}.png`), fullPage: true });
        // What sticks out is named, to say what to fix.
        expect.soft(m.scrollWidth, `${language} ${name}: the page's width (sticking out: ${m.outside.join(', ')})`).toBeLessThanOrEqual(m.innerWidth + 1);
        for (const [i, table] of m.tables.entries()) {
          if (table.width <= m.innerWidth) continue;
          wide++;
          // A table wider than the screen scrolls in a box that fits the screen, and does scroll.
          expect.soft(table.scroller, `${language} ${name}: table ${i} scrolls in a box`).not.toBeNull();
          expect.soft(table.scroller?.right, `${language} ${name}: table ${i}'s box fits the screen`).toBeLessThanOrEqual(m.innerWidth + 1);
          expect.soft(table.scroller?.scrolled, `${language} ${name}: table ${i} scrolls`).toBe(true);
        }
      }
    }
    await page.evaluate(() => localStorage.setItem('dashboard.lang', 'zh'));
    // Some tables are wider than a phone (the funnel's, the leads'): the checks above had something to check.
    expect(wide).toBeGreaterThan(0);
    expect(errors).toEqual([]);
  });
});
