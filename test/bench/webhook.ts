/**
 * `npm run bench:webhook`: how fast the WeCom callback receiver is, and whether a burst of new contacts is
 * welcomed inside WeCom's 20 s WelcomeCode window. Everything runs on 127.0.0.1 and ends in a few minutes.
 *
 *  1. An embedded database, the sandbox WeCom and the real bot in ROLE=web (verify, decrypt, parse, validate,
 *     store in the Redis inbox stream) under a unique queue prefix, all in this process.
 *  2. A bare Koa baseline in this process: one POST route that reads the body, regex-extracts <Encrypt>, verifies
 *     the signature, decrypts, answers 200.
 *  3. The load generator (autocannon) runs in a child process (this file again, BENCH_WEBHOOK_LOADGEN=1) so it
 *     never shares an event loop with the servers it measures. Every request carries a distinct, freshly signed
 *     add_external_contact callback (distinct ExternalUserID, so the receiver never dedupes one).
 *  4. Max throughput (50 connections), then a fixed 1,000 req/s (autocannon overallRate, 10 connections), each with
 *     the two targets alternating for BENCH_ROUNDS rounds. Each fixed-rate run is probed (test/bench/tail-probe.ts):
 *     in this process event-loop delay (monitorEventLoopDelay and a timer that timestamps each stall), GC pauses
 *     (PerformanceObserver 'gc'), the inbox's group commits (InboxWriter.onBatch: callbacks per batch, wait for the
 *     flush, XADD time) and each request's time inside the server (diagnostics_channel); in the load generator its
 *     own GC and event-loop stalls and every response's end and latency. The report says which of these coincide
 *     with the requests at or above each run's p99.
 *  5. Welcome burst: worker processes (`node --import tsx src/app/main.ts`, ROLE=worker, same env) consume what the
 *     in-process receiver enqueues; 2,000 customers are registered in the sandbox and their callbacks posted as
 *     fast as the receiver takes them; we wait for the welcomes to appear in the sandbox. Run once per
 *     WECOM_RATE_LIMITS setting.
 *  6. API model of the same burst (DB excluded): the welcome and contact-sync jobs' WeCom calls, in their order,
 *     with their budgets and the workers' concurrency, made through the bot's real WecomClient + Redis RateLimiter
 *     against the sandbox. It answers "can the rate limit alone let 2,000 welcomes out inside 20 s?", which the
 *     real burst cannot when the embedded database is the bottleneck. It is a model, labelled as such.
 *
 * Targets are reported, never asserted: the exit code is non-zero only when the harness itself fails.
 * Knobs (env): BENCH_SECONDS (10), BENCH_ROUNDS (3: alternating rounds of each part), BENCH_BURST (2000), BENCH_WORKERS (2), BENCH_BURST_LIMITS ("|default=10000/m")
 * and BENCH_MODEL_LIMITS ("|default=166/s|default=10000/m"): `|`-separated WECOM_RATE_LIMITS values ('' = unset,
 * the client's defaults: 9,500/min and 140,000/h per API), BENCH_SKIP_THROUGHPUT=1, BENCH_SKIP_BURST=1, BENCH_SKIP_MODEL=1,
 * BENCH_DB (sqlite | postgresql: FerretDB's backend, test/bench/harness.ts). MONGODB_URI, when set, wins.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import Router from '@koa/router';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import Koa from 'koa';
import mongoose from 'mongoose';
import getRawBody from 'raw-body';
import { startBot, type Bot } from '../../src/app/bot.js';
import { loadConfig } from '../../src/config.js';
import { withDatabase } from '../../src/dev/embedded-database.js';
import { CallbackError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { Delivery } from '../../src/store/models/delivery.js';
import { Lead } from '../../src/store/models/lead.js';
import { Timeline } from '../../src/store/models/timeline.js';
import { buildContactEventXml, startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { buildEncryptedCallback, decryptPayload, toQueryString, verifySignature } from '../../src/wecom/callback/crypto.js';
import { WecomClient } from '../../src/wecom/client.js';
import { RedisKeys } from '../../src/redis/keys.js';
import { corpEnv, CREDS, deleteMatching, TEST_CORP } from '../fixtures/test-corp.js';
import { BenchRun, log, machineInfo } from './harness.js';
import { overlapping, pct, STALL_MS, TailProbe, type ProbeReport, type Span } from './tail-probe.js';

const THIS_FILE = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(THIS_FILE), '../..');

const CORP = TEST_CORP;
const OWNER = 'zhangsan';
const CHANNEL = 'expo2026';
const REDIS_URL = 'redis://127.0.0.1:6379';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_SECONDS = 2;
/** Rounds of the alternating max-throughput comparison. */
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const MAX_CONNECTIONS = 50;
const RATE = 1_000;
/** autocannon paces per connection and per second (see docs/benchmarks.md): fewer connections = smaller bursts. */
const RATE_CONNECTIONS = 10;
const BURST = Number(process.env.BENCH_BURST ?? 2_000);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 2);
const BURST_LIMITS = (process.env.BENCH_BURST_LIMITS ?? '|default=10000/m').split('|').map((s) => s.trim());
const MODEL_LIMITS = (process.env.BENCH_MODEL_LIMITS ?? '|default=166/s|default=10000/m').split('|').map((s) => s.trim());
const POST_CONCURRENCY = 50;
/** The sandbox refuses a WelcomeCode older than this (WeCom's 20 s), so nothing can arrive later. */
const WELCOME_TTL_MS = 20_000;
const BURST_WAIT_CAP_MS = 60_000;
const HARD_TIMEOUT_MS = 12 * 60_000;

// ------------------------------------------------------------------------------------------------ load generator

interface LoadRun {
  id: number;
  url: string;
  connections: number;
  seconds: number;
  warmupSeconds: number;
  overallRate?: number;
  /** callbacks signed before the run starts; more are signed on the fly (and counted) if the run needs them. */
  pregen: number;
  tag: string;
  /** Keep each response's end time and latency, and probe the load generator itself (GC, event-loop stalls). */
  samples?: boolean;
}

interface LoadSummary {
  reqPerSec: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  total: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  seconds: number;
  signedOnTheFly: number;
  /** With `samples`: [end, latency, end, latency, …] of every response (ms since the epoch; ms). */
  samples?: number[];
  /** With `samples`: what the load generator's own process went through meanwhile. */
  probe?: ProbeReport;
}

type LoadMessage =
  | { type: 'started'; id: number }
  | { type: 'result'; id: number; summary: LoadSummary }
  | { type: 'error'; id: number; message: string };

interface SignedCallback {
  path: string;
  body: Buffer;
}

