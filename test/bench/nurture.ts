/**
 * `npm run bench:nurture`: how fast the nurture engine schedules and dispatches, and what a pending step costs in
 * Redis. Everything runs on 127.0.0.1, in this process (plus the database server), under a unique Redis prefix and
 * unique databases, and ends in a few minutes.
 *
 *  1. Enrollment throughput: BENCH_LEADS (100,000) leads are seeded in MongoDB (setup, not timed; _id = leadId()), then
 *     `enrollMany(ctx, leads, 'bench4')` (4 steps, 1 d apart: every first step stays a pending delayed job) is timed.
 *     With BENCH_ENROLL_BUDGET_S > 0 (default 0: one call for all), enrollMany is called on consecutive slices of
 *     1,000 leads (its own batch size, same `at`: the same work as one call) and the run stops at that budget. The MongoDB command
 *     time inside the timed run is split by command (driver command monitoring) to show where it goes.
 *  2. Raw baseline: BullMQ `Queue.addBulk` of BENCH_LEADS delayed jobs of the same shape (name 'step',
 *     data {e, s: 0}, jobId jobIds.nurtureStep(e, 0), delay 1 d) on a separate prefix, 1,000 per call.
 *  3. Redis memory per pending step: INFO used_memory before/after (1) and (2), divided by the jobs created; and,
 *     immune to other Redis users, the sum of MEMORY USAGE over our own keys (job hashes, delayed zset, events stream).
 *  4. Dispatch against a same-run baseline, BENCH_ROUNDS (3) rounds alternating baseline / bot, each on a fresh
 *     database seeded alike: N = BENCH_ROUND_LEADS (R × BENCH_DISPATCH_SECONDS) customers in the sandbox and leads in
 *     MongoDB, enrolled (enrollMany) in 'bench4now' (first step after 1 s, then 1 d) before anything runs.
 *     - Baseline: CONCURRENCY runners (the bot's NURTURE_CONCURRENCY) do the least an exactly-once step must do,
 *       enrollment after enrollment: read the lead by _id, insert the attempt fence, update the enrollment by _id.
 *     - Bot: the real workers (src/app/workers.ts startWorkers, what startBot runs with ROLE=worker/all) in this
 *       process, with an add_msg_template limit too high to bind (the sandbox has none), so what is measured is the
 *       step, not the limit.
 *     Each runs until all N are done or BENCH_ROUND_CAP_S (30 s). Steady rate: completions (baseline) or ok
 *     add_msg_template calls (bot) in the whole 1-second windows of the middle 80 % of the run. Reported: the bot's
 *     rate as a share of the baseline's (ratio of the means, each round's ratio, the spread), and this process's CPU
 *     per step. The timed rounds run without instruments; then a counting round (BENCH_COUNT_LEADS of each) counts
 *     every MongoDB command for the job run (or baseline step) whose async context sent it: commands per step, by name.
 *  5. Dispatch under a WeCom rate limit: the sandbox WeCom answers 45009 above R add_msg_template calls per second;
 *     the bot gets WECOM_RATE_LIMITS=externalcontact/add_msg_template=R/s, NURTURE_DAILY_CAP=0 and the real workers.
 *     N = R × 30 leads, set up as in 4. A run stops BENCH_DISPATCH_CAP_S (45 s) after the workers start. Run at
 *     R = BENCH_RATE (100) and at a lower R (BENCH_RATE_LOW, default: 80 % of the least the bot reached, in 4 or at R),
 *     each on a fresh database, prefix and sandbox. After a capped run at R, 30 of the remaining steps run one at a
 *     time (the cost of a step without queueing).
 *
 * Targets are reported, never asserted: the exit code is non-zero only when the harness itself fails.
 *
 * Database: BENCH_DB=sqlite (default) or postgresql (FerretDB over a fresh database on BENCH_PG_URL,
 * postgres://postgres@127.0.0.1:5432, dropped after); MONGODB_URI, when set, wins (test/bench/harness.ts).
 * Knobs (env): BENCH_LEADS, BENCH_ENROLL_BUDGET_S, BENCH_RATE, BENCH_RATE_LOW, BENCH_DISPATCH_SECONDS (30: N = R ×
 * this), BENCH_DISPATCH_CAP_S, BENCH_ROUNDS, BENCH_ROUND_LEADS, BENCH_ROUND_CAP_S, BENCH_NURTURE_CONCURRENCY (32),
 * BENCH_COUNT_LEADS (600), BENCH_ENROLL_INPUT (state | ids), BENCH_WECOM_LATENCY_MS (0: extra latency of every add_msg_template answer),
 * BENCH_SKIP_ENROLL=1, BENCH_SKIP_ROUNDS=1, BENCH_SKIP_DISPATCH=1 (4 and 5). See docs/benchmarks-nurture.md.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Queue, type Job, type Worker } from 'bullmq';
import { Redis } from 'ioredis';
import mongoose, { type mongo } from 'mongoose';
import { closeContext, createContext } from '../../src/app/bot.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { BotContext } from '../../src/context.js';
import { withDatabase, type EmbeddedDatabase } from '../../src/dev/embedded-database.js';
import { createLogger } from '../../src/logger.js';
import { attemptFenceId } from '../../src/store/delivery-ledger.js';
import { Fence } from '../../src/store/models/fence.js';
import { Delivery } from '../../src/store/models/delivery.js';
import { Enrollment } from '../../src/store/models/enrollment.js';
import { Lead, leadId } from '../../src/store/models/lead.js';
import { JOB_KINDS } from '../../jobs/index.js';
import { enrollMany, type BulkEnrollee } from '../../src/domain/nurture/enroll.js';
import { nurtureDeliveryKey, planDue } from '../../src/domain/nurture/policy.js';
import type { AnyJobKind } from '../../src/queues/define-job.js';
import { jobIds } from '../../src/queues/job-ids.js';
import { createRedis } from '../../src/redis/connect.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { startWorkers } from '../../src/app/workers.js';
import { corpEnv, deleteMatching, TEST_CORP } from '../fixtures/test-corp.js';
import { BenchRun, log, machineInfo, type Cleanup } from './harness.js';

const THIS_FILE = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(THIS_FILE), '../..');

const CORP = TEST_CORP;
const OWNER = 'zhangsan';
const CHANNEL = 'expo2026';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const API = 'externalcontact/add_msg_template';
const DAY_MS = 86_400_000;
const BATCH = 1_000;

const num = (name: string, def: number) => {
  const v = process.env[name];
  return v === undefined || v === '' ? def : Number(v);
};
const LEADS = num('BENCH_LEADS', 100_000);
const ENROLL_BUDGET_S = num('BENCH_ENROLL_BUDGET_S', 0);
/** 'state': enrollees carry stage + opt-out as a campaign's audience query returns them; 'ids': enrollMany reads them. */
const ENROLL_INPUT = process.env.BENCH_ENROLL_INPUT === 'ids' ? 'ids' : 'state';
const RATE = num('BENCH_RATE', 100);
const RATE_LOW_ENV = process.env.BENCH_RATE_LOW ? Number(process.env.BENCH_RATE_LOW) : undefined;
const DISPATCH_SECONDS = num('BENCH_DISPATCH_SECONDS', 30);
const DISPATCH_CAP_S = num('BENCH_DISPATCH_CAP_S', 45);
const CONCURRENCY = num('BENCH_NURTURE_CONCURRENCY', 32);
/** Extra latency of every add_msg_template answer (sandbox fault delayMs), to model the network to WeCom. */
const LATENCY_MS = num('BENCH_WECOM_LATENCY_MS', 0);
/** Rounds of the dispatch / baseline comparison (each: the baseline, then the bot). */
const ROUNDS = Math.max(1, num('BENCH_ROUNDS', 3));
/** Leads (and enrollments) of each round's scene: the same as the dispatch run at R. */
/** Leads of the counting round (part 4's commands per step, counted with the instruments on). */
const COUNT_LEADS = num('BENCH_COUNT_LEADS', 600);
const ROUND_LEADS = num('BENCH_ROUND_LEADS', Math.max(10, Math.round(RATE * DISPATCH_SECONDS)));
const ROUND_CAP_S = num('BENCH_ROUND_CAP_S', 30);
/** The add_msg_template limit of the rounds' bot: there so the limiter does its usual work, too high to bind. */
const UNBOUND_RATE = 100_000;
const HARD_TIMEOUT_MS = num('BENCH_HARD_TIMEOUT_S', 25 * 60) * 1000;

/** Targets: issue #3 (enrollment, memory, rate) and issue #7 (dispatch / baseline). */
const TARGET = { ratio: 0.5, bytesPerStep: 1536, rateTolerance: 0.1, dispatchRatio: 0.6 };

const SEQ_ENROLL = 'bench4';
const SEQ_DISPATCH = 'bench4now';
const SEQUENCES: Record<string, string> = {
  [SEQ_ENROLL]: [
    `key: ${SEQ_ENROLL}`,
    'name: 压测培育（四步，每步 1 天）',
    'steps:',
    '  - { delay: 1d, text: "{{name}}您好，第一步。" }',
    '  - { delay: 1d, text: "第二步" }',
    '  - { delay: 1d, text: "第三步" }',
    '  - { delay: 1d, text: "第四步" }',
    '',
  ].join('\n'),
  [SEQ_DISPATCH]: [
    `key: ${SEQ_DISPATCH}`,
    'name: 压测培育（四步，第一步 1 秒后）',
    'steps:',
    '  - { delay: 1s, text: "{{name}}您好，第一步。" }',
    '  - { delay: 1d, text: "第二步" }',
    '  - { delay: 1d, text: "第三步" }',
    '  - { delay: 1d, text: "第四步" }',
    '',
  ].join('\n'),
};

