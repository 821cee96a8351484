/**
 * `npm run bench:funnel`: the funnel per channel (GET /admin/api/funnel) over BENCH_LEADS (100,000) leads on the
 * embedded database. See docs/benchmarks-funnel.md.
 *
 * 1. Setup (not timed): BENCH_LEADS leads inserted with the fields the bot stores (owners, tags, touches, reached
 *    stages, grade, role), added over 60 days through 8 channels, in every stage.
 * 2. The rollups are built from the leads (what the daily rescore does; the live path keeps them by increments),
 *    timed against a same-run baseline that streams the same leads with the same projection and does nothing else.
 * 3. The funnel query: 30 days, all channels (and 7 days of one channel), against a same-run baseline that reads the
 *    same rollup documents once and does nothing else. Alternating rounds (BENCH_ROUNDS, 5): baseline, funnel, ...
 *    Reported: each round, the mean, the spread, and the funnel's speed as a share of the baseline's.
 *
 * Knobs: BENCH_LEADS, BENCH_ROUNDS, BENCH_DB=sqlite|postgresql (FerretDB handler; MONGODB_URI wins).
 */
import os from 'node:os';
import mongoose from 'mongoose';
import { funnel } from '../../src/domain/funnel/funnel.js';
import { FUNNEL_FIELDS, rebuildFunnel } from '../../src/domain/funnel/rollup.js';
import { localDay } from '../../src/domain/nurture/clock.js';
import { withDatabase } from '../../src/dev/embedded-database.js';
import { RedisKeys } from '../../src/redis/keys.js';
import { FunnelDay } from '../../src/store/models/funnel-day.js';
import { Lead } from '../../src/store/models/lead.js';
import { BenchRun, log, machineInfo } from './harness.js';
import { foldLegacy } from '../../src/store/touch-log.js';

const num = (name: string, def: number) => (process.env[name] ? Number(process.env[name]) : def);
const LEADS = num('BENCH_LEADS', 100_000);
const ROUNDS = num('BENCH_ROUNDS', 5);
const TZ = 'Asia/Shanghai';
const CORP = 'wwbenchfunnel';
const CHANNELS = ['expo2026', 'gzh-article', 'douyin-ad', 'baidu-sem', 'xhs-note', 'referral', 'salon-sh', 'organic'];
const STAGE_MIX = ['added', 'added', 'added', 'engaged', 'engaged', 'qualified', 'opportunity', 'customer', 'lost', 'unsubscribed'];
const FUNNEL = ['added', 'engaged', 'qualified', 'opportunity', 'customer'];

const bench = new BenchRun(60 * 60_000);