/** The encrypted add_external_contact callback of one customer scanning the channel's code, timestamped now. */
function signedAdd(externalUserId: string, welcomeCode: string) {
  const xml = buildContactEventXml({
    toUserName: CORP.corpId,
    createTime: Math.floor(Date.now() / 1000),
    changeType: 'add_external_contact',
    userId: OWNER,
    externalUserId,
    state: CHANNEL,
    welcomeCode,
  });
  return buildEncryptedCallback(CREDS, xml);
}

/** A distinct add_external_contact callback per call, signed with a fresh timestamp. */
function callbackFactory(tag: string): () => SignedCallback {
  let n = 0;
  return () => {
    const externalUserId = `wm${tag}${(n++).toString(36).padStart(7, '0')}`;
    const { query, body } = signedAdd(externalUserId, randomBytes(33).toString('base64url').slice(0, 43));
    return { path: `/wecom/callback?${toQueryString(query)}`, body: Buffer.from(body) };
  };
}

/** Signs `pregen` callbacks up front; hands them out once each, signing more on demand (counted) if they run out. */
function callbackPool(tag: string, pregen: number) {
  const make = callbackFactory(tag);
  const ready = Array.from({ length: pregen }, make);
  let next = 0;
  let onTheFly = 0;
  return {
    take(): SignedCallback {
      if (next < ready.length) return ready[next++]!;
      onTheFly++;
      return make();
    },
    get onTheFly() {
      return onTheFly;
    },
  };
}

async function cannon(run: LoadRun, seconds: number, pool: ReturnType<typeof callbackPool>, onResponse?: (latencyMs: number) => void): Promise<autocannon.Result> {
  // Called without a callback, autocannon returns its instance, which is also a promise of the result.
  const instance = autocannon({
    url: `${run.url}/wecom/callback`,
    connections: run.connections,
    duration: seconds,
    ...(run.overallRate ? { overallRate: run.overallRate } : {}),
    timeout: 10,
    method: 'POST',
    headers: { 'content-type': 'text/xml' },
    requests: [
      {
        setupRequest: (req) => {
          const cb = pool.take();
          return { ...req, method: 'POST', path: cb.path, body: cb.body };
        },
      },
    ],
  }) as unknown as autocannon.Instance & PromiseLike<autocannon.Result>;
  if (onResponse) instance.on('response', (_client, _status, _bytes, latencyMs) => onResponse(latencyMs));
  return instance;
}

async function loadgen(): Promise<void> {
  process.on('message', (msg: LoadRun | { type: 'exit' }) => {
    if ('type' in msg) process.exit(0);
    void (async () => {
      try {
        const run = msg;
        if (run.warmupSeconds > 0) await cannon(run, run.warmupSeconds, callbackPool(`${run.tag}w`, 0));
        const pool = callbackPool(run.tag, run.pregen);
        const samples: number[] = [];
        const probe = new TailProbe();
        process.send?.({ type: 'started', id: run.id } satisfies LoadMessage);
        if (run.samples) probe.start();
        const r = await cannon(run, run.seconds, pool, run.samples ? (ms) => samples.push(performance.timeOrigin + performance.now(), ms) : undefined);
        const probed = run.samples ? probe.stop() : undefined;
        const statusCodes: Record<string, number> = {};
        for (const [code, v] of Object.entries(r.statusCodeStats ?? {})) statusCodes[code] = v.count ?? 0;
        const summary: LoadSummary = {
          reqPerSec: r.requests.average,
          p50: r.latency.p50,
          p90: r.latency.p90,
          p99: r.latency.p99,
          max: r.latency.max,
          total: r.requests.total,
          ok: r['2xx'],
          non2xx: r.non2xx,
          errors: r.errors,
          timeouts: r.timeouts,
          statusCodes,
          seconds: r.duration,
          signedOnTheFly: pool.onTheFly,
          ...(run.samples ? { samples, probe: probed } : {}),
        };
        process.send?.({ type: 'result', id: run.id, summary } satisfies LoadMessage);
      } catch (err) {
        process.send?.({ type: 'error', id: msg.id, message: (err as Error).stack ?? String(err) } satisfies LoadMessage);
      }
    })();
  });
  process.on('disconnect', () => process.exit(0));
}

// ------------------------------------------------------------------------------------------------ helpers

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '–');

/**
 * CPU used by other processes while we measure (this machine may be shared): busy time of the whole machine
 * minus that of this process, its direct children (load generator, database, workers) and redis-server, in
 * cores. Linux /proc only; NaN elsewhere.
 */
function cpuMeter(): () => number {
  const read = () => {
    try {
      const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
      const total = fields.reduce((a, b) => a + b, 0);
      const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
      let own = 0;
      for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
        try {
          const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
          const close = stat.lastIndexOf(')');
          const comm = stat.slice(stat.indexOf('(') + 1, close);
          const rest = stat.slice(close + 2).split(' ');
          const ppid = Number(rest[1]);
          if (Number(pid) === process.pid || ppid === process.pid || comm === 'redis-server') own += Number(rest[11]) + Number(rest[12]);
        } catch {
          // the process ended meanwhile
        }
      }
      return { total, busy: total - idle, own };
    } catch {
      return undefined;
    }
  };
  const start = read();
  return () => {
    const end = read();
    if (!start || !end || end.total === start.total) return NaN;
    const perCore = (end.total - start.total) / os.cpus().length;
    return Math.max(0, end.busy - start.busy - (end.own - start.own)) / perCore;
  };
}

/** Deletes every Redis key matching `pattern`. */

async function listen(app: Koa): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s)).on('error', reject);
  });
  server.requestTimeout = 5_000; // as the bot's receiver
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const ENCRYPT = /<Encrypt>(?:<!\[CDATA\[)?([^<\]]*)(?:\]\]>)?<\/Encrypt>/;

/** The floor: read the body, find <Encrypt>, verify the signature, decrypt, answer 200 empty. Nothing else. */
function baselineApp(): Koa {
  const app = new Koa();
  app.silent = true;
  const router = new Router();
  router.post('/wecom/callback', async (ctx) => {
    const raw = await getRawBody(ctx.req, { limit: 64 * 1024, encoding: 'utf8' });
    const encrypted = ENCRYPT.exec(raw)?.[1];
    const q = ctx.query;
    if (!encrypted || typeof q.msg_signature !== 'string' || typeof q.timestamp !== 'string' || typeof q.nonce !== 'string') {
      ctx.status = 400;
      return;
    }
    try {
      verifySignature(CREDS, { msg_signature: q.msg_signature, timestamp: q.timestamp, nonce: q.nonce }, encrypted, { maxSkewSeconds: 300, nowMs: Date.now() });
      decryptPayload(CREDS, encrypted);
    } catch (err) {
      if (!(err instanceof CallbackError)) throw err;
      ctx.status = err.status;
      return;
    }
    ctx.status = 200;
    ctx.body = '';
  });
  app.use(router.routes());
  return app;
}