// ------------------------------------------------------------------------------------------------ helpers

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '–');

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/** Deletes every Redis key matching `pattern`. */

async function usedMemory(redis: Redis): Promise<number> {
  const m = /used_memory:(\d+)/.exec(await redis.info('memory'));
  if (!m) throw new Error('INFO memory has no used_memory');
  return Number(m[1]);
}

interface KeyMemory {
  jobs: number;
  jobBytes: number;
  /** bytes by key kind: job hashes, delayed zset, events stream, everything else. */
  byKind: Record<string, { keys: number; bytes: number }>;
  total: number;
}

/** MEMORY USAGE (all elements sampled) of every key under `prefix`, grouped by kind: only our own writes count. */
async function keyMemory(redis: Redis, prefix: string): Promise<KeyMemory> {
  const byKind: KeyMemory['byKind'] = {};
  let cursor = '0';
  let jobs = 0;
  let jobBytes = 0;
  let total = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 2000);
    cursor = next;
    if (!keys.length) continue;
    const pipe = redis.pipeline();
    for (const k of keys) pipe.call('MEMORY', 'USAGE', k, 'SAMPLES', '0');
    const answers = (await pipe.exec()) ?? [];
    keys.forEach((k, i) => {
      const bytes = Number(answers[i]?.[1] ?? 0);
      const tail = k.slice(prefix.length + 1).split(':').slice(1).join(':');
      const kind = tail.startsWith('step|') ? 'job hashes' : tail === 'delayed' ? 'delayed zset' : tail === 'events' ? 'events stream' : 'other';
      if (kind === 'job hashes') {
        jobs++;
        jobBytes += bytes;
      }
      const e = (byKind[kind] ??= { keys: 0, bytes: 0 });
      e.keys++;
      e.bytes += bytes;
      total += bytes;
    });
  } while (cursor !== '0');
  return { jobs, jobBytes, byKind, total };
}

/** Per (command, collection): how many MongoDB commands ran and their summed duration, from driver command monitoring. */
type Ops = Map<string, { n: number; ms: number }>;

/** What one unit of work (a job run, a baseline step) has sent to MongoDB: set for its async context. */
interface LaneTally {
  lane: string;
  commands: number;
}
const currentLane = new AsyncLocalStorage<LaneTally>();

/** What OpStats saw between start() and stop(). */
interface OpsSnapshot {
  /** By command and collection (e.g. "find leads"), whoever sent it. */
  ops: Ops;
  /** The same, by lane: the job kind whose run sent it ("job nurture", "job records"), "baseline step", or none. */
  lanes: Map<string, Ops>;
  /** By lane: how many units sent how many commands (commands → units), e.g. {4 → 600} for 600 steps of 4. */
  units: Map<string, Map<number, number>>;
}

const NO_LANE = 'outside any job';

/**
 * MongoDB commands and their summed duration, from driver command monitoring (`monitorCommands=true`), by command
 * and by lane. A command belongs to the lane of the async context that sent it (AsyncLocalStorage), so the commands
 * of a nurture step are told apart from those the records queue writes meanwhile.
 */
class OpStats {
  private readonly started = new Map<number, { key: string; lane: string }>();
  private snap: OpsSnapshot = { ops: new Map(), lanes: new Map(), units: new Map() };
  private on = false;

  /**
   * Disabled, it counts nothing and costs nothing: lanes run their work directly (no AsyncLocalStorage, whose promise
   * hooks tax every await) and scenes connect without command monitoring. The timed rounds of part 4 run so.
   */
  constructor(readonly enabled = true) {}

  attach(client: mongo.MongoClient): void {
    if (!this.enabled) return;
    client.on('commandStarted', (ev: mongo.CommandStartedEvent) => {
      if (!this.on) return;
      const tally = currentLane.getStore();
      if (tally) tally.commands++;
      const target = ev.command[ev.commandName];
      const coll = typeof target === 'string' ? target : typeof ev.command.collection === 'string' ? ev.command.collection : '-';
      this.started.set(ev.requestId, { key: `${ev.commandName} ${coll}`, lane: tally?.lane ?? NO_LANE });
    });
    const add = (ops: Ops, key: string, ms: number) => {
      const e = ops.get(key) ?? { n: 0, ms: 0 };
      e.n++;
      e.ms += ms;
      ops.set(key, e);
    };
    const done = (ev: mongo.CommandSucceededEvent | mongo.CommandFailedEvent) => {
      const s = this.started.get(ev.requestId);
      if (!s) return;
      this.started.delete(ev.requestId);
      add(this.snap.ops, s.key, ev.duration);
      let lane = this.snap.lanes.get(s.lane);
      if (!lane) this.snap.lanes.set(s.lane, (lane = new Map()));
      add(lane, s.key, ev.duration);
    };
    client.on('commandSucceeded', done);
    client.on('commandFailed', done);
  }

  /** Runs `fn` as one unit of `lane`: the commands it sends count for that lane, and the unit's total is kept. */
  async inLane<T>(lane: string, fn: () => Promise<T>): Promise<T> {
    if (!this.enabled) return fn();
    const tally: LaneTally = { lane, commands: 0 };
    try {
      return await currentLane.run(tally, fn);
    } finally {
      if (this.on) {
        let h = this.snap.units.get(lane);
        if (!h) this.snap.units.set(lane, (h = new Map()));
        h.set(tally.commands, (h.get(tally.commands) ?? 0) + 1);
      }
    }
  }

  start(): void {
    this.snap = { ops: new Map(), lanes: new Map(), units: new Map() };
    this.started.clear();
    this.on = this.enabled;
  }

  stop(): OpsSnapshot {
    this.on = false;
    return this.snap;
  }
}

/** The bot's job kinds, each run inside its own lane ("job <kind>") so OpStats can tell whose commands are whose. */
function laneKinds(stats: OpStats): AnyJobKind[] {
  if (!stats.enabled) return [...JOB_KINDS];
  return JOB_KINDS.map((k) => ({ ...k, process: (data, ctx, job, token) => stats.inLane(`job ${k.name}`, () => k.process(data, ctx, job, token)) }));
}

/** MongoDB URI of database `db` on the server, with driver command monitoring on when `monitor` (for OpStats). */
function dbUri(serverUri: string, db: string, monitor = true): string {
  const u = new URL(withDatabase(serverUri, db));
  if (monitor) u.searchParams.set('monitorCommands', 'true');
  return u.toString();
}

function botEnv(o: { db: EmbeddedDatabase; dbName: string; prefix: string; templates: string; sandboxUrl: string; extra?: Record<string, string>; monitor?: boolean }): Record<string, string> {
  return corpEnv({ sandboxUrl: o.sandboxUrl, mongoUri: dbUri(o.db.uri, o.dbName, o.monitor ?? true), prefix: o.prefix, templatesDir: o.templates, role: 'worker' }, { REDIS_URL, ...o.extra });
}

/** A lead document as the bot creates one (Lead schema defaults included), for Lead.collection.insertMany. */
function leadDoc(externalUserId: string, name: string | null, at: Date) {
  return {
    _id: leadId(CORP.corpId, externalUserId),
    corpId: CORP.corpId,
    externalUserId,
    name,
    avatar: null,
    type: 1,
    corpName: null,
    industry: null,
    stage: 'added',
    firstTouch: { channelKey: CHANNEL, userId: OWNER, at },
    touchLog: '',
    owners: [{ userId: OWNER, channelKey: CHANNEL, state: CHANNEL, addedAt: at, status: 'active', pending: false, endedAt: null, remark: null, tags: [] }],
    tags: [],
    profileSyncedAt: null,
    kf: { openKfid: null, lastInboundAt: null, sentSinceInbound: 0 },
    unsubscribedAt: null,
    lostAt: null,
    createdAt: at,
    updatedAt: at,
    __v: 0,
  };
}

const bench4Id = (i: number) => `wmbench${i.toString(36).padStart(25, '0')}`;

// ------------------------------------------------------------------------------------------------ results

interface EnrollResult {
  leads: number;
  seedSeconds: number;
  offered: number;
  enrolled: number;
  seconds: number;
  stoppedByBudget: boolean;
  batchMs: number[];
  ops: Map<string, { n: number; ms: number }>;
  pending: number;
  memDelta: number;
  keys: KeyMemory;
  lookupPushdown: boolean | string;
}

interface BaselineResult {
  jobs: number;
  seconds: number;
  pending: number;
  memDelta: number;
  keys: KeyMemory;
}