/** A lead as the bot stores it, deterministic in `i`. */
function leadDoc(i: number, now: number) {
  const stage = STAGE_MIX[(i * 7) % STAGE_MIX.length]!;
  const addedAt = new Date(now - ((i * 37) % (60 * 24)) * 3_600_000);
  const reachedRank = stage === 'lost' || stage === 'unsubscribed' ? (i % 3) : FUNNEL.indexOf(stage);
  const reached = Object.fromEntries(FUNNEL.slice(0, reachedRank + 1).map((s) => [s, addedAt]));
  const channel = CHANNELS[i % CHANNELS.length]!;
  return {
    _id: `${CORP}:wm${String(i).padStart(8, '0')}`,
    corpId: CORP,
    externalUserId: `wm${String(i).padStart(8, '0')}`,
    name: `客户${i}`,
    corpName: i % 3 ? `公司${i % 500}` : null,
    industry: ['制造业', '零售', '物流', null][i % 4],
    role: ['decision-maker', 'manager', 'user', null][i % 4],
    stage,
    reached,
    grade: ['S', 'A', 'B', 'B', 'C', 'C', 'C', 'C', 'C', 'C'][i % 10],
    score: (i * 13) % 100,
    firstTouch: { channelKey: channel, userId: 'zhangsan', at: addedAt },
    touchLog: foldLegacy([{ eventKey: `add|${i}`, kind: 'add', channelKey: channel, userId: 'zhangsan', at: addedAt }], ''),
    owners: [{ userId: ['zhangsan', 'lisi', 'wangwu'][i % 3], channelKey: channel, state: channel, addedAt, status: stage === 'lost' ? 'left' : 'active', pending: false, tags: [] }],
    tags: [{ group: '渠道', name: channel, id: `et${i % 50}` }],
    tagKeys: [`渠道/${channel}`],
    lastTouchAt: addedAt,
    createdAt: addedAt,
    updatedAt: addedAt,
  };
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(3)} s`;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const spread = (xs: number[]) => `${seconds(Math.min(...xs))} – ${seconds(Math.max(...xs))}`;

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t = performance.now();
  const value = await fn();
  return { ms: performance.now() - t, value };
}

await bench.run(async () => {
  const { redis, name } = bench.redisScope('bench_funnel', process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const db = await bench.database();
  await mongoose.connect(withDatabase(db.uri, name));
  bench.cleanups.push({ name: 'drop database', fn: async () => { await mongoose.connection.db?.dropDatabase(); await mongoose.disconnect(); } });
  await Promise.all([Lead.createIndexes(), FunnelDay.createIndexes()]);
  const keys = new RedisKeys(name);
  const now = Date.now();

  log(`seeding ${LEADS} leads (not timed)`);
  const seedStart = performance.now();
  for (let i = 0; i < LEADS; i += 5000) {
    await Lead.collection.insertMany(Array.from({ length: Math.min(5000, LEADS - i) }, (_, j) => leadDoc(i + j, now)) as never[], { ordered: false });
    if ((i / 5000) % 4 === 3) log(`  ${i + 5000} leads`);
  }
  log(`seeded in ${seconds(performance.now() - seedStart)}`);

  log('building the rollups from the leads, and the baseline that only streams the same leads');
  const readLeads = await timed(async () => {
    let n = 0;
    for await (const _ of Lead.find({}, FUNNEL_FIELDS).lean().cursor({ batchSize: 2000 })) n++;
    return n;
  });
  const rebuild = await timed(() => rebuildFunnel(redis, keys, TZ));
  const rollups = await FunnelDay.countDocuments();

  const to = localDay(now, TZ);
  const from30 = localDay(now - 29 * 86_400_000, TZ);
  const from7 = localDay(now - 6 * 86_400_000, TZ);
  const cases = [
    { label: '30 days, all channels', q: { from: from30, to }, filter: { day: { $gte: from30, $lte: to } } },
    { label: '7 days, one channel', q: { from: from7, to, channel: 'expo2026' }, filter: { day: { $gte: from7, $lte: to }, channel: 'expo2026' } },
  ];
  const results = [];
  for (const c of cases) {
    const base: number[] = [];
    const query: number[] = [];
    let answer: Awaited<ReturnType<typeof funnel>> | null = null;
    let docs = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const b = await timed(async () => (await FunnelDay.find(c.filter).lean()).length);
      docs = b.value;
      base.push(b.ms);
      const f = await timed(() => funnel(c.q));
      answer = f.value;
      query.push(f.ms);
      log(`  ${c.label}, round ${r + 1}: baseline ${seconds(b.ms)}, funnel ${seconds(f.ms)}`);
    }
    results.push({ ...c, base, query, docs, answer: answer! });
  }

  // The same numbers straight from the leads, as a check of the rollups.
  const direct = { added: 0, qualified: 0 };
  for await (const l of Lead.find({}, FUNNEL_FIELDS).lean().cursor({ batchSize: 2000 })) {
    const day = localDay(l.firstTouch!.at!.getTime(), TZ);
    if (day < from30 || day > to) continue;
    direct.added++;
    if ((l.reached as Record<string, unknown> | undefined)?.qualified) direct.qualified++;
  }
  const total30 = results[0]!.answer.total;

  const m = await machineInfo(redis);
  const lines = [
    `## bench:funnel — ${new Date().toISOString()}`,
    '',
    `Machine: ${m.cpus} cores (${m.model}), ${m.mem}, node ${m.node}, Redis ${m.redis}, database ${db.label}. Load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}.`,
    `Leads: ${LEADS} over 60 days and ${CHANNELS.length} channels → ${rollups} rollup documents (one per day and channel).`,
    '',
    '| | time | same-run baseline | share of the baseline\'s speed |',
    '|---|---|---|---|',
    ...results.map((r) => `| funnel, ${r.label} (${r.docs} rollups), mean of ${ROUNDS} | ${seconds(mean(r.query))} (${spread(r.query)}) | ${seconds(mean(r.base))} (${spread(r.base)}) read the same rollups | ${((mean(r.base) / mean(r.query)) * 100).toFixed(0)} % |`),
    `| rollups rebuilt from every lead | ${seconds(rebuild.ms)} | ${seconds(readLeads.ms)} stream the ${readLeads.value} leads | ${((readLeads.ms / rebuild.ms) * 100).toFixed(0)} % |`,
    '',
    `Targets: the funnel query under 1 s (${mean(results[0]!.query) < 1000 ? 'met' : 'missed'}) and at least 50 % of its baseline (${mean(results[0]!.base) / mean(results[0]!.query) >= 0.5 ? 'met' : 'missed'}).`,
    `Check: 30 days from the rollups: ${total30.added} added, ${total30.qualified} reached qualified; straight from the leads: ${direct.added} and ${direct.qualified} (${total30.added === direct.added && total30.qualified === direct.qualified ? 'equal' : 'DIFFERENT'}).`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
});