// ------------------------------------------------------------------------------------------------ main

interface ThroughputRow {
  target: 'baseline' | 'full receiver';
  mode: 'max' | 'rate';
  round: number;
  connections: number;
  /** Fixed-rate runs: what the servers' process went through during the measured part. */
  server?: ProbeReport;
  s: LoadSummary;
  /** CPU (in cores) that other processes used during the run, warm-up included. */
  foreignCores: number;
}

interface BurstResult {
  limits: string;
  workers: number;
  posted: number;
  postNon2xx: number;
  postSeconds: number;
  postP99: number;
  sent: number;
  nameless: number;
  fromSent: number[];
  fromAnswered: number[];
  over20: number;
  deliveries: Record<string, number>;
  calls: Record<string, { n: number; errors: Record<string, number> }>;
  /** callbacks whose event job ran far enough to create the lead. */
  leads: number;
  lastWelcomeAfter: number;
  waitedSeconds: number;
  workerCrashes: string[];
  foreignCores: number;
}

/** Worker processes of a running burst, so an abort (signal, hard timeout) can end them too. */
const liveWorkers = new Set<ChildProcess>();

async function main(): Promise<void> {
  // Workers first, so nothing writes to Redis or the database while the rest is torn down.
  const run = new BenchRun(HARD_TIMEOUT_MS, () =>
    Promise.all(
      [...liveWorkers].map((c) => {
        const exited = new Promise((r) => c.once('exit', r));
        c.kill('SIGKILL');
        return Promise.race([exited, sleep(2000)]);
      }),
    ),
  );
  const { cleanups } = run;
  await run.run(async () => {
    const { name, redis } = run.redisScope('bench_webhook', REDIS_URL);
    const db = await run.database();
    const sandbox: Sandbox = await startSandbox({ corpId: CORP.corpId, secrets: [CORP.secret] });
    cleanups.push({ name: 'sandbox', fn: () => sandbox.close() });

    const env = corpEnv({ sandboxUrl: sandbox.url, mongoUri: withDatabase(db.uri, name), prefix: name, templatesDir: path.join(ROOT, 'templates'), role: 'web' }, { REDIS_URL });
    const config = loadConfig(env);
    const bot: Bot = await startBot(config, createLogger('silent'));
    cleanups.push({
      name: 'bot',
      fn: async () => {
        await mongoose.connection.db?.dropDatabase().catch(() => undefined);
        await bot.stop();
      },
    });
    const botUrl = bot.url;
    if (!botUrl) throw new Error('the web role did not listen');

    const baseline = await listen(baselineApp());
    cleanups.push({ name: 'baseline', fn: () => baseline.close() });

    const machine = await machineInfo(redis);
    log(`db ${db.label} at ${db.uri}; sandbox ${sandbox.url}; bot ${botUrl}; baseline ${baseline.url}; prefix ${name}`);

    // ---------------------------------------------------------------- throughput and latency
    const rows: ThroughputRow[] = [];
    if (process.env.BENCH_SKIP_THROUGHPUT !== '1') {
      const child = spawn(process.execPath, ['--import', 'tsx', THIS_FILE], {
        cwd: ROOT,
        env: { ...process.env, BENCH_WEBHOOK_LOADGEN: '1' },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      const childExited = new Promise<void>((r) => child.once('exit', () => r()));
      cleanups.push({
        name: 'load generator',
        fn: async () => {
          if (child.exitCode === null && child.signalCode === null) {
            child.kill('SIGTERM');
            await Promise.race([childExited, sleep(3000)]);
          }
        },
      });
      let runId = 0;
      /** Runs a load; `onStarted` when its measured part (after the warm-up) starts. */
      const load = (run: Omit<LoadRun, 'id'>, onStarted?: () => void) =>
        new Promise<LoadSummary>((resolve, reject) => {
          const id = ++runId;
          const onMsg = (m: LoadMessage) => {
            if (m.id !== id) return;
            if (m.type === 'started') {
              onStarted?.();
              return;
            }
            child.off('message', onMsg);
            child.off('exit', onExit);
            if (m.type === 'result') resolve(m.summary);
            else reject(new Error(`load generator: ${m.message}`));
          };
          const onExit = (code: number | null) => reject(new Error(`load generator exited (${code})`));
          child.on('message', onMsg);
          child.once('exit', onExit);
          child.send({ ...run, id });
        });

      const targets = [
        { target: 'baseline' as const, url: baseline.url },
        { target: 'full receiver' as const, url: botUrl },
      ];
      // Both parts alternate the two targets for ROUNDS rounds (A B A B …), so drift on a shared machine hits both
      // alike: first max throughput (the ratio is that of the means), then the fixed rate, each rate run probed.
      const plan = (['max', 'rate'] as const).flatMap((mode) =>
        Array.from({ length: ROUNDS }, (_, r) => targets.map((t) => ({ t, mode, round: r + 1 }))).flat(),
      );
      {
        for (const { t, mode, round } of plan) {
          const connections = mode === 'max' ? MAX_CONNECTIONS : RATE_CONNECTIONS;
          log(`round ${round}, ${t.target}: ${mode === 'max' ? `max throughput, ${connections} connections` : `${RATE} req/s, ${connections} connections`}, ${SECONDS} s (+${WARMUP_SECONDS} s warm-up)`);
          const foreign = cpuMeter();
          // The fixed-rate runs are probed in this process (GC, event loop, group commits, time inside the server)
          // and in the load generator (GC, event loop), from the start of the measured part.
          const probe = new TailProbe();
          let probing = false;
          const s = await load(
            {
              url: t.url,
              connections,
              seconds: SECONDS,
              warmupSeconds: WARMUP_SECONDS,
              ...(mode === 'rate' ? { overallRate: RATE, samples: true } : {}),
              pregen: mode === 'rate' ? Math.ceil(RATE * SECONDS * 1.1) : 12_000 * SECONDS,
              tag: `${t.target === 'baseline' ? 'b' : 'f'}${mode === 'max' ? 'm' : 'r'}${randomBytes(2).toString('hex')}`,
            },
            mode === 'rate'
              ? () => {
                  probe.start({ server: true, ...(t.target === 'full receiver' ? { inbox: bot.ctx.inbox } : {}) });
                  probing = true;
                }
              : undefined,
          );
          const server = probing ? probe.stop() : undefined;
          log(`  ${fmt(s.reqPerSec, 0)} req/s, p50 ${s.p50} ms, p99 ${s.p99} ms, max ${s.max} ms, non-2xx ${s.non2xx}, errors ${s.errors}`);
          rows.push({ target: t.target, mode, round, connections, s, foreignCores: foreign(), ...(server ? { server } : {}) });
          // No worker drains the inbox here (ROLE=web); in production workers keep it short. Each run starts with
          // it empty rather than behind a backlog of the previous runs' callbacks.
          await redis.del(new RedisKeys(name).inbox());
        }
      }
      child.send({ type: 'exit' });
      await Promise.race([childExited, sleep(3000)]);
    }

    // ---------------------------------------------------------------- welcome burst
    const bursts: BurstResult[] = [];
    if (process.env.BENCH_SKIP_BURST !== '1') {
      const { queues } = bot.ctx;
      for (const limits of BURST_LIMITS) {
        // Start clean: no throughput-run jobs, no leftovers of the previous burst, fresh rate-limit windows, and
        // no leads/timeline/deliveries of an earlier burst (FerretDB's cost per query grows with collection size).
        await Promise.all([queues.get('events'), queues.get('welcome'), queues.get('contact-sync')].map((q) => q.obliterate({ force: true })));
        // The throughput runs' callbacks wait in the inbox (no worker ran): drop them, and the consumer group.
        await redis.del(new RedisKeys(name).inbox());
        await deleteMatching(redis, `${name}:wecom:rl:*`);
        await Promise.all([Lead.deleteMany({}), Timeline.deleteMany({}), Delivery.deleteMany({})]);
        bursts.push(await welcomeBurst({ bot, sandbox, env, limits, redis }));
      }
    }

    // ---------------------------------------------------------------- API model of the burst (no database)
    const models: ModelResult[] = [];
    if (process.env.BENCH_SKIP_MODEL !== '1') {
      for (const limits of MODEL_LIMITS) {
        await deleteMatching(redis, `${name}:model:wecom:rl:*`);
        models.push(await apiModel({ sandbox, redis, env, prefix: `${name}:model`, limits }));
      }
    }

    // ---------------------------------------------------------------- report
    console.log(report(machine, db.label, rows, bursts, models));
  });
}

async function welcomeBurst(o: { bot: Bot; sandbox: Sandbox; env: Record<string, string>; limits: string; redis: Redis }): Promise<BurstResult> {
  const { bot, sandbox, limits } = o;
  const label = limits || 'client default (9,500/min, 140,000/h per API)';
  log(`welcome burst: ${BURST} contacts, ${WORKERS} worker process(es), WECOM_RATE_LIMITS=${limits || '(unset)'}`);

  // Workers: the same env as the receiver, ROLE=worker, each in its own process.
  const workerEnv = { ...process.env, ...o.env, ROLE: 'worker', WECOM_RATE_LIMITS: limits };
  const crashes: string[] = [];
  const children: ChildProcess[] = [];
  let stopping = false;
  for (let i = 0; i < WORKERS; i++) {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/app/main.ts'], { cwd: ROOT, env: workerEnv, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-2000)));
    child.once('exit', (code, signal) => {
      if (!stopping) crashes.push(`worker ${i} exited (${code ?? signal}): ${stderr.trim()}`);
    });
    children.push(child);
    liveWorkers.add(child);
    child.once('exit', () => liveWorkers.delete(child));
  }
  const stopWorkers = async () => {
    stopping = true;
    await Promise.all(
      children.map(async (c) => {
        if (c.exitCode !== null || c.signalCode !== null) return;
        const exited = new Promise((r) => c.once('exit', r));
        c.kill('SIGTERM');
        await Promise.race([exited, sleep(5000)]);
        if (c.exitCode === null && c.signalCode === null) {
          c.kill('SIGKILL');
          await Promise.race([exited, sleep(2000)]);
        }
      }),
    );
  };

  try {
    // Ready when every worker process has a worker on each of the three queues.
    const { queues } = bot.ctx;
    const readyBy = Date.now() + 30_000;
    for (;;) {
      const counts = await Promise.all([queues.get('events'), queues.get('welcome'), queues.get('contact-sync')].map((q) => q.getWorkersCount()));
      if (counts.every((n) => n >= WORKERS)) break;
      if (crashes.length) throw new Error(crashes.join('\n'));
      if (Date.now() > readyBy) throw new Error(`workers not ready after 30 s (${counts.join('/')})`);
      await sleep(100);
    }

    const callsFrom = sandbox.state.calls.length;
    const welcomesFrom = sandbox.state.welcome.sent.length;
    const url = `${bot.url}/wecom/callback`;
    type Posted = { sentAt: number; answeredAt: number; status: number };
    const posted = new Map<string, Posted>();
    let next = 0;
    const postStart = Date.now();
    const foreign = cpuMeter();
    await Promise.all(
      Array.from({ length: POST_CONCURRENCY }, async () => {
        while (next < BURST) {
          const i = next++;
          // The customer adds us now: the sandbox issues the WelcomeCode (its 20 s starts here), WeCom calls back.
          const { externalUserId, welcomeCode } = sandbox.state.contacts.addCustomer({ name: `客户${i}`, userId: OWNER, state: CHANNEL });
          const { query, body } = signedAdd(externalUserId, welcomeCode);
          const sentAt = Date.now();
          let status = -1;
          try {
            const res = await fetch(`${url}?${toQueryString(query)}`, { method: 'POST', body, headers: { 'content-type': 'text/xml' } });
            status = res.status;
            await res.arrayBuffer();
          } catch {
            // counted as a non-2xx below
          }
          posted.set(externalUserId, { sentAt, answeredAt: Date.now(), status });
        }
      }),
    );
    const postEnd = Date.now();
    const lastSent = Math.max(...[...posted.values()].map((p) => p.sentAt));
    log(`  ${BURST} callbacks posted in ${fmt((postEnd - postStart) / 1000, 2)} s; waiting for welcomes`);

    // Wait for every welcome, or until none can come any more (every code is past 20 s), capped at 60 s.
    const waitUntil = Math.min(postEnd + BURST_WAIT_CAP_MS, lastSent + WELCOME_TTL_MS + 1_500);
    const ours = () => sandbox.state.welcome.sent.slice(welcomesFrom).filter((w) => posted.has(w.externalUserId));
    let lastLog = Date.now();
    while (Date.now() < waitUntil) {
      const n = ours().length;
      if (n >= BURST) break;
      if (Date.now() - lastLog >= 5_000) {
        log(`  … ${n} welcomes after ${fmt((Date.now() - postStart) / 1000, 0)} s`);
        lastLog = Date.now();
      }
      if (crashes.length) throw new Error(crashes.join('\n'));
      await sleep(100);
    }
    const waitedSeconds = (Date.now() - postEnd) / 1000;
    const foreignCores = foreign();

    const welcomes = ours();
    const fromSent = welcomes.map((w) => w.at - posted.get(w.externalUserId)!.sentAt).sort((a, b) => a - b);
    const fromAnswered = welcomes.map((w) => w.at - posted.get(w.externalUserId)!.answeredAt).sort((a, b) => a - b);
    const calls: Record<string, { n: number; errors: Record<string, number> }> = {};
    for (const c of sandbox.state.calls.slice(callsFrom)) {
      const e = (calls[c.api] ??= { n: 0, errors: {} });
      e.n++;
      if (c.errcode !== 0) e.errors[String(c.errcode)] = (e.errors[String(c.errcode)] ?? 0) + 1;
    }
    const leads = await Lead.countDocuments({ externalUserId: { $in: [...posted.keys()] } });
    const deliveries: Record<string, number> = {};
    const agg = await Delivery.aggregate<{ _id: string; n: number }>([
      { $match: { kind: 'welcome', externalUserId: { $in: [...posted.keys()] } } },
      { $group: { _id: '$status', n: { $sum: 1 } } },
    ]);
    let recorded = 0;
    for (const a of agg) {
      deliveries[a._id] = a.n;
      recorded += a.n;
    }
    if (recorded < BURST) deliveries['no record yet'] = BURST - recorded;
    const postLatencies = [...posted.values()].map((p) => p.answeredAt - p.sentAt).sort((a, b) => a - b);
    const result: BurstResult = {
      limits: label,
      workers: WORKERS,
      posted: posted.size,
      postNon2xx: [...posted.values()].filter((p) => p.status < 200 || p.status > 299).length,
      postSeconds: (postEnd - postStart) / 1000,
      postP99: percentile(postLatencies, 99),
      sent: welcomes.length,
      // The template is "{{name}}您好，…": a welcome starting with 您好 went out without the customer's name.
      nameless: welcomes.filter((w) => w.text?.startsWith('您好')).length,
      fromSent,
      fromAnswered,
      over20: BURST - fromSent.filter((ms) => ms <= WELCOME_TTL_MS).length,
      deliveries,
      calls,
      leads,
      lastWelcomeAfter: welcomes.length ? (Math.max(...welcomes.map((w) => w.at)) - postStart) / 1000 : NaN,
      waitedSeconds,
      workerCrashes: crashes,
      foreignCores,
    };
    log(`  ${result.sent}/${BURST} welcomes; p99 ${fmt(percentile(fromSent, 99) / 1000, 2)} s; deliveries ${JSON.stringify(deliveries)}`);
    return result;
  } finally {
    await stopWorkers();
  }
}

interface ModelResult {
  limits: string;
  sent: number;
  latencies: number[];
  expiredBeforeSend: number;
  /** the longest name lookup (ms): its budget is at most 2,000 ms. */
  lookupMaxMs: number;
  lookupsOverBudget: number;
  sendErrors: Record<string, number>;
  nameless: number;
  gets: number;
  sends: number;
  lastWelcomeAfter: number;
  foreignCores: number;
}

/**
 * The burst's WeCom traffic without the database: per contact, what jobs/send-welcome.ts does (name lookup
 * with retries 0 and a min(2 s, remaining − 1 s) budget, skipped under 200 ms; the window checked again, then
 * send_welcome_msg with timeout min(5 s, remaining)) and what jobs/sync-contact.ts does (mark_tag, then
 * externalcontact/get with the client's default retries), with the welcome and contact-sync concurrency of BENCH_WORKERS worker
 * processes (one WecomClient each, sharing the Redis rate limiter and token cache as the real processes do).
 * Every contact arrives at t0; its deadline is t0 + 19 s as the add handler sets it.
 */
async function apiModel(o: { sandbox: Sandbox; redis: Redis; env: Record<string, string>; prefix: string; limits: string }): Promise<ModelResult> {
  const { sandbox, limits } = o;
  const label = limits || 'client default (9,500/min, 140,000/h per API)';
  log(`API model: ${BURST} contacts, concurrency of ${WORKERS} worker process(es), WECOM_RATE_LIMITS=${limits || '(unset)'}`);
  const config = loadConfig({ ...o.env, WECOM_RATE_LIMITS: limits });
  const clients = Array.from(
    { length: WORKERS },
    () =>
      new WecomClient({
        baseUrl: sandbox.url,
        corpId: CORP.corpId,
        secret: CORP.secret,
        agentId: Number(CORP.agentId),
        redis: o.redis,
        keys: new RedisKeys(o.prefix),
        logger: createLogger('silent'),
        timeoutMs: config.WECOM_API_TIMEOUT_MS,
        rateLimits: config.WECOM_RATE_LIMITS,
      }),
  );
  // A corp tag to mark (set up before the clock starts; the real TagResolver caches ids the same way).
  const tagList = await clients[0]!.getCorpTagList();
  const tagId =
    tagList.tag_group.flatMap((g) => g.tag)[0]?.id ?? (await clients[0]!.addCorpTag({ group_name: '渠道', tag: [{ name: '2026工业展' }] })).tag_group.tag[0]!.id;

  const callsFrom = sandbox.state.calls.length;
  const welcomesFrom = sandbox.state.welcome.sent.length;
  const t0 = Date.now();
  const foreign = cpuMeter();
  const contacts = Array.from({ length: BURST }, (_, i) => sandbox.state.contacts.addCustomer({ name: `模型${i}`, userId: OWNER, state: CHANNEL }));
  const ids = new Set(contacts.map((c) => c.externalUserId));
  const deadline = t0 + WELCOME_TTL_MS - 1_000;
  const remaining = () => deadline - Date.now();
  let expiredBeforeSend = 0;
  let lookupMaxMs = 0;
  let lookupsOverBudget = 0;
  const sendErrors: Record<string, number> = {};
  const pool = async (concurrency: number, work: (i: number) => Promise<void>, stopAt: number) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < BURST && Date.now() < stopAt) await work(next++);
      }),
    );
  };
  const welcome = async (i: number) => {
    const c = contacts[i]!;
    const client = clients[i % WORKERS]!;
    if (remaining() <= 0) {
      expiredBeforeSend++;
      return;
    }
    let name = '';
    const budget = Math.min(2_000, remaining() - 1_000);
    if (budget >= 200) {
      const started = Date.now();
      try {
        name = (await client.getExternalContact(c.externalUserId, { retries: 0, timeoutMs: budget })).external_contact.name ?? '';
      } catch {
        // welcome without a name, as the job does
      }
      const took = Date.now() - started;
      lookupMaxMs = Math.max(lookupMaxMs, took);
      if (took > budget + 100) lookupsOverBudget++;
    }
    if (remaining() <= 200) {
      expiredBeforeSend++;
      return;
    }
    try {
      await client.sendWelcomeMsg({ welcome_code: c.welcomeCode, text: { content: `${name}您好，感谢在2026 工业展与我们交流！` } }, { timeoutMs: Math.min(5_000, remaining()) });
    } catch (err) {
      const code = String((err as { errcode?: unknown }).errcode ?? (err as Error).name);
      sendErrors[code] = (sendErrors[code] ?? 0) + 1;
    }
  };
  const sync = async (i: number) => {
    const c = contacts[i]!;
    const client = clients[i % WORKERS]!;
    await client.markTag({ userid: OWNER, external_userid: c.externalUserId, add_tag: [tagId] }).catch(() => undefined);
    await client.getExternalContact(c.externalUserId).catch(() => undefined);
  };
  // Sync jobs compete for the same externalcontact/get quota; they stop being started once no code can be used.
  const codesDead = t0 + WELCOME_TTL_MS + 500;
  await Promise.all([pool(WORKERS * 64, welcome, Infinity), pool(WORKERS * 32, sync, codesDead)]);

  const welcomes = sandbox.state.welcome.sent.slice(welcomesFrom).filter((w) => ids.has(w.externalUserId));
  const calls = sandbox.state.calls.slice(callsFrom);
  const result: ModelResult = {
    limits: label,
    sent: welcomes.length,
    latencies: welcomes.map((w) => w.at - t0).sort((a, b) => a - b),
    expiredBeforeSend,
    lookupMaxMs,
    lookupsOverBudget,
    sendErrors,
    nameless: welcomes.filter((w) => w.text?.startsWith('您好')).length,
    gets: calls.filter((c) => c.api === 'externalcontact/get').length,
    sends: calls.filter((c) => c.api === 'externalcontact/send_welcome_msg').length,
    lastWelcomeAfter: welcomes.length ? (Math.max(...welcomes.map((w) => w.at)) - t0) / 1000 : NaN,
    foreignCores: foreign(),
  };
  log(`  ${result.sent}/${BURST} welcomes within 20 s; p99 ${fmt(percentile(result.latencies, 99) / 1000, 2)} s; send errors ${JSON.stringify(sendErrors)}`);
  return result;
}

