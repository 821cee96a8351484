/**
 * `npm run bench:dashboard`: the admin API routes the dashboard's pages read, over BENCH_LEADS (100,000) leads on the
 * embedded database. See docs/benchmarks-dashboard.md.
 *
 * 1. Setup (not timed, but reported): the demo data of `npm run dev` at BENCH_LEADS leads (src/dev/demo-data.ts:
 *    leads over the template channels, stages, grades and two weeks, their timelines, enrollments, deliveries,
 *    微信客服 response records and a finished campaign), the funnel rollups and the lead index built from them.
 * 2. The routes, through the bot's own HTTP app (auth, validation and answer schema included), each in
 *    BENCH_ROUNDS (7) alternating rounds against two same-run baselines: `GET /admin/api/openapi.json` (the same HTTP
 *    path and token check, with an answer made at start) and one `Lead.findById` straight on the database (one
 *    primary-key round trip). Reported: mean and spread (min – max) per route; the target is under 300 ms.
 * 3. The sequence statistics once cold (computed from every enrollment), then as the dashboard gets them (the copy
 *    kept in Redis, src/domain/reports/sequence-stats-cache.ts).
 *
 * Knobs: BENCH_LEADS, BENCH_ROUNDS, BENCH_DB=sqlite|postgresql (FerretDB handler; MONGODB_URI wins).
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mongoose from 'mongoose';
import { closeContext, createContext } from '../../src/app/bot.js';
import { createHttpApp } from '../../src/app/http-app.js';
import { loadConfig } from '../../src/config.js';
import type { BotContext } from '../../src/context.js';
import { DEMO_CAMPAIGN } from '../../src/dev/demo-campaign.js';
import { seedDemo } from '../../src/dev/demo-data.js';
import { withDatabase } from '../../src/dev/embedded-database.js';
import { sequenceStats } from '../../src/domain/reports/sequence-stats.js';
import { createLogger } from '../../src/logger.js';
import { Delivery } from '../../src/store/models/delivery.js';
import { Enrollment } from '../../src/store/models/enrollment.js';
import { KfResponse } from '../../src/store/models/kf.js';
import { Lead } from '../../src/store/models/lead.js';
import { Timeline } from '../../src/store/models/timeline.js';
import { corpEnv } from '../fixtures/test-corp.js';
import { BenchRun, log, machineInfo } from './harness.js';

const num = (name: string, def: number) => (process.env[name] ? Number(process.env[name]) : def);
const LEADS = num('BENCH_LEADS', 100_000);
const ROUNDS = num('BENCH_ROUNDS', 7);
const TARGET_MS = 300;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TOKEN = 'bench-dashboard-token-0123456789';

const ms = (x: number) => `${x.toFixed(0)} ms`;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const spread = (xs: number[]) => `${ms(Math.min(...xs))} – ${ms(Math.max(...xs))}`;
const secs = (x: number) => `${(x / 1000).toFixed(1)} s`;

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t = performance.now();
  const value = await fn();
  return { ms: performance.now() - t, value };
}

const bench = new BenchRun(90 * 60_000);
await bench.run(async () => {
  const { name, redis } = bench.redisScope('bench_dashboard', process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const db = await bench.database();
  const env = corpEnv(
    { sandboxUrl: 'http://127.0.0.1:9', mongoUri: withDatabase(db.uri, name), prefix: name, templatesDir: path.join(ROOT, 'templates'), role: 'web' },
    { ADMIN_TOKEN: TOKEN, REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
  );
  const ctx: BotContext = await createContext(loadConfig(env), createLogger('silent'));
  bench.cleanups.push({
    name: 'database and context',
    fn: async () => {
      await mongoose.connection.db?.dropDatabase();
      await closeContext(ctx);
    },
  });

  log(`seeding the demo data at ${LEADS} leads (not timed)`);
  const seed = await timed(() => seedDemo(ctx, { leads: LEADS, members: ['zhangsan', 'lisi', 'wangwu'], kf: { openKfid: 'wkBENCH', servicers: ['zhangsan', 'lisi'] }, onProgress: (m) => log(`  ${m}`) }));
  const sizes = {
    leads: await Lead.estimatedDocumentCount(),
    timelines: await Timeline.estimatedDocumentCount(),
    enrollments: await Enrollment.estimatedDocumentCount(),
    deliveries: await Delivery.estimatedDocumentCount(),
    responses: await KfResponse.estimatedDocumentCount(),
  };
  log(`seeded in ${secs(seed.ms)}: ${JSON.stringify(sizes)}`);

  const app = createHttpApp(ctx);
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  bench.cleanups.push({ name: 'http server', fn: () => new Promise((r) => server.close(r)) });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/admin/api`;
  const get = async (p: string) => {
    const res = await fetch(`${base}${p}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const body = await res.text();
    if (!res.ok) throw new Error(`GET ${p}: ${res.status} ${body.slice(0, 200)}`);
    return JSON.parse(body) as Record<string, unknown> & Array<Record<string, unknown>>;
  };

  // The cold sequence statistics, once: what the copy in Redis saves every view.
  const cold = await timed(() => sequenceStats(ctx.sequences));
  log(`sequence statistics computed from every enrollment in ${secs(cold.ms)}`);

  const day = (offset: number) => new Date(Date.now() - offset * 86_400_000).toISOString().slice(0, 10);
  const firstPage = await get('/leads?limit=50');
  const someLead = (firstPage.items as Array<{ id: string }>)[10]!.id;
  const engaged = ((await get('/leads?stage=engaged&limit=1')).items as Array<{ id: string }>)[0]!.id;
  const routes: Array<{ label: string; path: string }> = [
    { label: 'leads, first page (50, by last touch)', path: '/leads?limit=50' },
    { label: 'leads, next page', path: `/leads?limit=50&cursor=${firstPage.next as string}` },
    { label: 'leads, filtered (stage, grade, channel)', path: '/leads?stage=qualified&grade=B&channel=expo2026&limit=50' },
    { label: 'leads, filtered by tag, by score', path: `/leads?tag=${encodeURIComponent('行业/制造业')}&sort=score&limit=50` },
    { label: 'leads, search (a name)', path: `/leads?q=${encodeURIComponent('王经理')}&limit=50` },
    { label: 'a lead (timeline, enrollments, deliveries)', path: `/leads/${encodeURIComponent(someLead)}` },
    { label: 'a lead, engaged', path: `/leads/${encodeURIComponent(engaged)}` },
    { label: 'funnel, 30 days', path: `/funnel?from=${day(29)}&to=${day(0)}` },
    { label: 'grades', path: '/grades' },
    { label: 'sequences (kept copy)', path: '/sequences' },
    { label: 'service, 7 days', path: `/service?from=${day(6)}&to=${day(0)}` },
    { label: 'service, waiting now', path: '/service/waiting' },
    { label: 'channels (with their funnel since they started)', path: '/channels' },
    { label: 'campaigns', path: '/campaigns' },
    { label: 'a campaign and its runs', path: `/campaigns/${DEMO_CAMPAIGN}` },
  ];
  // Warm-up: every route once (the first call of each loads its code and fills the sequence statistics copy).
  for (const r of routes) await get(r.path);

  const http: number[] = [];
  const pk: number[] = [];
  const times = new Map(routes.map((r) => [r.label, [] as number[]]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const r of routes) {
      http.push((await timed(() => get('/openapi.json'))).ms);
      pk.push((await timed(() => Lead.findById(someLead).lean())).ms);
      times.get(r.label)!.push((await timed(() => get(r.path))).ms);
    }
    log(`round ${round + 1}/${ROUNDS}: ${routes.map((r) => `${ms(times.get(r.label)!.at(-1)!)}`).join(' ')}`);
  }

  const m = await machineInfo(redis);
  const worst = Math.max(...routes.map((r) => mean(times.get(r.label)!)));
  const lines = [
    `## bench:dashboard — ${new Date().toISOString()}`,
    '',
    `Machine: ${m.cpus} cores (${m.model}), ${m.mem}, node ${m.node}, Redis ${m.redis}, database ${db.label}. Load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}.`,
    `Data: the demo at ${sizes.leads} leads — ${sizes.timelines} timelines, ${sizes.enrollments} enrollments, ${sizes.deliveries} deliveries, ${sizes.responses} 客服 response records, one finished campaign; seeded with the funnel rollups and the lead index in ${secs(seed.ms)}.`,
    '',
    `| route (${ROUNDS} alternating rounds) | mean | spread |`,
    '|---|---|---|',
    `| baseline: GET /openapi.json (the HTTP path and token check, an answer made at start) | ${ms(mean(http))} | ${spread(http)} |`,
    `| baseline: one Lead.findById on the database | ${ms(mean(pk))} | ${spread(pk)} |`,
    ...routes.map((r) => `| GET ${r.label} | ${ms(mean(times.get(r.label)!))} | ${spread(times.get(r.label)!)} |`),
    `| sequence statistics computed from every enrollment (once, what the kept copy saves) | ${secs(cold.ms)} | |`,
    '',
    `Target: every route under ${TARGET_MS} ms on average — ${worst < TARGET_MS ? 'met' : 'missed'} (slowest mean ${ms(worst)}).`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
});