interface DispatchResult {
  /** The sandbox's (and the bot's) limit of add_msg_template calls per second; null = no limit that binds. */
  rate: number | null;
  leads: number;
  concurrency: number;
  enrollSeconds: number;
  /** ms epoch of the first step falling due. */
  dueAt: number;
  capS: number;
  capped: boolean;
  okCalls: number[];
  errors: Record<string, number>;
  calls45009: number;
  steady: number;
  steadyWindowS: number;
  overall: number;
  maxPerSecond: number;
  overLimit: string[];
  stepsAtCap: number;
  /** Messages of the first failed step runs. */
  failures: string[];
  stepsDone: number;
  stepResults: Record<string, number>;
  stepMs: number[];
  deliveries: Record<string, number>;
  /** ok add_msg_template calls once the workers had closed (compare with deliveries marked submitted). */
  okAfterClose: number;
  ops: OpsSnapshot;
  pushdown: Array<{ query: string; pushdown: boolean | string }>;
  /** CPU time of this process (user + system; the sandbox WeCom included) per ok add_msg_template call, until the cap. */
  cpuMsPerStep: number;
  /** Steps run one at a time after the run (NURTURE_CONCURRENCY=1), with `leads` leads and `deliveries` deliveries in the database. */
  solo?: { steps: number; stepMs: number[]; ops: OpsSnapshot; leads: number; deliveries: number };
  runSeconds: number;
}

/** The same-run baseline of a step: the minimal exactly-once work on the same scene (see stepBaseline). */
interface StepBaselineResult {
  leads: number;
  concurrency: number;
  capped: boolean;
  steps: number;
  steady: number;
  steadyWindowS: number;
  overall: number;
  stepMs: number[];
  ops: OpsSnapshot;
  /** CPU time of this process (user + system) per step done. */
  cpuMsPerStep: number;
}

/** ms of CPU in a process.cpuUsage() delta. */
const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;

/** One round of the ratio: the baseline, then the bot, on fresh databases seeded alike. */
interface Round {
  baseline: StepBaselineResult;
  bot: DispatchResult;
}


// ------------------------------------------------------------------------------------------------ phases

async function seedLeads(n: number, idOf: (i: number) => string, nameOf: (i: number) => string | null): Promise<number> {
  const t0 = performance.now();
  const at = new Date();
  for (let i = 0; i < n; i += 5_000) {
    const docs = [];
    for (let j = i; j < Math.min(n, i + 5_000); j++) docs.push(leadDoc(idOf(j), nameOf(j), at));
    // Leads' _id is a string (leadId), which the driver's default typing (ObjectId) does not know.
    await Lead.collection.insertMany(docs as unknown as Array<mongo.OptionalId<mongo.Document>>, { ordered: false });
  }
  return (performance.now() - t0) / 1000;
}

async function enrollPhase(o: { ctx: BotContext; redis: Redis; prefix: string; stats: OpStats }): Promise<EnrollResult> {
  const { ctx, redis } = o;
  log(`enrollment: seeding ${LEADS.toLocaleString('en-US')} leads (setup, not timed)`);
  const seedSeconds = await seedLeads(LEADS, bench4Id, () => null);
  log(`  seeded in ${fmt(seedSeconds, 1)} s`);
  // As a campaign passes its audience: what its query over the leads returned (stage and opt-out included), or, with
  // BENCH_ENROLL_INPUT=ids, bare ids that make enrollMany read eligibility itself. The seeded leads are all 'added'.
  const leads: BulkEnrollee[] = Array.from({ length: LEADS }, (_, i) => ({
    corpId: CORP.corpId,
    externalUserId: bench4Id(i),
    ownerUserId: OWNER,
    ...(ENROLL_INPUT === 'state' ? { stage: 'added', unsubscribedAt: null } : {}),
  }));
  // Redis settles (no pending replies, buffers freed) before the reading.
  await sleep(300);
  const memBefore = await usedMemory(redis);
  const at = Date.now();
  const batchMs: number[] = [];
  let enrolled = 0;
  let offered = 0;
  let stoppedByBudget = false;
  log(`enrollment: enrollMany of ${LEADS.toLocaleString('en-US')} leads (input: ${ENROLL_INPUT}) in '${SEQ_ENROLL}'${ENROLL_BUDGET_S > 0 ? `, stopping after ${ENROLL_BUDGET_S} s` : ''}`);
  o.stats.start();
  const t0 = performance.now();
  if (ENROLL_BUDGET_S <= 0) {
    // One call for every lead, as a campaign makes it (enrollMany then reads eligibility in one streaming pass).
    // scanShare 0: the input is every lead, so enrollMany needs no count to choose its streaming eligibility pass.
    enrolled = await enrollMany(ctx, leads, SEQ_ENROLL, at, { batchSize: BATCH, scanShare: 0 });
    batchMs.push(performance.now() - t0);
    offered = leads.length;
  }
  for (let i = 0; ENROLL_BUDGET_S > 0 && i < leads.length; i += BATCH) {
    if (performance.now() - t0 > ENROLL_BUDGET_S * 1000) {
      stoppedByBudget = true;
      break;
    }
    const slice = leads.slice(i, i + BATCH);
    const tb = performance.now();
    enrolled += await enrollMany(ctx, slice, SEQ_ENROLL, at, { batchSize: BATCH });
    batchMs.push(performance.now() - tb);
    offered += slice.length;
    if (batchMs.length === 1 || batchMs.length % 5 === 0) log(`  batch ${batchMs.length}: ${fmt(batchMs.at(-1)! / 1000, 2)} s (${enrolled.toLocaleString('en-US')} enrolled so far)`);
  }
  const seconds = (performance.now() - t0) / 1000;
  const ops = o.stats.stop().ops;
  await sleep(300);
  const memAfter = await usedMemory(redis);
  const pending = await ctx.queues.get('nurture').getDelayedCount();
  const keys = await keyMemory(redis, o.prefix);
  // enrollMany's lead lookup as it sends it (1,000 lead _ids with $in): does the database filter it itself?
  let lookupPushdown: boolean | string = 'n/a';
  try {
    const r = (await Lead.find({ _id: { $in: leads.slice(0, BATCH).map((l) => leadId(l.corpId, l.externalUserId)) } }, { corpId: 1, externalUserId: 1, stage: 1, unsubscribedAt: 1 })
      .explain('queryPlanner')
      .exec()) as unknown as Record<string, unknown> | Array<Record<string, unknown>>;
    const first = Array.isArray(r) ? r[0] : r;
    lookupPushdown = typeof first?.filterPushdown === 'boolean' ? first.filterPushdown : 'n/a (not FerretDB)';
  } catch (err) {
    lookupPushdown = `explain failed: ${(err as Error).message.slice(0, 60)}`;
  }
  log(`  ${enrolled.toLocaleString('en-US')} enrolled in ${fmt(seconds, 1)} s = ${fmt(enrolled / seconds, 1)}/s; ${pending} pending; used_memory +${memAfter - memBefore} B`);
  return { leads: LEADS, seedSeconds, offered, enrolled, seconds, stoppedByBudget, batchMs, ops, pending, memDelta: memAfter - memBefore, keys, lookupPushdown };
}

async function baselinePhase(o: { redis: Redis; prefix: string; cleanups: Cleanups }): Promise<BaselineResult> {
  const { redis } = o;
  const connection = createRedis(REDIS_URL);
  const queue = new Queue('nurture', { connection, prefix: o.prefix });
  o.cleanups.push({
    name: 'baseline queue',
    fn: async () => {
      await queue.close();
      connection.disconnect();
    },
  });
  await queue.waitUntilReady();
  const ids = Array.from({ length: LEADS }, () => randomBytes(12).toString('hex'));
  log(`baseline: Queue.addBulk of ${LEADS.toLocaleString('en-US')} delayed jobs, ${BATCH} per call`);
  await sleep(300);
  const memBefore = await usedMemory(redis);
  const t0 = performance.now();
  for (let i = 0; i < ids.length; i += BATCH) {
    await queue.addBulk(ids.slice(i, i + BATCH).map((id, k) => ({ name: 'step', data: { e: id, s: 0, l: leadId(CORP.corpId, bench4Id(i + k)) }, opts: { jobId: jobIds.nurtureStep(id, 0), delay: DAY_MS } })));
  }
  const seconds = (performance.now() - t0) / 1000;
  await sleep(300);
  const memAfter = await usedMemory(redis);
  const pending = await queue.getDelayedCount();
  const keys = await keyMemory(redis, o.prefix);
  log(`  ${LEADS.toLocaleString('en-US')} jobs in ${fmt(seconds, 2)} s = ${fmt(LEADS / seconds, 0)}/s; used_memory +${memAfter - memBefore} B`);
  return { jobs: LEADS, seconds, pending, memDelta: memAfter - memBefore, keys };
}

/** The scene of a dispatch run: a context on a fresh database, the sandbox, N enrolled leads whose first steps are due. */
interface DispatchScene {
  ctx: BotContext;
  sandbox: Sandbox;
  n: number;
  enrollSeconds: number;
}

/**
 * Sets up a dispatch scene and runs `body` in it, then tears it down: the sandbox WeCom (answering 45009 above `rate`
 * add_msg_template calls per second, or with no limit), a bot context on database `dbName` with
 * WECOM_RATE_LIMITS=add_msg_template=R/s (UNBOUND_RATE when `rate` is null), N customers of the owner in the sandbox
 * who are leads in MongoDB and are enrolled in bench4now before `body` runs, so every first step is due when it starts.
 * The baseline and the bot get the same scene.
 */