// ------------------------------------------------------------------------------------------------ the tail at a fixed rate

/** One fixed-rate run's requests, as the load generator saw them, inside the probed window. */
function requestsOf(r: ThroughputRow): { spans: Span[]; latencies: number[] } {
  const s = r.s.samples ?? [];
  const from = r.server!.from;
  const to = r.server!.to;
  const spans: Span[] = [];
  const latencies: number[] = [];
  for (let i = 0; i + 1 < s.length; i += 2) {
    const end = s[i]!;
    const ms = s[i + 1]!;
    if (end - ms < from || end > to) continue;
    spans.push([end - ms, end]);
    latencies.push(ms);
  }
  return { spans, latencies };
}

/** How many requests were in flight (from the load generator's side) when each request was sent, itself included. */
function inFlightAtSend(spans: Span[]): number[] {
  const edges = spans.flatMap(([s, e], i) => [
    [s, 1, i],
    [e, -1, i],
  ]);
  edges.sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!);
  const out = new Array<number>(spans.length).fill(0);
  let n = 0;
  for (const [, d, i] of edges) {
    n += d!;
    if (d === 1) out[i!] = n;
  }
  return out;
}

/** The share of the stalls' time the process spent on a CPU (its own threads' CPU time over the stalls' length). */
function onCpu(stalls: ProbeReport['stalls']): string {
  const wall = stalls.reduce((a, x) => a + x.span[1] - x.span[0], 0);
  return wall ? `${fmt((stalls.reduce((a, x) => a + x.cpuMs, 0) / wall) * 100, 0)} %` : '–';
}

