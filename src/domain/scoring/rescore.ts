import type { BotContext } from '../../context.js';
import { UPDATES_PER_COMMAND } from '../../store/batched-updates.js';
import { tryLock, withLock } from '../../redis/lock.js';
import { Lead, splitLeadId } from '../../store/models/lead.js';
import { touchesOf } from '../../store/touch-log.js';
import type { LeadIndex } from '../leads/lead-index.js';
import { rebuildFunnel } from '../funnel/rollup.js';
import type { Grade } from '../vocabulary.js';
import { roleOf, scoreLead } from './score.js';

/**
 * Updates per write: FerretDB 1.x (SQLite) slows down sharply on larger batches (see flush), and holds a connection per
 * update until the command ends (src/store/batched-updates.ts): no more than the bot's other update commands take.
 */
const BATCH = UPDATES_PER_COMMAND;
/** The lead fields a score needs. */
const SCORE_FIELDS = { industry: 1, role: 1, corpName: 1, firstTouch: 1, touchLog: 1, touches: 1, reached: 1, tags: 1, score: 1, grade: 1, gradePin: 1, __v: 1 } as const;
/** A lead as the rescore reads it. */
type ScoredFields = NonNullable<Awaited<ReturnType<typeof readOne>>>;
const readOne = (id: string) => Lead.findById(id, SCORE_FIELDS).lean();

/**
 * Recomputes every lead's score (intent decays day by day) and writes the ones that changed, by _id in batches, then
 * rebuilds the funnel rollups from the leads. A rescore never notifies: upgrades are told when a touch causes them;
 * one caused by editing scoring.yaml shows in the report instead of flooding owners. Returns what it did.
 */
export async function rescoreAll(ctx: Pick<BotContext, 'scoring' | 'redis' | 'keys' | 'config' | 'log' | 'leadIndex'>, now = Date.now()): Promise<{ leads: number; changed: number; rollups: number }> {
  let leads = 0;
  let changed = 0;
  let ops: Parameters<typeof Lead.bulkWrite>[0] = [];
  let rows: Parameters<LeadIndex['patch']>[0] = [];
  const busy: string[] = [];
  const flush = async () => {
    // Each lead is written holding its lock, as every other writer of a lead does: the version check below is what
    // keeps a write made since the read, but FerretDB does not apply it atomically against a write landing at the same
    // moment. A lead whose lock is held is being written now: it is read and scored again at the end of the pass,
    // waiting for its lock then (not every writer scores the lead).
    const locks = await Promise.all(rows.map((r) => {
      const ref = splitLeadId(r.id);
      return ref ? tryLock(ctx.redis, ctx.keys.leadLock(ref.corpId, ref.externalUserId)) : Promise.resolve(null);
    }));
    busy.push(...rows.filter((_, i) => !locks[i]).map((r) => r.id));
    ops = ops.filter((_, i) => locks[i]);
    rows = rows.filter((_, i) => locks[i]);
    try {
      await write();
    } finally {
      await Promise.all(locks.map((l) => l?.release()));
    }
    ops = [];
    rows = [];
  };
  const write = async () => {
    // Small ordered batches: FerretDB 1.x (SQLite) takes a large batch of updates far longer than the same updates in
    // small ones while other writes go on (measured on 300 demo leads: 60 ordered 1.5 s, 100 unordered and 300
    // ordered over a minute); MongoDB is no slower either way.
    if (ops.length) {
      const res = await Lead.bulkWrite(ops, { ordered: true });
      if (res.matchedCount < ops.length) {
        // Leads written since they were read (a touch, a pin: each rescored by its own write) keep what that write
        // set; the index gets their current values, not this pass's.
        const current = await Promise.all(rows.map((r) => Lead.findById(r.id, { score: 1, grade: 1, role: 1 }).lean()));
        rows = rows.flatMap((r, i) => {
          const c = current[i];
          return c ? [{ ...r, score: c.score ?? 0, grade: c.grade as Grade, role: c.role ?? null }] : [];
        });
      }
    }
    await ctx.leadIndex.patch(rows);
  };
  /** Queues the write of a lead whose score, grade or role changed; false when nothing changed. */
  const plan = (lead: ScoredFields): boolean => {
    const role = roleOf(lead.tags ?? [], ctx.scoring) ?? null;
    const scored = scoreLead({ ...lead, role, touches: touchesOf(lead) }, ctx.scoring, now);
    const grade: Grade = (lead.gradePin as Grade | null) ?? scored.grade;
    if (scored.score === lead.score && grade === lead.grade && role === (lead.role ?? null)) return false;
    // Only the version read: a lead written meanwhile (a touch moving its score, staff pinning a grade) is left as that
    // write made it, never overwritten with this pass's older view (which would also make its next touch look like a
    // fresh upgrade, and notify its owner twice).
    ops.push({ updateOne: { filter: { _id: lead._id, __v: lead.__v }, update: { $set: { score: scored.score, grade, role, scoreReasons: scored.reasons, scoredAt: new Date(now) }, $inc: { __v: 1 } } } });
    rows.push({ id: lead._id, score: scored.score, grade, role, at: new Date() });
    return true;
  };
  for await (const lead of Lead.find({}, SCORE_FIELDS).lean().cursor({ batchSize: 2000 })) {
    leads++;
    if (!plan(lead)) continue;
    changed++;
    if (ops.length >= BATCH) await flush();
  }
  await flush();
  // The leads that were being written: each read again and written holding its lock.
  for (const id of busy) {
    const ref = splitLeadId(id);
    if (!ref) continue;
    await withLock(ctx.redis, ctx.keys.leadLock(ref.corpId, ref.externalUserId), async () => {
      const lead = await readOne(id);
      if (lead && plan(lead)) await write();
    })
      // A lead held for a minute is left to tomorrow's pass: the others' writes and the funnel rebuild go on.
      .catch((err: Error) => ctx.log.warn({ lead: id, err: err.message }, 'rescore: lead left for the next pass'))
      .finally(() => {
        ops = [];
        rows = [];
      });
  }
  const rebuilt = await rebuildFunnel(ctx.redis, ctx.keys, ctx.config.OPS_TIMEZONE, (n) => ctx.log.info({ leads: n }, 'funnel rebuild: leads read'));
  ctx.log.info({ leads, changed, rollups: rebuilt.rollups, rollupsLeftLive: rebuilt.skipped }, 'scores recomputed and funnel rebuilt');
  return { leads, changed, rollups: rebuilt.rollups };
}