async function withDispatch<T>(
  o: { db: EmbeddedDatabase; dbName: string; prefix: string; templates: string; rate: number | null; n: number; redis: Redis; stats: OpStats },
  body: (scene: DispatchScene) => Promise<T>,
): Promise<T> {
  const { n } = o;
  const sandbox: Sandbox = await startSandbox({ corpId: CORP.corpId, secrets: [CORP.secret], rateLimits: o.rate === null ? {} : { [API]: o.rate } });
  if (LATENCY_MS > 0) sandbox.state.inject({ api: API, delayMs: LATENCY_MS, times: 1e9 });
  const env = botEnv({
    db: o.db,
    dbName: o.dbName,
    prefix: o.prefix,
    templates: o.templates,
    sandboxUrl: sandbox.url,
    monitor: o.stats.enabled,
    extra: {
      WECOM_RATE_LIMITS: `${API}=${o.rate ?? UNBOUND_RATE}/s`,
      NURTURE_DAILY_CAP: '0',
      NURTURE_CONCURRENCY: String(CONCURRENCY),
      NURTURE_RECONCILE_SECONDS: '0',
      // No mass-result poll falls due during the run.
      MASS_RESULT_POLL_SCHEDULE: '1h',
    },
  });
  const config: Config = loadConfig(env);
  let ctx: BotContext | undefined;
  try {
    ctx = await createContext(config, createLogger('silent'));
    o.stats.attach(mongoose.connection.getClient());
    // Customers of the owner in the sandbox (so add_msg_template accepts them) and leads in MongoDB.
    const ids = Array.from({ length: n }, (_, i) => sandbox.state.contacts.addCustomer({ name: `客户${i}`, userId: OWNER, state: CHANNEL }).externalUserId);
    await seedLeads(n, (i) => ids[i]!, (i) => `客户${i}`);

    // Enrolled before any worker runs, so enrollment and dispatch do not compete for the database.
    const enrollStart = Date.now();
    const enrolled = await enrollMany(
      ctx,
      ids.map((externalUserId) => ({ corpId: CORP.corpId, externalUserId, ownerUserId: OWNER })),
      SEQ_DISPATCH,
      enrollStart,
    );
    const enrollSeconds = (Date.now() - enrollStart) / 1000;
    if (enrolled !== n) throw new Error(`enrolled ${enrolled} of ${n}`);
    await sleep(Math.max(0, enrollStart + 1_000 - Date.now()));
    return await body({ ctx, sandbox, n, enrollSeconds });
  } finally {
    if (ctx) {
      await mongoose.connection.db?.dropDatabase().catch(() => undefined);
      await closeContext(ctx).catch(() => undefined);
    }
    await sandbox.close();
    await deleteMatching(o.redis, `${o.prefix}:*`);
  }
}

/**
 * Rate in the steady part of a run: the events (ms epoch, sorted) in the middle 80 % of it (first event to the last,
 * or to the cap), counted in whole 1-second windows aligned as the sandbox and the bot's limiter count them (fixed
 * windows send in bursts); first-to-last as well.
 */
function steadyRate(times: number[], startedAt: number, endedAt: number, capped: boolean): { steady: number; steadyWindowS: number; overall: number } {
  const runFrom = times[0] ?? startedAt;
  const runTo = capped ? endedAt : (times.at(-1) ?? endedAt);
  const from = runFrom + 0.1 * (runTo - runFrom);
  const to = runTo - 0.1 * (runTo - runFrom);
  let winFrom = Math.ceil(from / 1000) * 1000;
  let winTo = Math.floor(to / 1000) * 1000;
  if (winTo - winFrom < 3_000) [winFrom, winTo] = [from, to];
  const steadyWindowS = (winTo - winFrom) / 1000;
  const inWindow = times.filter((at) => at >= winFrom && at < winTo).length;
  return {
    steady: steadyWindowS > 0 ? inWindow / steadyWindowS : NaN,
    steadyWindowS,
    overall: times.length > 1 ? (times.length - 1) / ((times.at(-1)! - times[0]!) / 1000) : NaN,
  };
}

/**
 * The same-run baseline of a nurture step: on the same scene as the bot (same database, same leads and enrollments,
 * seeded and enrolled alike), CONCURRENCY runners (the bot's NURTURE_CONCURRENCY) each take the next enrollment, in
 * the order the bot's queue hands them out, and do the least an exactly-once step must do against MongoDB:
 * read the lead by _id, insert the attempt fence, and advance the enrollment by _id with the update the step makes,
 * each a command of its own (the bot shares its insert and its update with the steps running meanwhile:
 * src/store/batched-updates.ts, takeFences). No Redis, no lock, no WeCom, no records queue. Stops at the cap.
 */
async function stepBaseline(scene: DispatchScene, stats: OpStats, capS: number): Promise<StepBaselineResult> {
  const seq = scene.ctx.sequences.get(SEQ_DISPATCH);
  if (!seq) throw new Error(`no sequence ${SEQ_DISPATCH}`);
  // Setup, not timed: the enrollments in insertion order (the order enrollMany queued their first steps).
  const es = await Enrollment.find({}, { _id: 1, corpId: 1, externalUserId: 1 }).lean();
  stats.start();
  const cpu = process.cpuUsage();
  const startedAt = Date.now();
  const capAt = startedAt + capS * 1000;
  const doneAt: number[] = [];
  const stepMs: number[] = [];
  let next = 0;
  const step = async (e: (typeof es)[number]) => {
    const id = String(e._id);
    const key = nurtureDeliveryKey(id, 0);
    await Lead.findById(leadId(e.corpId, e.externalUserId)).lean();
    // One insert of its own (a duplicate key throws: the scene is fresh, so none is held).
    await Fence.collection.insertOne({ _id: attemptFenceId(key, 1) as never, kind: 'attempt', for: key, at: new Date() });
    const now = Date.now();
    const history = { step: 0, at: new Date(now), outcome: 'submitted', via: 'mass', deliveryKey: key, caseSlug: null, detail: { via: 'mass' } };
    await Enrollment.updateOne({ _id: e._id }, { $set: { step: 1, dueAt: planDue(seq, 1, now), attempts: 0 }, $push: { history } });
  };
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < es.length && Date.now() < capAt) {
        const e = es[next++]!;
        const t = performance.now();
        await stats.inLane('baseline step', () => step(e));
        stepMs.push(performance.now() - t);
        doneAt.push(Date.now());
      }
    }),
  );
  const endedAt = Date.now();
  const cpuMsPerStep = cpuMs(process.cpuUsage(cpu)) / Math.max(1, doneAt.length);
  const ops = stats.stop();
  const capped = doneAt.length < es.length;
  doneAt.sort((a, b) => a - b);
  const rate = steadyRate(doneAt, startedAt, Math.min(endedAt, capAt), capped);
  log(`  baseline: ${doneAt.length} of ${es.length} steps in ${fmt((endedAt - startedAt) / 1000, 1)} s; steady ${fmt(rate.steady, 1)}/s; this process's CPU ${fmt(cpuMsPerStep, 2)} ms per step`);
  return { leads: scene.n, concurrency: CONCURRENCY, capped, steps: doneAt.length, ...rate, stepMs: stepMs.sort((a, b) => a - b), ops, cpuMsPerStep };
}

/**
 * The bot's dispatch on a scene: the real workers (src/app/workers.ts startWorkers, what startBot runs for
 * ROLE=worker/all) in this process, each job run in its lane for OpStats, until every lead was sent to or the cap.
 */