/** What happened during the runs that could hold a request up, as spans. */
function causesOf(r: ThroughputRow): Array<{ cause: string; spans: Span[] }> {
  const p = r.server!;
  const g = r.s.probe;
  const stalls = p.stalls.map((x) => x.span);
  const slowWrites = p.batches.filter((b) => b.writeMs >= 5).map((b): Span => [b.endedAt - b.writeMs, b.endedAt]);
  return [
    { cause: 'GC pause, servers\' process (any)', spans: p.gc.map((x) => x.span) },
    { cause: 'GC pause ≥ 2 ms, servers\' process', spans: p.gc.filter((x) => x.span[1] - x.span[0] >= 2).map((x) => x.span) },
    { cause: `event-loop stall ≥ ${STALL_MS} ms, servers' process`, spans: p.stalls.map((x) => x.span) },
    { cause: '… of which the process was on a CPU at least half the time (its own work)', spans: p.stalls.filter((x) => x.cpuMs >= (x.span[1] - x.span[0]) / 2).map((x) => x.span) },
    { cause: '… of which it was off the CPU over half the time (waiting for a core)', spans: p.stalls.filter((x) => x.cpuMs < (x.span[1] - x.span[0]) / 2).map((x) => x.span) },
    { cause: 'group commit: XADD took ≥ 5 ms', spans: slowWrites },
    // The XADD is timed on the event loop, so a stall makes it look slow too: these ones had no stall to blame.
    { cause: '… of which no stall of the servers\' process overlapped it (Redis or the network was slow)', spans: slowWrites.filter((w) => overlapping([w], stalls) === 0) },
    { cause: 'group commit: first callback waited ≥ 5 ms for its flush', spans: p.batches.filter((b) => b.waitMs >= 5).map((b): Span => [b.endedAt - b.writeMs - b.waitMs, b.endedAt - b.writeMs]) },
    { cause: 'GC pause ≥ 2 ms, load generator', spans: (g?.gc ?? []).filter((x) => x.span[1] - x.span[0] >= 2).map((x) => x.span) },
    { cause: `event-loop stall ≥ ${STALL_MS} ms, load generator`, spans: (g?.stalls ?? []).map((x) => x.span) },
  ];
}

