/**
 * `npm run bench:lead-size`: what one read or write of a lead by `_id` costs the database, by the lead's size (its
 * touches), against a lead with none in the same run. On FerretDB every read and write decodes the whole document
 * (and a write encodes it again), so a lead's touches set what each of its reads and writes costs; a 客服 run reads and
 * writes its lead once (docs/architecture.md, "One 客服 message"). See docs/benchmarks-kf.md.
 *
 * For each size, BENCH_LEADS (200) leads shaped as the bot stores them (src/store/models/lead.ts), each with that many
 * touches; then, one after the other, a `findOne` by `_id` and an `updateOne` by `_id` (`$inc` of one counter) of each
 * lead, timed one at a time. The sizes are alternated over BENCH_ROUNDS (3) rounds (the machine is noisy); the report
 * gives the median per operation of each round, and their spread. Also measured: the same touches kept as one string
 * field, the touch log the bot keeps since 2026-12-06 (src/store/touch-log.ts), against the array of sub-documents it
 * kept before (the `touches` rows of the report). Knobs: BENCH_LEADS, BENCH_ROUNDS, BENCH_TOUCHES (0,40,200),
 * BENCH_DB=sqlite|postgresql (MONGODB_URI wins).
 */
import mongoose from 'mongoose';
import { withDatabase } from '../../src/dev/embedded-database.js';
import { Lead } from '../../src/store/models/lead.js';
import { foldLegacy } from '../../src/store/touch-log.js';
import { BenchRun, BENCH_DB, log, machineInfo } from './harness.js';

const num = (name: string, def: number) => (process.env[name] ? Number(process.env[name]) : def);
const LEADS = num('BENCH_LEADS', 200);
const ROUNDS = num('BENCH_ROUNDS', 3);
const SIZES = (process.env.BENCH_TOUCHES ?? '0,40,200').split(',').map(Number);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const bench = new BenchRun(30 * 60_000);

/** A lead as the bot stores it, with `touches` touches of a 客服 customer: in its touch log (`packed`), or as it kept them before, an array. */
function leadDoc(i: number, touches: number, packed: boolean): Record<string, unknown> {
  const at = new Date();
  const list = Array.from({ length: touches }, (_, n) => ({
    eventKey: `kf|wkBENCHKF000000000000000000001|${String(n).padStart(6, '0')}MbIQsIBSZltGCAUJ1HbvbYLg6UTb6Koh`,
    kind: n % 5 === 0 ? 'kf_conversation' : 'reply',
    channelKey: 'organic',
    userId: null,
    at,
    ref: 'hello',
  }));
  const doc = new Lead({ _id: `wxbench:wmBENCH${String(i).padStart(6, '0')}`, corpId: 'wxbench', externalUserId: `wmBENCH${String(i).padStart(6, '0')}`, firstTouch: { channelKey: 'organic', userId: 'kf:wkBENCH', at } }).toObject() as Record<string, unknown>;
  doc.kf = { openKfid: 'wkBENCHKF000000000000000000001', lastInboundAt: at, sentSinceInbound: 0, state: 1 };
  doc.scoreReasons = [{ reason: 'reply ×2', points: 20 }, { reason: '客服 conversation', points: 10 }];
  if (packed) doc.touchLog = foldLegacy(list, '');
  else {
    doc.touches = list;
    delete doc.touchLog;
  }
  return doc;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Median ms per findOne and per updateOne over the leads of one collection. */
async function measure(coll: mongoose.mongo.Collection, ids: string[]): Promise<{ read: number; write: number }> {
  const reads: number[] = [];
  const writes: number[] = [];
  for (const id of ids) {
    const t = performance.now();
    await coll.findOne({ _id: id as never });
    reads.push(performance.now() - t);
  }
  for (const id of ids) {
    const t = performance.now();
    await coll.updateOne({ _id: id as never }, { $inc: { 'kf.sentSinceInbound': 1, __v: 1 } });
    writes.push(performance.now() - t);
  }
  return { read: median(reads), write: median(writes) };
}

await bench.run(async () => {
  const db = await bench.database();
  const { redis } = bench.redisScope('bench_lead_size_info', REDIS_URL);
  const machine = await machineInfo(redis);
  const conn = await mongoose.createConnection(withDatabase(db.uri, `bench_lead_size_${Date.now().toString(36)}`)).asPromise();
  bench.cleanups.push({ name: 'bench database', fn: async () => (await conn.dropDatabase(), await conn.close()) });
  const shapes = [...SIZES.map((n) => ({ n, packed: false })), ...SIZES.filter((n) => n > 0).map((n) => ({ n, packed: true }))].map((s) => ({ ...s, coll: `leads_${s.n}${s.packed ? '_packed' : ''}`, name: '' }));
  const ids = Array.from({ length: LEADS }, (_, i) => `wxbench:wmBENCH${String(i).padStart(6, '0')}`);
  for (const s of shapes) {
    const docs = Array.from({ length: LEADS }, (_, i) => leadDoc(i, s.n, s.packed));
    await conn.collection(s.coll).insertMany(docs as never[]);
    s.name = `${s.n} touches${s.n ? (s.packed ? ' in the touch log' : ' as an array') : ''} (${(JSON.stringify(docs[0]).length / 1024).toFixed(1)} KB as JSON)`;
  }
  const results = new Map<string, Array<{ read: number; write: number }>>();
  for (let round = 1; round <= ROUNDS; round++) {
    // Alternated: each round measures every shape once, in a rotated order.
    const order = shapes.map((_, i) => shapes[(i + round - 1) % shapes.length]!);
    for (const s of order) {
      const r = await measure(conn.collection(s.coll), ids);
      results.set(s.name, [...(results.get(s.name) ?? []), r]);
    }
    log(`round ${round}/${ROUNDS} done`);
  }
  const base = results.get(shapes[0]!.name)!;
  const fmt = (xs: number[]) => `${median(xs).toFixed(2)} ms (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;
  const rows = shapes.map((s) => {
    const r = results.get(s.name)!;
    const ratio = median(r.map((x) => x.write)) / median(base.map((x) => x.write));
    return `| ${s.name} | ${fmt(r.map((x) => x.read))} | ${fmt(r.map((x) => x.write))} | ${ratio.toFixed(1)}× |`;
  });
  console.log(`## bench:lead-size — ${new Date().toISOString()}

Command: \`BENCH_LEADS=${LEADS} BENCH_ROUNDS=${ROUNDS} BENCH_TOUCHES=${SIZES.join(',')} BENCH_DB=${BENCH_DB} npm run bench:lead-size\`
Machine: ${machine.cpus} cores (${machine.model}), ${machine.mem}, node ${machine.node}, ${db.label}

Median per operation by \`_id\` over ${LEADS} leads, median of ${ROUNDS} alternated rounds (lowest–highest round):

| lead | findOne | updateOne (\`$inc\`) | write vs ${shapes[0]!.n} touches |
|---|---|---|---|
${rows.join('\n')}`);
});