async function botDispatch(
  scene: DispatchScene,
  o: {
    rate: number | null;
    capS: number;
    stats: OpStats;
    /** After a capped run, run this many of the remaining steps one at a time. */
    soloSteps?: number;
    /** Ask the database (explain) which of a step's reads it filters itself. */
    explain?: boolean;
  },
): Promise<DispatchResult> {
  const { ctx, sandbox, n } = scene;
  let workers: Worker[] = [];
  try {
    // The real workers, as startBot starts them (its reconcile pass has nothing to do: every job is in Redis).
    o.stats.start();
    const cpu = process.cpuUsage();
    workers = startWorkers(ctx, laneKinds(o.stats));
    const nurture = workers.find((w) => w.name === 'nurture');
    if (!nurture) throw new Error('no nurture worker');
    const started = new Map<string, number>();
    const stepMs: number[] = [];
    const stepResults: Record<string, number> = {};
    nurture.on('active', (job: Job) => started.set(job.id!, performance.now()));
    const finished = (job: Job | undefined, outcome: string) => {
      if (!job?.id) return;
      const t = started.get(job.id);
      if (t !== undefined) stepMs.push(performance.now() - t);
      started.delete(job.id);
      stepResults[outcome] = (stepResults[outcome] ?? 0) + 1;
    };
    nurture.on('completed', (job: Job, result: unknown) => finished(job, String(result)));
    const failures: string[] = [];
    nurture.on('failed', (job: Job | undefined, err: Error) => {
      if (failures.length < 5) failures.push(err.message.replace(/\s+/g, ' ').slice(0, 300));
      finished(job, 'failed (BullMQ retries it)');
    });

    // Every first step is due by now: the run starts when the workers do.
    const dueAt = Date.now();
    const capAt = dueAt + o.capS * 1000;
    let lastLog = Date.now();
    for (;;) {
      const ok = sandbox.state.okCallsTo(API).length;
      if (ok >= n || Date.now() >= capAt) break;
      if (Date.now() - lastLog >= 5_000) {
        log(`  … ${ok} sent after ${fmt((Date.now() - dueAt) / 1000, 0)} s`);
        lastLog = Date.now();
      }
      await sleep(100);
    }
    const end = Date.now();
    const cpuUsed = cpuMs(process.cpuUsage(cpu));
    const capped = sandbox.state.okCallsTo(API).length < n;
    const stepsAtCap = stepMs.length;
    // Closing lets the active steps finish (and starts no new one): then every step started has finished.
    await Promise.all(workers.map((w) => w.close()));
    workers = [];
    const ops = o.stats.stop();

    const calls = sandbox.state.callsTo(API).filter((c) => c.at <= end);
    const okCalls = calls.filter((c) => c.errcode === 0).map((c) => c.at).sort((a, b) => a - b);
    const errors: Record<string, number> = {};
    for (const c of calls) if (c.errcode !== 0) errors[String(c.errcode)] = (errors[String(c.errcode)] ?? 0) + 1;
    const { steady, steadyWindowS, overall } = steadyRate(okCalls, dueAt, end, capped);
    // The sandbox counts fixed 1-second windows: the fullest one.
    const perSecond = new Map<number, number>();
    for (const at of calls.map((c) => c.at)) perSecond.set(Math.floor(at / 1000), (perSecond.get(Math.floor(at / 1000)) ?? 0) + 1);
    const maxPerSecond = Math.max(0, ...perSecond.values());
    // Windows the sandbox saw more than R calls in: when, within the window, each call arrived (and its errcode).
    const overLimit =
      o.rate === null
        ? []
        : [...perSecond.entries()]
            .filter(([, count]) => count > o.rate!)
            .map(([w]) => calls.filter((c) => Math.floor(c.at / 1000) === w).map((c) => `+${c.at - w * 1000}ms${c.errcode === 0 ? '' : `:${c.errcode}`}`).join(' '));

    const okAfterClose = sandbox.state.okCallsTo(API).length;
    const deliveries: Record<string, number> = {};
    for (const d of await Delivery.aggregate<{ _id: string; n: number }>([{ $group: { _id: '$status', n: { $sum: 1 } } }])) deliveries[d._id] = d.n;

    // Steps one at a time (NURTURE_CONCURRENCY=1) on what is left: the cost of a step without queueing.
    let solo: DispatchResult['solo'];
    if (o.soloSteps && capped) {
      const soloWorkers = startWorkers({ ...ctx, config: { ...ctx.config, NURTURE_CONCURRENCY: 1 } }, laneKinds(o.stats));
      workers = soloWorkers;
      const w = soloWorkers.find((x) => x.name === 'nurture')!;
      const soloMs: number[] = [];
      const soloStart = new Map<string, number>();
      w.on('active', (job: Job) => soloStart.set(job.id!, performance.now()));
      w.on('completed', (job: Job) => {
        const t = soloStart.get(job.id!);
        if (t !== undefined) soloMs.push(performance.now() - t);
      });
      o.stats.start();
      const until = Date.now() + 20_000;
      while (soloMs.length < o.soloSteps && Date.now() < until) await sleep(50);
      await Promise.all(soloWorkers.map((x) => x.close()));
      workers = [];
      const soloOps = o.stats.stop();
      solo = { steps: soloMs.length, stepMs: soloMs.sort((a, b) => a - b), ops: soloOps, leads: n, deliveries: Object.values(deliveries).reduce((a, b) => a + b, 0) };
      log(`  one at a time: ${soloMs.length} steps, p50 ${fmt(percentile(solo.stepMs, 50), 0)} ms`);
    }
    // Which of a step's reads FerretDB filters itself (filterPushdown) and which it filters in Go after a scan.
    const pushdown: DispatchResult['pushdown'] = [];
    if (o.explain) {
      const someLead = await Lead.findOne({}, { corpId: 1, externalUserId: 1 }).lean();
      const someEnrollment = await Enrollment.findOne({}, { _id: 1 }).lean();
      const explain = async (label: string, run: () => Promise<unknown>) => {
        try {
          const r = (await run()) as Record<string, unknown> | Array<Record<string, unknown>>;
          const first = Array.isArray(r) ? r[0] : r;
          pushdown.push({ query: label, pushdown: typeof first?.filterPushdown === 'boolean' ? first.filterPushdown : 'n/a (not FerretDB)' });
        } catch (err) {
          pushdown.push({ query: label, pushdown: `explain failed: ${(err as Error).message.slice(0, 60)}` });
        }
      };
      if (someLead && someEnrollment) {
        await explain('Enrollment.findById(e)', () => Enrollment.findById(someEnrollment._id).explain('queryPlanner').exec());
        await explain('Lead.findById(leadId(corpId, externalUserId))', () => Lead.findById(leadId(someLead.corpId, someLead.externalUserId)).explain('queryPlanner').exec());
      }
    }
    const cpuMsPerStep = cpuUsed / Math.max(1, okCalls.length);
    log(`  ${okCalls.length} ok add_msg_template calls; steady ${fmt(steady, 1)}/s; 45009 × ${errors['45009'] ?? 0}; step p50 ${fmt(percentile([...stepMs].sort((a, b) => a - b), 50), 0)} ms; this process's CPU ${fmt(cpuMsPerStep, 2)} ms per step`);
    return {
      rate: o.rate,
      leads: n,
      concurrency: CONCURRENCY,
      enrollSeconds: scene.enrollSeconds,
      dueAt,
      capS: o.capS,
      capped,
      okCalls,
      errors,
      calls45009: errors['45009'] ?? 0,
      steady,
      steadyWindowS,
      overall,
      maxPerSecond,
      overLimit,
      stepsAtCap,
      failures,
      stepsDone: stepMs.length,
      stepResults,
      stepMs: [...stepMs].sort((a, b) => a - b),
      deliveries,
      okAfterClose,
      ops,
      pushdown,
      solo,
      runSeconds: (end - dueAt) / 1000,
      cpuMsPerStep,
    };
  } finally {
    await Promise.all(workers.map((w) => w.close().catch(() => undefined)));
  }
}


// ------------------------------------------------------------------------------------------------ report