/**
 * Per fixed-rate run: what the servers' process and the load generator went through (event-loop delay, GC, group
 * commits, time inside the server); then, per target over its rounds, which of those coincide with the tail: the
 * share of the tail requests (latency ≥ that run's p99) that overlap one, against the share of all requests.
 */
function tailReport(rate: ThroughputRow[]): string[] {
  if (!rate.length) return [];
  const out: string[] = [];
  const ms = (x: number) => fmt(x, 1);
  out.push(`#### Fixed rate: what the processes went through (measured part of each ${RATE} req/s run)`, '');
  out.push(
    '| round | target | p99 ms (load generator) | time inside the server p50 / p99 / max ms | event-loop delay p50 / p99 / max ms | stalls ≥ 5 ms (longest ms; share of their time the process was on a CPU) | GC pauses: n, total ms, longest ms (mark-sweep n) | group commits: n, callbacks per batch mean / max, wait p99 ms, XADD p50 / p99 / max ms | load generator: event-loop delay p99 / max ms, GC longest ms, stalls ≥ 5 ms | other work (cores) |',
  );
  out.push('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rate) {
    const p = r.server!;
    const g = r.s.probe;
    const server = p.server.map(([a, b]) => b - a).sort((a, b) => a - b);
    const gcMs = p.gc.map((x) => x.span[1] - x.span[0]);
    const writes = p.batches.map((b) => b.writeMs).sort((a, b) => a - b);
    const waits = p.batches.map((b) => b.waitMs).sort((a, b) => a - b);
    const sizes = p.batches.map((b) => b.size);
    const batches = p.batches.length
      ? `${p.batches.length}, ${fmt(sizes.reduce((a, b) => a + b, 0) / sizes.length, 1)} / ${Math.max(...sizes)}, ${ms(pct(waits, 99))}, ${ms(pct(writes, 50))} / ${ms(pct(writes, 99))} / ${ms(writes.at(-1)!)}`
      : '—';
    const lg = g ? `${ms(g.loopDelay.p99)} / ${ms(g.loopDelay.max)}, ${ms(Math.max(0, ...g.gc.map((x) => x.span[1] - x.span[0])))}, ${g.stalls.length} (on a CPU ${onCpu(g.stalls)})` : '—';
    out.push(
      `| ${r.round} | ${r.target} | ${r.s.p99} | ${ms(pct(server, 50))} / ${ms(pct(server, 99))} / ${ms(server.at(-1) ?? NaN)} | ${ms(p.loopDelay.p50)} / ${ms(p.loopDelay.p99)} / ${ms(p.loopDelay.max)} | ${p.stalls.length} (${ms(Math.max(0, ...p.stalls.map((x) => x.span[1] - x.span[0])))}; on a CPU ${onCpu(p.stalls)}) | ${p.gc.length}, ${ms(gcMs.reduce((a, b) => a + b, 0))}, ${ms(Math.max(0, ...gcMs))} (${p.gc.filter((x) => x.kind === 'mark-sweep').length}) | ${batches} | ${lg} | ${fmt(r.foreignCores, 2)} |`,
    );
  }
  out.push('');
  for (const target of ['full receiver', 'baseline'] as const) {
    const runs = rate.filter((r) => r.target === target);
    if (!runs.length) continue;
    const tally = new Map<string, { events: number; tail: number; all: number }>();
    let tailN = 0;
    let allN = 0;
    let tailNone = 0;
    let allNone = 0;
    const flightTail: number[] = [];
    const flightAll: number[] = [];
    for (const r of runs) {
      const { spans, latencies } = requestsOf(r);
      const cut = pct([...latencies].sort((a, b) => a - b), 99);
      const tail = spans.filter((_, i) => latencies[i]! >= cut);
      const flight = inFlightAtSend(spans);
      flight.forEach((n, i) => (latencies[i]! >= cut ? flightTail : flightAll).push(n));
      tailN += tail.length;
      allN += spans.length;
      const causes = causesOf(r);
      for (const c of causes) {
        const t = tally.get(c.cause) ?? { events: 0, tail: 0, all: 0 };
        t.events += c.spans.length;
        t.tail += overlapping(tail, c.spans);
        t.all += overlapping(spans, c.spans);
        tally.set(c.cause, t);
      }
      const any = causes.filter((c) => !c.cause.includes('(any)')).flatMap((c) => c.spans);
      tailNone += tail.length - overlapping(tail, any);
      allNone += spans.length - overlapping(spans, any);
    }
    flightAll.push(...flightTail);
    const share = (n: number, of: number) => (of ? `${fmt((n / of) * 100, 1)} %` : '–');
    out.push(
      `#### What coincides with the tail: ${target}, ${runs.length} round(s), ${tailN.toLocaleString('en-US')} tail requests (latency ≥ the run's p99) of ${allN.toLocaleString('en-US')}`,
      '',
      '| during the request | events | tail requests overlapping one | all requests overlapping one | tail / all |',
      '|---|---:|---:|---:|---:|',
    );
    const coincide: string[] = [];
    for (const [cause, t] of tally) {
      const lift = allN && t.all ? t.tail / tailN / (t.all / allN) : NaN;
      if (tailN && t.tail / tailN >= 0.3 && lift >= 2) coincide.push(`${cause} (${share(t.tail, tailN)} of the tail, ${share(t.all, allN)} of all)`);
      out.push(`| ${cause} | ${t.events.toLocaleString('en-US')} | ${share(t.tail, tailN)} | ${share(t.all, allN)} | ${fmt(lift, 1)} |`);
    }
    out.push(`| none of the above (bar "any GC") | — | ${share(tailNone, tailN)} | ${share(allNone, allN)} | ${fmt(allNone ? tailNone / tailN / (allNone / allN) : NaN, 1)} |`, '');
    const meanOf = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    out.push(
      `- Requests in flight (load generator's side, itself included) when a request was sent: tail ${fmt(meanOf(flightTail), 1)} on average, all ${fmt(meanOf(flightAll), 1)} (max ${RATE_CONNECTIONS}: autocannon sends each connection's share of a second back to back, then waits).`,
      `- Coincides with the tail (≥ 30 % of the tail requests overlap it, at least twice as often as requests in general): ${coincide.length ? coincide.join('; ') : 'none of the measured causes'}.`,
      '',
    );
  }
  return out;
}

