import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { KoaAdapter } from '@bull-board/koa';
import Router from '@koa/router';
import type Koa from 'koa';
import send from 'koa-send';
import type { BotContext } from '../../context.js';
import { isAdmin, SESSION_COOKIE, SESSION_HOURS, sessionValue } from './session.js';

/** The dashboard's own files: HTML, scripts, styles (plain browser modules: no build step before `npm start`). */
const PAGES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'dashboard');
/** Chart.js, served from the installed package (the dashboard calls out to no CDN). */
const CHART_JS = path.dirname(createRequire(import.meta.url).resolve('chart.js')); // dist/, beside chart.umd.min.js
/** What the pages may load: only from the bot itself. */
const CSP = "default-src 'self'; img-src 'self' data: https:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";
/**
 * What Bull Board's pages may load: only from the bot. Its HTML links a web font on fonts.googleapis.com (blocked in
 * mainland China, and a call to another origin the dashboard does not make): refused here, the page falls back to the
 * system fonts. Its page has inline styles and a JSON (not script) block; its images are its own or data: URLs.
 */
const QUEUES_CSP =
  "default-src 'self'; img-src 'self' data:; font-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

const htmlAttr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

/** Sends a file of `root`; one that is not there is a plain 404. */
async function serve(c: Koa.Context, file: string, root: string): Promise<void> {
  try {
    await send(c, file, { root });
  } catch (err) {
    if ((err as { status?: number }).status !== 404) throw err;
    c.status = 404;
    c.body = 'not found';
  }
}

/**
 * The dashboard at /admin (its pages need no token: a login form keeps the token in the browser session and sends it
 * to the admin API), a session cookie for pages that cannot send a header, and Bull Board at /admin/queues behind
 * the same token (the bearer header or the session cookie).
 */
export function dashboardRouter(ctx: BotContext, token: string): { router: Router; queues: Koa.Middleware } {
  const router = new Router({ prefix: '/admin' });
  // The page names the ops team's time zone: a period's days are OPS_TIMEZONE's, as the admin API counts them.
  const index = readFileSync(path.join(PAGES, 'index.html'), 'utf8').replace('<meta name="ops-timezone" content="">', `<meta name="ops-timezone" content="${htmlAttr(ctx.config.OPS_TIMEZONE)}">`);
  router.get(['/', ''], (c) => {
    c.set('Content-Security-Policy', CSP);
    c.type = 'html';
    c.body = index;
  });
  router.get('/assets/chart.umd.min.js', async (c) => {
    c.set('Cache-Control', 'public, max-age=86400');
    await serve(c, 'chart.umd.min.js', CHART_JS);
  });
  router.get('/assets/:file', async (c) => {
    if (!/^[\w-]+\.(js|css|svg)$/.test(c.params.file ?? '')) return;
    c.set('Cache-Control', 'no-cache');
    await serve(c, c.params.file!, PAGES);
  });
  router.post('/session', async (c) => {
    // The login form posts the token it was given; the answer sets the cookie Bull Board's pages carry.
    if (!c.get('authorization') || !isAdmin(c, token)) {
      c.status = 401;
      c.body = { error: 'wrong admin token' };
      return;
    }
    c.cookies.set(SESSION_COOKIE, sessionValue(token), { httpOnly: true, sameSite: 'strict', path: '/admin', secure: c.secure, overwrite: true, maxAge: SESSION_HOURS * 3_600_000 });
    c.status = 204;
  });
  router.delete('/session', (c) => {
    c.cookies.set(SESSION_COOKIE, '', { httpOnly: true, sameSite: 'strict', path: '/admin', maxAge: 0, overwrite: true });
    c.status = 204;
  });

  const board = new KoaAdapter();
  board.setBasePath('/admin/queues');
  createBullBoard({ queues: ctx.queues.all().map((q) => new BullMQAdapter(q)), serverAdapter: board, options: { uiConfig: { boardTitle: '企业微信运营助手 · 队列', locale: { lng: 'zh-CN' } } } });
  const plugin = board.registerPlugin() as unknown as Koa.Middleware;
  const queues: Koa.Middleware = async (c, next) => {
    if (c.path !== '/admin/queues' && !c.path.startsWith('/admin/queues/')) return next();
    c.set('Content-Security-Policy', QUEUES_CSP);
    if (!isAdmin(c, token)) {
      if (c.method === 'GET' && c.accepts('html')) {
        c.redirect('/admin#/queues');
        return;
      }
      c.status = 401;
      c.body = { error: 'a valid admin token is required' };
      return;
    }
    return plugin(c, next);
  };
  return { router, queues };
}