function opsTable(ops: Map<string, { n: number; ms: number }>, per: number, perLabel: string): string[] {
  const rows = [...ops.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const total = rows.reduce((s, [, e]) => s + e.ms, 0);
  const out = [`| MongoDB command | count | per ${perLabel} | total ms | mean ms | share of Mongo time |`, '|---|---:|---:|---:|---:|---:|'];
  for (const [k, e] of rows) out.push(`| ${k} | ${e.n} | ${fmt(e.n / per, 2)} | ${fmt(e.ms, 0)} | ${fmt(e.ms / e.n, 2)} | ${fmt((e.ms / total) * 100, 1)} % |`);
  return out;
}

const NURTURE_LANE = 'job nurture';
const RECORDS_LANE = 'job records';
const BASELINE_LANE = 'baseline step';

/** A lane's commands per unit of it (job run, baseline step), by command. */
function laneTable(snap: OpsSnapshot, lane: string, unit: string): string[] {
  const units = [...(snap.units.get(lane)?.values() ?? [])].reduce((a, b) => a + b, 0);
  return opsTable(snap.lanes.get(lane) ?? new Map(), Math.max(1, units), unit);
}

/** "4 commands × 598, 5 × 2 (max 5, mean 4.00 over 600 step runs)". */
function unitsLine(snap: OpsSnapshot, lane: string, units: string): string {
  const h = [...(snap.units.get(lane) ?? new Map<number, number>()).entries()].sort((a, b) => a[0] - b[0]);
  const n = h.reduce((s, [, c]) => s + c, 0);
  if (!n) return `no ${units}`;
  const mean = h.reduce((s, [k, c]) => s + k * c, 0) / n;
  return `${h.map(([k, c]) => `${k} commands × ${c.toLocaleString('en-US')}`).join(', ')} (max ${h.at(-1)![0]}, mean ${fmt(mean, 2)} over ${n.toLocaleString('en-US')} ${units})`;
}

/** The commands of every lane but `lane`, in one line. */
function otherLanes(snap: OpsSnapshot, lane: string): string {
  const parts = [...snap.lanes.entries()]
    .filter(([l]) => l !== lane)
    .map(([l, ops]) => {
      const units = [...(snap.units.get(l)?.values() ?? [])].reduce((a, b) => a + b, 0);
      const cmds = [...ops.entries()].map(([k, e]) => `${k} ${e.n}`).join(', ');
      return `${l}${units ? ` (${units} runs)` : ''}: ${cmds}`;
    });
  return parts.length ? parts.join('; ') : 'nothing';
}

function mergeSnapshots(snaps: OpsSnapshot[]): OpsSnapshot {
  const out: OpsSnapshot = { ops: new Map(), lanes: new Map(), units: new Map() };
  const addOps = (into: Ops, from: Ops) => {
    for (const [k, e] of from) {
      const t = into.get(k) ?? { n: 0, ms: 0 };
      t.n += e.n;
      t.ms += e.ms;
      into.set(k, t);
    }
  };
  for (const s of snaps) {
    addOps(out.ops, s.ops);
    for (const [l, ops] of s.lanes) {
      if (!out.lanes.has(l)) out.lanes.set(l, new Map());
      addOps(out.lanes.get(l)!, ops);
    }
    for (const [l, h] of s.units) {
      if (!out.units.has(l)) out.units.set(l, new Map());
      const t = out.units.get(l)!;
      for (const [k, c] of h) t.set(k, (t.get(k) ?? 0) + c);
    }
  }
  return out;
}

/** The bot's steady dispatch over the baseline's: ratio of the means, and each round's ratio. */
function roundRatio(rounds: Round[]) {
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const bot = mean(rounds.map((r) => r.bot.steady));
  const baseline = mean(rounds.map((r) => r.baseline.steady));
  const perRound = rounds.map((r) => r.bot.steady / r.baseline.steady);
  return { ratio: bot / baseline, bot, baseline, perRound, min: Math.min(...perRound), max: Math.max(...perRound) };
}

function report(o: {
  machine: { cpus: number; model: string; node: string; mem: string; redis: string; db: string; load: string[] };
  enroll?: EnrollResult;
  baseline?: BaselineResult;
  baselineAfter?: BaselineResult;
  rounds: Round[];
  /** The round run with instruments on, for the commands of each step. */
  counted: Round | null;
  dispatch: DispatchResult[];
}): string {
  const out: string[] = [];
  const { enroll, baseline, baselineAfter, rounds, counted, dispatch } = o;
  const m = o.machine;
  out.push(`## Nurture benchmark — ${new Date().toISOString()}`, '');
  out.push(`Machine: ${m.cpus} CPU (${m.model}), ${m.mem} RAM, Node ${m.node}, Redis ${m.redis} (shared), database ${m.db}.`, '');
  out.push(`Load average (1 min) — other work on the machine competes for its ${m.cpus} cores: ${m.load.join('; ')}.`, '');
  const rows: string[] = ['| # | figure | value | target | result |', '|---|---|---:|---|---|'];
  const pass = (ok: boolean) => (ok ? 'pass' : '**MISS**');
  const eRate = enroll ? enroll.enrolled / enroll.seconds : NaN;
  const rateOf = (b: BaselineResult) => b.jobs / b.seconds;
  const bRate = baseline ? (baselineAfter ? (rateOf(baseline) + rateOf(baselineAfter)) / 2 : rateOf(baseline)) : NaN;
  if (enroll) {
    rows.push(
      `| 1 | enrollMany throughput (${enroll.leads.toLocaleString('en-US')} leads in MongoDB, input: ${ENROLL_INPUT}; ${enroll.enrolled.toLocaleString('en-US')} enrolled in ${fmt(enroll.seconds, 1)} s${enroll.stoppedByBudget ? `, stopped at the ${ENROLL_BUDGET_S} s budget` : ''}) | ${fmt(eRate, 1)} enrollments/s | — | ${enroll.stoppedByBudget ? `all ${enroll.leads.toLocaleString('en-US')} would take ≈ ${fmt(enroll.leads / eRate / 60, 0)} min` : 'all enrolled'} |`,
    );
  }
  if (baseline) {
    const runs = baselineAfter ? `, mean of a run before (${fmt(rateOf(baseline), 0)}/s) and after (${fmt(rateOf(baselineAfter), 0)}/s) the enrollment` : '';
    rows.push(`| 2 | raw BullMQ addBulk (${baseline.jobs.toLocaleString('en-US')} delayed jobs, 1,000 per call${runs}) | ${fmt(bRate, 0)} jobs/s | — | — |`);
  }
  if (enroll && baseline) rows.push(`| 1/2 | enrollment / baseline | ${fmt((eRate / bRate) * 100, 2)} % | ≥ 50 % | ${pass(eRate / bRate >= TARGET.ratio)} |`);
  if (enroll) {
    const perStep = enroll.memDelta / enroll.pending;
    const own = enroll.keys.total / enroll.pending;
    // A delta below what our own keys take means other clients freed memory meanwhile: not a reading of ours.
    const sane = enroll.memDelta >= enroll.keys.total * 0.5;
    rows.push(
      `| 3a | Redis per pending step, enrollment (INFO used_memory delta / ${enroll.pending.toLocaleString('en-US')} pending) | ${fmt(perStep, 0)} B | ≤ 1,536 B | ${sane ? pass(perStep <= TARGET.bytesPerStep) : 'invalid: other Redis clients freed memory during the run (see 3b)'} |`,
    );
    rows.push(`| 3b | Redis per pending step, enrollment (MEMORY USAGE of our keys / pending) | ${fmt(own, 0)} B | ≤ 1,536 B | ${pass(own <= TARGET.bytesPerStep)} |`);
  }
  if (baseline) {
    rows.push(`| 3c | Redis per pending job, baseline (used_memory delta / ${baseline.pending.toLocaleString('en-US')}) | ${fmt(baseline.memDelta / baseline.pending, 0)} B | (reference) | — |`);
    rows.push(`| 3d | Redis per pending job, baseline (MEMORY USAGE of its keys / pending) | ${fmt(baseline.keys.total / baseline.pending, 0)} B | (reference) | — |`);
  }
  if (rounds.length) {
    const rs = roundRatio(rounds);
    const n = rounds[0]!.bot.leads.toLocaleString('en-US');
    rows.push(
      `| 4 | nurture dispatch / same-run baseline (${n} leads, concurrency ${CONCURRENCY}, mean of ${rounds.length} alternating rounds: ${fmt(rs.bot, 1)} vs ${fmt(rs.baseline, 1)} steps/s; spread ${fmt(rs.min * 100, 1)}–${fmt(rs.max * 100, 1)} %) | ${fmt(rs.ratio * 100, 1)} % | ≥ ${TARGET.dispatchRatio * 100} % | ${pass(rs.ratio >= TARGET.dispatchRatio)} |`,
    );
    const h = counted?.bot.ops.units.get(NURTURE_LANE) ?? new Map<number, number>();
    const runs = [...h.values()].reduce((a, b) => a + b, 0);
    const max = Math.max(0, ...h.keys());
    const mean = [...h.entries()].reduce((a, [k, c]) => a + k * c, 0) / Math.max(1, runs);
    // A step's fence inserts and its advance are shared writes (commands for all the steps of the moment), counted
    // outside its own lane: a step's part in them is their count over the steps.
    const shared = [...(counted?.bot.ops.lanes.get(NO_LANE) ?? new Map<string, { n: number }>()).entries()].filter(([k]) => k === 'insert fences' || k === 'update enrollments').reduce((a, [, e]) => a + e.n, 0);
    rows.push(
      `| 4 | MongoDB commands per nurture step run (${runs.toLocaleString('en-US')} runs in the counting round): its own (max ${max}, mean ${fmt(mean, 2)}), plus its part in the shared fence inserts and advances (a lone step: one of each) | ${max} + ${fmt(shared / Math.max(1, runs), 2)} (at most ${max} + 2) | ≤ 4 | ${pass(runs > 0 && max + 2 <= 4)} |`,
    );
  }
  dispatch.forEach((d, i) => {
    const rate = d.rate ?? NaN;
    const within = Math.abs(d.steady - rate) <= rate * TARGET.rateTolerance;
    const tag = `5${String.fromCharCode(97 + i)}`;
    rows.push(
      `| ${tag} | dispatch at R = ${d.rate}/s: steady ok add_msg_template rate (${d.okCalls.length.toLocaleString('en-US')} sent; middle 80 % of the run, ${fmt(d.steadyWindowS, 0)} s) | ${fmt(d.steady, 1)}/s | ${fmt(rate * 0.9, 1)}–${fmt(rate * 1.1, 1)}/s | ${pass(within)} |`,
    );
    rows.push(`| ${tag} | dispatch at R = ${d.rate}/s: 45009 answers | ${d.calls45009} | 0 | ${pass(d.calls45009 === 0)} |`);
  });
  out.push(...rows, '');

  if (enroll) {
    const sorted = [...enroll.batchMs].sort((a, b) => a - b);
    const mongoMs = [...enroll.ops.values()].reduce((s, e) => s + e.ms, 0);
    const leadFind = [...enroll.ops.entries()].filter(([k]) => k === 'find leads' || k === 'getMore leads').reduce((s, [, e]) => s + e.ms, 0);
    const rest = enroll.seconds * 1000 - mongoMs;
    out.push(`### 1. Enrollment: where the time goes (${enroll.batchMs.length} batches of ${BATCH})`, '');
    out.push(
      `Seeding ${enroll.leads.toLocaleString('en-US')} leads (insertMany, 5,000 per call, not timed above) took ${fmt(enroll.seedSeconds, 1)} s. Per enrollMany batch: p50 ${fmt(percentile(sorted, 50) / 1000, 2)} s, max ${fmt(sorted.at(-1)! / 1000, 2)} s.`,
      '',
    );
    out.push(...opsTable(enroll.ops, enroll.batchMs.length, 'batch'), '');
    out.push(
      ENROLL_INPUT === 'state'
        ? `- MongoDB time ${fmt(mongoMs / 1000, 1)} s of ${fmt(enroll.seconds, 1)} s (${fmt((mongoMs / (enroll.seconds * 1000)) * 100, 1)} %), all of it the enrollment inserts: the enrollees carried their lead state, so no lead was read (lead reads: ${fmt(leadFind / 1000, 1)} s). Each batch's insert overlaps the previous batch's addBulk.`
        : `- MongoDB time ${fmt(mongoMs / 1000, 1)} s of ${fmt(enroll.seconds, 1)} s (${fmt((mongoMs / (enroll.seconds * 1000)) * 100, 1)} %); the lead lookup (\`find\` + \`getMore leads\`) alone ${fmt(leadFind / 1000, 1)} s (${fmt((leadFind / (enroll.seconds * 1000)) * 100, 1)} %). The per-batch \`_id $in\` lookup's filter pushdown (FerretDB \`explain\`): ${String(enroll.lookupPushdown)}${enroll.lookupPushdown === false ? ' — it would read and filter all ' + enroll.leads.toLocaleString('en-US') + ' leads in FerretDB per batch, hence the single streaming pass' : ''}.`,
      `- Everything else (BullMQ addBulk, document building, JS): ${fmt(rest / 1000, 2)} s → ${fmt(enroll.enrolled / (rest / 1000), 0)} enrollments/s if MongoDB cost nothing${ENROLL_INPUT === 'ids' ? `; without only the lead lookup: ${fmt(enroll.enrolled / ((enroll.seconds * 1000 - leadFind) / 1000), 0)} enrollments/s` : ''} (derived, not measured).`,
      '',
    );
  }
  if (enroll || baseline) {
    out.push('### 3. Redis memory by key kind (MEMORY USAGE … SAMPLES 0, our prefixes only)', '');
    out.push(
      '| run | pending | job hash (bytes each) | delayed zset | events stream (capped at ~10,000 events) | other keys | total / pending | used_memory delta / pending | job hash + zset entry (what each further step adds once the stream is capped) |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    const row = (label: string, pending: number, k: KeyMemory, delta: number) => {
      const b = (kind: string) => k.byKind[kind]?.bytes ?? 0;
      out.push(
        `| ${label} | ${pending.toLocaleString('en-US')} | ${fmt(k.jobBytes / Math.max(1, k.jobs), 0)} | ${b('delayed zset').toLocaleString('en-US')} B (${fmt(b('delayed zset') / pending, 0)}/job) | ${b('events stream').toLocaleString('en-US')} B (${fmt(b('events stream') / pending, 0)}/job) | ${b('other').toLocaleString('en-US')} B | ${fmt(k.total / pending, 0)} B | ${fmt(delta / pending, 0)} B | ${fmt(k.jobBytes / Math.max(1, k.jobs) + b('delayed zset') / pending, 0)} B |`,
      );
    };
    if (enroll) row('enrollMany (bot queue)', enroll.pending, enroll.keys, enroll.memDelta);
    if (baseline) row('raw addBulk', baseline.pending, baseline.keys, baseline.memDelta);
    out.push('');
  }
  if (rounds.length) {
    const r0 = rounds[0]!;
    out.push(
      `### 4. Dispatch against the same-run baseline (${r0.bot.leads.toLocaleString('en-US')} leads each, concurrency ${r0.bot.concurrency}, ${rounds.length} rounds alternating baseline / bot, each on a fresh database seeded alike; the bot's add_msg_template limit does not bind; cap ${r0.bot.capS} s${LATENCY_MS ? `; every add_msg_template answer delayed ${LATENCY_MS} ms` : ''})`,
      '',
    );
    out.push(
      '| round | baseline steps/s (steady) | baseline steps done | baseline step p50 / p99 ms | baseline CPU ms / step | bot sends/s (steady ok add_msg_template) | bot sent | bot step p50 / p99 ms | bot CPU ms / step | bot / baseline |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    rounds.forEach(({ baseline: b, bot: f }, i) => {
      out.push(
        `| ${i + 1} | ${fmt(b.steady, 1)} | ${b.steps.toLocaleString('en-US')}${b.capped ? ' (cap)' : ''} | ${fmt(percentile(b.stepMs, 50), 0)} / ${fmt(percentile(b.stepMs, 99), 0)} | ${fmt(b.cpuMsPerStep, 2)} | ${fmt(f.steady, 1)} | ${f.okCalls.length.toLocaleString('en-US')}${f.capped ? ' (cap)' : ''} | ${fmt(percentile(f.stepMs, 50), 0)} / ${fmt(percentile(f.stepMs, 99), 0)} | ${fmt(f.cpuMsPerStep, 2)} | ${fmt((f.steady / b.steady) * 100, 1)} % |`,
      );
    });
    const rs = roundRatio(rounds);
    out.push(
      '',
      `- Dispatch / baseline: **${fmt(rs.ratio * 100, 1)} %** (mean of ${rounds.length} rounds: ${fmt(rs.bot, 1)} vs ${fmt(rs.baseline, 1)} steps/s; per round ${rs.perRound.map((x) => `${fmt(x * 100, 1)} %`).join(', ')}; spread ${fmt(rs.min * 100, 1)}–${fmt(rs.max * 100, 1)} %) (target ≥ ${TARGET.dispatchRatio * 100} %: ${rs.ratio >= TARGET.dispatchRatio ? 'met' : 'MISSED'}).`,
      `- Bot errors (errcode: count): ${rounds.some((r) => Object.keys(r.bot.errors).length) ? JSON.stringify(Object.assign({}, ...rounds.map((r) => r.bot.errors))) : 'none'}; failed step runs: ${rounds.reduce((n, r) => n + (r.bot.stepResults['failed (BullMQ retries it)'] ?? 0), 0)}${rounds.some((r) => r.bot.failures.length) ? ` (first: \`${rounds.find((r) => r.bot.failures.length)!.bot.failures[0]}\`)` : ''}.`,
      '',
    );
    const botOps = counted?.bot.ops ?? mergeSnapshots([]);
    const baseOps = counted?.baseline.ops ?? mergeSnapshots([]);
    out.push(`**MongoDB commands per nurture step** (driver command monitoring; a command belongs to the job run whose async context sent it; the counting round, ${COUNT_LEADS} leads, run after the timed rounds with the instruments on): ${unitsLine(botOps, NURTURE_LANE, 'step runs')}.`, '');
    out.push(...laneTable(botOps, NURTURE_LANE, 'step run'), '');
    out.push(`What else the bot sent to MongoDB meanwhile: ${otherLanes(botOps, NURTURE_LANE)}.`, '');
    if (botOps.lanes.has(NO_LANE)) {
      // Group commits write outside any job's context: the steps' fences and advances, the records queue's outcomes.
      const runs = [...(botOps.units.get(NURTURE_LANE)?.values() ?? [])].reduce((a, b) => a + b, 0);
      out.push(
        `Shared writes (src/group-commit.ts: the steps' fence inserts, one per position, and their advances, and the records queue's outcomes, each a command for all the callers of the moment; run outside any job's context, so counted here), per nurture step run:`,
        '',
      );
      out.push(...opsTable(botOps.lanes.get(NO_LANE)!, Math.max(1, runs), 'step run'), '');
    }
    if (botOps.lanes.has(RECORDS_LANE)) out.push(...laneTable(botOps, RECORDS_LANE, 'record job'), '');
    out.push(`The baseline's commands per step: ${unitsLine(baseOps, BASELINE_LANE, 'steps')}.`, '');
    out.push(...laneTable(baseOps, BASELINE_LANE, 'step'), '');
  }
  for (const d of dispatch) {
    const steps = Math.max(1, d.stepsDone);
    const all = [...d.ops.ops.values()];
    const mongoMs = all.reduce((s, e) => s + e.ms, 0);
    const mongoOps = all.reduce((s, e) => s + e.n, 0);
    out.push(
      `### 5. Dispatch under a WeCom rate limit, R = ${d.rate}/s (${d.leads.toLocaleString('en-US')} leads, NURTURE_CONCURRENCY=${d.concurrency}, one in-process worker set${LATENCY_MS ? `, every add_msg_template answer delayed ${LATENCY_MS} ms` : ''})`,
      '',
    );
    out.push(
      `- enrollMany of the ${d.leads.toLocaleString('en-US')} leads (before the workers started): ${fmt(d.enrollSeconds, 2)} s; every first step was due when the workers started; ${d.capped ? `**stopped at the ${d.capS} s cap** with ${d.okCalls.length.toLocaleString('en-US')} of ${d.leads.toLocaleString('en-US')} sent` : `all ${d.leads.toLocaleString('en-US')} sent ${fmt((d.okCalls.at(-1)! - d.dueAt) / 1000, 1)} s after the workers started`}.`,
      `- ok add_msg_template calls: steady ${fmt(d.steady, 2)}/s (${fmt(d.steadyWindowS, 0)} whole 1-s windows in the middle 80 % of the run), first-to-last ${fmt(d.overall, 1)}/s; fullest 1-second window ${d.maxPerSecond} calls (limit ${d.rate}); errors (errcode: count) ${Object.keys(d.errors).length ? JSON.stringify(d.errors) : 'none'}.`,
      ...(d.overLimit.length ? [`- 1-second windows in which the sandbox received more than ${d.rate} calls (arrival offset within the window[:errcode]): ${d.overLimit.map((w) => `[${w}]`).join('; ')}.`] : []),
      `- steps finished: ${d.stepsAtCap.toLocaleString('en-US')} by the end of the run, ${d.stepsDone.toLocaleString('en-US')} once the workers had closed (${Object.entries(d.stepResults).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}); step wall time (BullMQ active → completed, includes waiting for the rate limiter and the lead lock): p50 ${fmt(percentile(d.stepMs, 50), 0)} ms, p90 ${fmt(percentile(d.stepMs, 90), 0)} ms, p99 ${fmt(percentile(d.stepMs, 99), 0)} ms.`,
      ...(d.failures.length ? [`- failed step runs (first ${d.failures.length}): ${d.failures.map((f) => `\`${f}\``).join('; ')}.`] : []),
      `- deliveries by status once the workers had closed: ${JSON.stringify(d.deliveries)}; ok add_msg_template calls by then: ${d.okAfterClose}.`,
      `- MongoDB from the workers' start until they closed: ${mongoOps.toLocaleString('en-US')} commands = ${fmt(mongoOps / steps, 1)} per finished step (all lanes), ${fmt(mongoMs / steps, 0)} ms of command time per finished step (summed over concurrent commands). Commands per nurture step run: ${unitsLine(d.ops, NURTURE_LANE, 'step runs')}; ${otherLanes(d.ops, NURTURE_LANE)}.`,
      '',
    );
    out.push(...laneTable(d.ops, NURTURE_LANE, 'step run'), '');
    if (d.solo) {
      const so = d.solo;
      const mongoMsSolo = [...(so.ops.lanes.get(NURTURE_LANE)?.values() ?? [])].reduce((s, e) => s + e.ms, 0);
      const p50 = percentile(so.stepMs, 50);
      out.push(
        `One at a time (NURTURE_CONCURRENCY=1, ${so.steps} of the remaining steps, ${so.leads.toLocaleString('en-US')} leads and ${so.deliveries.toLocaleString('en-US')} deliveries in the database): step p50 ${fmt(p50, 0)} ms, p90 ${fmt(percentile(so.stepMs, 90), 0)} ms (≈ ${fmt(1000 / p50, 1)} steps/s for one runner); mean step ${fmt(so.stepMs.reduce((a, b) => a + b, 0) / Math.max(1, so.steps), 0)} ms, MongoDB command time of the step ${fmt(mongoMsSolo / Math.max(1, so.steps), 0)} ms (summed over its commands; the records queue's writes ran meanwhile: ${otherLanes(so.ops, NURTURE_LANE)}):`,
        '',
      );
      out.push(...laneTable(so.ops, NURTURE_LANE, 'step run'), '');
    }
    if (d.pushdown.length) {
      out.push('Which of a step\'s reads the database filters itself (FerretDB `explain` → `filterPushdown`; false = every document of the collection is fetched and filtered in FerretDB):', '');
      for (const p of d.pushdown) out.push(`- \`${p.query}\`: ${String(p.pushdown)}`);
      out.push('');
    }
  }
  return out.join('\n');
}