function report(
  machine: { cpus: number; model: string; node: string; mem: string; redis: string },
  dbKind: string,
  rows: ThroughputRow[],
  bursts: BurstResult[],
  models: ModelResult[],
): string {
  const out: string[] = [];
  out.push(`## Webhook benchmark — ${new Date().toISOString()}`, '');
  out.push(`Machine: ${machine.cpus} CPU (${machine.model}), ${machine.mem} RAM, Node ${machine.node}, Redis ${machine.redis}, database ${dbKind}.`, '');
  if (rows.length) {
    out.push(`### Receiver throughput and latency (${SECONDS} s per run after a ${WARMUP_SECONDS} s warm-up; every request a distinct signed callback; the two targets alternate)`, '');
    out.push('| round | target | load | req/s | p50 ms | p90 ms | p99 ms | max ms | 2xx | non-2xx | errors | other work on the machine (cores) |');
    out.push('|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of rows) {
      const load = r.mode === 'max' ? `max, ${r.connections} conns` : `${RATE} req/s, ${r.connections} conns`;
      out.push(`| ${r.round} | ${r.target} | ${load} | ${fmt(r.s.reqPerSec, 0)} | ${r.s.p50} | ${r.s.p90} | ${r.s.p99} | ${r.s.max} | ${r.s.ok} | ${r.s.non2xx} | ${r.s.errors} | ${fmt(r.foreignCores, 2)} |`);
    }
    const maxOf = (t: ThroughputRow['target']) => rows.filter((r) => r.target === t && r.mode === 'max').map((r) => r.s.reqPerSec);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const [bMax, fMax] = [maxOf('baseline'), maxOf('full receiver')];
    out.push('');
    if (bMax.length && fMax.length) {
      const ratio = mean(fMax) / mean(bMax);
      const perRound = fMax.map((f, i) => (f / bMax[i]!) * 100);
      out.push(
        `- Throughput full/baseline: **${fmt(ratio * 100, 0)}%** (mean of ${fMax.length} alternating rounds: ${fmt(mean(fMax), 0)} vs ${fmt(mean(bMax), 0)} req/s; per round ${perRound.map((x) => `${fmt(x, 0)}%`).join(', ')}; spread ${fmt(Math.min(...perRound), 0)}–${fmt(Math.max(...perRound), 0)}%) (target ≥ 70%: ${ratio >= 0.7 ? 'met' : 'MISSED'}).`,
      );
    }
    for (const target of ['full receiver', 'baseline'] as const) {
      const rate = rows.filter((r) => r.target === target && r.mode === 'rate');
      if (!rate.length) continue;
      const p99s = rate.map((r) => r.s.p99);
      const sorted = [...p99s].sort((a, b) => a - b);
      const median = sorted.length % 2 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
      const clean = (r: ThroughputRow) => r.s.non2xx === 0 && r.s.errors === 0;
      const met = rate.filter((r) => r.s.p99 < 25 && clean(r)).length;
      out.push(
        `- ${target === 'full receiver' ? 'Full receiver' : 'Baseline'} p99 at ${RATE} req/s: **median ${fmt(median, 0)} ms** over ${rate.length} round${rate.length === 1 ? '' : 's'} (per round ${p99s.join(', ')} ms; spread ${sorted[0]}–${sorted.at(-1)} ms; p50 ${rate.map((r) => r.s.p50).join(', ')} ms; max ${rate.map((r) => r.s.max).join(', ')} ms)${target === 'full receiver' ? ` (target < 25 ms: met in ${met} of ${rate.length}${rate.every(clean) ? '' : ', counting only rounds with no failures'})` : ''}.`,
      );
    }
    const onTheFly = rows.reduce((n, r) => n + r.s.signedOnTheFly, 0);
    if (onTheFly) out.push(`- ${onTheFly} callbacks had to be signed during a run (pre-generated pool ran out); the load generator did that work, not the servers.`);
    const codes = rows.filter((r) => r.s.non2xx).map((r) => `${r.target}/${r.mode}/round ${r.round}: ${JSON.stringify(r.s.statusCodes)}`);
    if (codes.length) out.push(`- Status codes of runs with non-2xx answers: ${codes.join('; ')}.`);
    out.push('');
    out.push(...tailReport(rows.filter((r) => r.mode === 'rate' && r.server && r.s.samples)));
  }
  if (bursts.length) {
    out.push(`### Welcome burst (${BURST} new contacts of channel ${CHANNEL}, ${bursts[0]!.workers} worker processes, latency = sandbox accepted send_welcome_msg − callback POST sent)`, '');
    out.push('| WECOM_RATE_LIMITS | welcomes sent | p50 s | p95 s | p99 s | max s | not welcomed ≤ 20 s | events handled (lead created) | callbacks posted in | callback POST p99 | externalcontact/get | send_welcome_msg | mark_tag |');
    out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const b of bursts) {
      const s = (ms: number) => fmt(ms / 1000, 2);
      const c = (api: string) => {
        const e = b.calls[`externalcontact/${api}`];
        const errors = e ? Object.values(e.errors).reduce((x, y) => x + y, 0) : 0;
        return e ? `${e.n}${errors ? ` (${errors} err)` : ''}` : '0';
      };
      out.push(
        `| ${b.limits} | ${b.sent} / ${BURST} | ${s(percentile(b.fromSent, 50))} | ${s(percentile(b.fromSent, 95))} | ${s(percentile(b.fromSent, 99))} | ${s(b.fromSent.at(-1) ?? NaN)} | ${b.over20} | ${b.leads} | ${fmt(b.postSeconds, 2)} s | ${b.postP99} ms | ${c('get')} | ${c('send_welcome_msg')} | ${c('mark_tag')} |`,
      );
    }
    out.push('');
    for (const b of bursts) {
      const other = Object.entries(b.calls)
        .filter(([api]) => !['externalcontact/get', 'externalcontact/send_welcome_msg', 'externalcontact/mark_tag'].includes(api))
        .map(([api, e]) => `${api} ${e.n}`)
        .join(', ');
      const errors = Object.entries(b.calls)
        .filter(([, e]) => Object.keys(e.errors).length)
        .map(([api, e]) => `${api} ${JSON.stringify(e.errors)}`)
        .join(', ');
      out.push(
        `- ${b.limits}: welcome delivery records ${JSON.stringify(b.deliveries)}; ${b.nameless} welcomes went out without the name; last welcome ${fmt(b.lastWelcomeAfter, 1)} s after the first POST; latency measured from the POST's answer instead: p50 ${fmt(percentile(b.fromAnswered, 50) / 1000, 2)} s, p99 ${fmt(percentile(b.fromAnswered, 99) / 1000, 2)} s; callback POST non-2xx ${b.postNon2xx}; API errors (errcode: count): ${errors || 'none'}; other API calls: ${other || 'none'}; waited ${fmt(b.waitedSeconds, 1)} s after the last POST; other work on the machine: ${fmt(b.foreignCores, 2)} cores${b.workerCrashes.length ? `; WORKER CRASHES: ${b.workerCrashes.join(' | ')}` : ''}.`,
      );
    }
    out.push('');
  }
  if (models.length) {
    out.push(`### API model of the burst (no database; the jobs' WeCom calls through the real WecomClient + RateLimiter; ${WORKERS} processes' concurrency; all ${BURST} contacts arrive at t0; latency = welcome accepted − t0)`, '');
    out.push('| WECOM_RATE_LIMITS | welcomes sent | p50 s | p95 s | p99 s | max s | not welcomed ≤ 20 s | sent without name | skipped (deadline passed) | send errors | name lookups over budget (max ms) | externalcontact/get | send_welcome_msg | other work (cores) |');
    out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|');
    for (const m of models) {
      const s = (ms: number) => fmt(ms / 1000, 2);
      out.push(
        `| ${m.limits} | ${m.sent} / ${BURST} | ${s(percentile(m.latencies, 50))} | ${s(percentile(m.latencies, 95))} | ${s(percentile(m.latencies, 99))} | ${s(m.latencies.at(-1) ?? NaN)} | ${BURST - m.sent} | ${m.nameless} | ${m.expiredBeforeSend} | ${Object.keys(m.sendErrors).length ? JSON.stringify(m.sendErrors) : 'none'} | ${m.lookupsOverBudget} (${m.lookupMaxMs}) | ${m.gets} | ${m.sends} | ${fmt(m.foreignCores, 2)} |`,
      );
    }
    out.push('');
  }
  return out.join('\n');
}

if (process.env.BENCH_WEBHOOK_LOADGEN === '1') void loadgen();
else void main();
