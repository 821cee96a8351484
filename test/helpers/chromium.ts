import { chromium, type Browser, type Page } from 'playwright-core';
import { seedDemo } from '../../src/dev/demo-data.js';
import { startTestBot, type TestBot } from './test-bot.js';

/** Debian's Chromium (CHROMIUM_PATH, else /usr/bin/chromium), never a downloaded browser: the dashboard's browser tests. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--no-first-run'],
  });
}

/** Opens the dashboard of the bot at `url`, signs in with `token` and waits for the funnel's table. */
export async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(`${url}/admin`);
  await page.fill('input[name=token]', token);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=funnel-table] tbody tr');
}

/** A test bot with demo data and a signed-in dashboard page in Chromium; `close` stops both. */
export interface OpenDashboard {
  t: TestBot;
  page: Page;
  close(): Promise<void>;
}

/** Starts a test bot (ADMIN_TOKEN `token`), seeds the demo's `leads` leads, and signs a 1280×900 page in to its dashboard. */
export async function openDashboard(label: string, token: string, demo: { leads: number; seed: number }): Promise<OpenDashboard> {
  const t = await startTestBot(label, { env: { ADMIN_TOKEN: token } });
  let browser: Browser | undefined;
  const close = async () => {
    await browser?.close();
    await t.stop();
  };
  try {
    await seedDemo(t.bot.ctx, { members: ['zhangsan', 'lisi'], ...demo });
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await signIn(page, t.url, token);
    return { t, page, close };
  } catch (err) {
    await close();
    throw err;
  }
}