// ------------------------------------------------------------------------------------------------ main

type Cleanups = Cleanup[];

async function main(): Promise<void> {
  const run = new BenchRun(HARD_TIMEOUT_MS);
  const { cleanups } = run;
  const startedAt = Date.now();
  await run.run(async () => {
    const { name, redis } = run.redisScope('bench_nurture', REDIS_URL);
    const db = await run.database();
    const dbLabel = db.label;

    // Templates: the test fixtures plus the benchmark's two 4-step sequences.
    const templates = await mkdtemp(path.join(os.tmpdir(), 'bench-nurture-templates-'));
    cleanups.push({ name: 'templates', fn: () => rm(templates, { recursive: true, force: true }) });
    await cp(path.join(ROOT, 'test/fixtures/templates'), templates, { recursive: true });
    for (const [key, yaml] of Object.entries(SEQUENCES)) await writeFile(path.join(templates, 'sequences', `${key}.yaml`), yaml);

    const machine = {
      ...(await machineInfo(redis)),
      db: dbLabel,
      load: [] as string[],
    };
    const load = (when: string) => machine.load.push(`${when} ${fmt(os.loadavg()[0]!, 2)}`);
    load('start');
    log(`db ${dbLabel} at ${db.uri}; Redis prefix ${name}:`);
    const stats = new OpStats();

    // ---------------------------------------------------------------- 1–3: enrollment, baseline, memory
    let enroll: EnrollResult | undefined;
    let baseline: BaselineResult | undefined;
    let baselineAfter: BaselineResult | undefined;
    if (process.env.BENCH_SKIP_ENROLL !== '1') {
      // Same-length prefixes, so key names (part of what a job costs) are the same size in both runs.
      const botPrefix = `${name}:bot`;
      const rawPrefix = `${name}:raw`;
      baseline = await baselinePhase({ redis, prefix: rawPrefix, cleanups });
      load('after baseline');
      // Free the baseline's 100,000 keys before the enrollment runs (its memory was read above).
      log(`  deleted ${await deleteMatching(redis, `${rawPrefix}:*`)} baseline keys`);

      const config = loadConfig(botEnv({ db, dbName: `${name}_enroll`, prefix: botPrefix, templates, sandboxUrl: 'http://127.0.0.1:9' }));
      const ctx = await createContext(config, createLogger('silent'));
      stats.attach(mongoose.connection.getClient());
      try {
        enroll = await enrollPhase({ ctx, redis, prefix: botPrefix, stats });
        load('after enrollment');
      } finally {
        await mongoose.connection.db?.dropDatabase().catch(() => undefined);
        await closeContext(ctx);
        await deleteMatching(redis, `${botPrefix}:*`);
      }
      // The baseline again, after: the machine's speed drifts (other processes share its 2 cores), so the
      // enrollment is compared with the mean of a run before and a run after it.
      baselineAfter = await baselinePhase({ redis, prefix: rawPrefix, cleanups });
      log(`  deleted ${await deleteMatching(redis, `${rawPrefix}:*`)} baseline keys`);
      load('after second baseline');
    }

    // ---------------------------------------------------------------- 4: dispatch against the same-run baseline
    const scene = (tag: string, rate: number | null, n: number, sceneStats = stats) => ({ db, dbName: `${name}_${tag}`, prefix: `${name}:${tag}`, templates, rate, n, redis, stats: sceneStats });
    const rounds: Round[] = [];
    let counted: Round | null = null;
    if (process.env.BENCH_SKIP_DISPATCH !== '1' && process.env.BENCH_SKIP_ROUNDS !== '1') {
      // Alternating baseline / bot, each on a fresh database seeded alike, so drift on a shared machine hits both.
      // Timed without instruments (no command monitoring, no lanes): they cost the bot, which awaits far more often
      // than the baseline, a larger share of its time (about 9 % of its CPU in a profile).
      const quiet = new OpStats(false);
      for (let r = 1; r <= ROUNDS; r++) {
        log(`round ${r}/${ROUNDS}: baseline (lead by _id, fence insert, enrollment by _id), ${ROUND_LEADS} leads, concurrency ${CONCURRENCY}, cap ${ROUND_CAP_S} s`);
        const b = await withDispatch(scene(`r${r}b`, null, ROUND_LEADS, quiet), (sc) => stepBaseline(sc, quiet, ROUND_CAP_S));
        log(`round ${r}/${ROUNDS}: bot dispatch, no binding rate limit, ${ROUND_LEADS} leads, NURTURE_CONCURRENCY=${CONCURRENCY}, cap ${ROUND_CAP_S} s`);
        const f = await withDispatch(scene(`r${r}f`, null, ROUND_LEADS, quiet), (sc) => botDispatch(sc, { rate: null, capS: ROUND_CAP_S, stats: quiet }));
        rounds.push({ baseline: b, bot: f });
        log(`  round ${r}: bot / baseline = ${fmt((f.steady / b.steady) * 100, 1)} %`);
        load(`after round ${r}`);
      }
      // The commands of each step, counted on a round of their own (instruments on, not timed).
      log(`counting round: baseline and bot with command monitoring, ${COUNT_LEADS} leads each`);
      const b = await withDispatch(scene('cb', null, COUNT_LEADS), (sc) => stepBaseline(sc, stats, ROUND_CAP_S));
      const f = await withDispatch(scene('cf', null, COUNT_LEADS), (sc) => botDispatch(sc, { rate: null, capS: ROUND_CAP_S, stats }));
      counted = { baseline: b, bot: f };
    }

    // ---------------------------------------------------------------- 5: dispatch under a rate limit
    const dispatch: DispatchResult[] = [];
    if (process.env.BENCH_SKIP_DISPATCH !== '1') {
      const n = Math.max(10, Math.round(RATE * DISPATCH_SECONDS));
      log(`dispatch: R = ${RATE}/s, ${n} leads, NURTURE_CONCURRENCY=${CONCURRENCY}, cap ${DISPATCH_CAP_S} s${LATENCY_MS ? `, add_msg_template latency +${LATENCY_MS} ms` : ''}`);
      const high = await withDispatch(scene('dhi', RATE, n), (sc) => botDispatch(sc, { rate: RATE, capS: DISPATCH_CAP_S, stats, soloSteps: 30, explain: true }));
      dispatch.push(high);
      load(`after dispatch at ${RATE}/s`);
      // A rate the bot reaches: 80 % of the least it reached (at R, and without a binding limit), rounded down.
      const reached = Math.min(RATE, ...[high.steady, ...rounds.map((r) => r.bot.steady)].filter(Number.isFinite));
      const low = RATE_LOW_ENV ?? Math.max(2, Math.floor(0.8 * reached));
      const nLow = Math.max(10, Math.round(low * DISPATCH_SECONDS));
      log(`dispatch: R = ${low}/s, ${nLow} leads, NURTURE_CONCURRENCY=${CONCURRENCY}, cap ${DISPATCH_CAP_S} s`);
      dispatch.push(await withDispatch(scene('dlo', low, nLow), (sc) => botDispatch(sc, { rate: low, capS: DISPATCH_CAP_S, stats })));
      load(`after dispatch at ${low}/s`);
    }

    console.log(report({ machine, enroll, baseline, baselineAfter, rounds, counted, dispatch }));
    console.log(`\nTotal run time ${fmt((Date.now() - startedAt) / 1000, 0)} s.`);
  });
}

void main();
