/**
 * The exactly-once delivery ledger (docs/architecture.md, "Exactly once"). A customer-facing message is sent at most
 * once, whatever crashes, retries or duplicate jobs happen:
 * - before calling WeCom, the sender takes its fences in one insert: the attempt (`<key>#<n>`) and any unit of the
 *   lead's send budget it needs. Only one runner can insert a fence;
 * - after WeCom answered, the outcome is recorded once under `key` (first writer wins);
 * - an attempt fence with no outcome means a runner died mid-call: the delivery is `unknown` and never sent again.
 * Used by welcomes, nurture steps, 客服 replies and welcomes, staff notices and alerts (and, next, campaign sends).
 */
import { eachById } from './by-id.js';
import { z } from 'zod';
import { VIAS } from '../domain/vocabulary.js';
import type { TimelineType } from './timeline-types.js';
import { GroupCommit } from '../group-commit.js';
import { insertManyOnce, writeErrorsOf } from './create-once.js';
import { Delivery, DELIVERY_STATUSES, type DeliveryFields, type DeliveryStatus } from './models/delivery.js';
import { Fence, type FenceKind } from './models/fence.js';
import { recordStep, recordSteps, type StepToRecord } from './timeline.js';

/** A fence to take: its deterministic id, what it stands for, and the delivery taking it. */
export interface FenceSpec {
  id: string;
  kind: FenceKind;
  for: string;
}

/** The id of attempt `n` (1, 2, ...) of delivery `key`. */
export const attemptFenceId = (key: string, n: number) => `${key}#${n}`;

/**
 * Takes `fences` in order as one ordered insert would, stopping at the first that is already held. `taken` fences
 * were inserted (they are this caller's now); `blocked` is the one held by someone else, if any (the ones after it
 * were not tried). The insert is shared with the callers taking fences meanwhile (writeFences).
 */
export async function takeFences(fences: readonly FenceSpec[]): Promise<{ taken: FenceSpec[]; blocked: FenceSpec | null }> {
  if (!fences.length) return { taken: [], blocked: null };
  const take: FenceTake = { fences, taken: [], blocked: null, error: null };
  await fenceWriter.add(take);
  if (take.error) throw take.error;
  return { taken: take.taken, blocked: take.blocked };
}

interface FenceTake {
  fences: readonly FenceSpec[];
  /** Filled by the write: what an ordered insert of `fences` alone would have given, or its error. */
  taken: FenceSpec[];
  blocked: FenceSpec | null;
  error: Error | null;
}

/**
 * The fences of the callers of the moment (src/group-commit.ts). More callers than fences per caller: their fences
 * position by position, one unordered insert per position (every caller's first fence, then the second fence of
 * those whose first was free, ...): each caller gets exactly what an ordered insert of its own gives — nothing past a
 * held fence is ever inserted — for one command per position (a nurture step takes 3) shared by all of them, instead
 * of one each. Otherwise (a lone caller, a few): one ordered insert each, as always. On FerretDB a shared insert of
 * 16 costs the server about a quarter of 16 single ones per document, and the driver a fifth. Errors stay with their
 * callers: a document refused for another reason than "held" fails its caller only; a lost connection fails every
 * caller still inserting (what was inserted is unknown, as for an insert of their own).
 */
async function writeFences(takes: FenceTake[]): Promise<void> {
  const at = new Date();
  const doc = (f: FenceSpec) => ({ _id: f.id as never, kind: f.kind, for: f.for, at });
  const positions = Math.max(...takes.map((t) => t.fences.length));
  // Few callers with several fences each: one ordered insert each costs fewer commands.
  if (takes.length <= positions) {
    await Promise.all(takes.map((t) => insertOrdered(t, t.fences.map(doc))));
    return;
  }
  for (let position = 0; position < positions; position++) {
    const round = takes.filter((t) => !t.blocked && !t.error && position < t.fences.length);
    if (!round.length) return;
    const refused = new Map<number, number | undefined>();
    try {
      await Fence.collection.insertMany(round.map((t) => doc(t.fences[position]!)), { ordered: false });
    } catch (err) {
      const writeErrors = writeErrorsOf(err, round.length);
      if (!writeErrors.length) {
        for (const t of round) t.error = err as Error;
        return;
      }
      for (const w of writeErrors) refused.set(w.index, w.code);
    }
    round.forEach((t, i) => {
      const f = t.fences[position]!;
      if (!refused.has(i)) t.taken.push(f);
      else if (refused.get(i) === 11000) t.blocked = f;
      else t.error = Object.assign(new Error(`fence ${f.id} refused (code ${refused.get(i)})`), { code: refused.get(i) });
    });
  }
}

/** One caller's fences in one ordered insert: those before the first held one are taken. */
async function insertOrdered(t: FenceTake, docs: object[]): Promise<void> {
  try {
    await Fence.collection.insertMany(docs as never[], { ordered: true });
    t.taken = [...t.fences];
  } catch (err) {
    // Ordered: the first listed error is where the insert stopped.
    const first = writeErrorsOf(err, docs.length)[0];
    if (first?.code !== 11000) {
      t.error = err as Error;
      return;
    }
    t.taken = t.fences.slice(0, first.index);
    t.blocked = t.fences[first.index] ?? null;
  }
}

/** Callers (not fences) one shared write serves at most. */
const FENCE_BATCH = 200;
const fenceWriter = new GroupCommit<FenceTake>(writeFences, FENCE_BATCH, 1);

/**
 * Takes many fences in one unordered insert (a batch of sends): every fence is tried. Returns the ids that were
 * held already; all the others are this caller's now.
 */
export async function takeFencesUnordered(fences: readonly FenceSpec[]): Promise<Set<string>> {
  const at = new Date();
  const existed = await insertManyOnce(Fence.collection, fences.map((f) => ({ _id: f.id, kind: f.kind, for: f.for, at })));
  return new Set([...existed].map((i) => fences[i]!.id));
}

/** Gives back fences this caller has just taken (no holder check needed for fences it inserted). */
export async function releaseTakenFences(ids: readonly string[]): Promise<void> {
  await eachById(ids, (id) => Fence.deleteOne({ _id: id }));
}

/** Takes one fence: true for exactly one caller. */
export async function takeFence(fence: FenceSpec): Promise<boolean> {
  return (await takeFences([fence])).blocked === null;
}

/** Which delivery holds each of `ids` (absent: nobody). Only read when a fence turned out to be held. */
export async function holdersOf(ids: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const id of ids) {
    // One read by _id each: the one lookup every MongoDB-wire server answers from its primary key.
    const f = await Fence.findById(id, { for: 1 }).lean();
    if (f) out.set(id, f.for);
  }
  return out;
}

/** Gives back budget fences a delivery took but did not use (its send failed, or it took another way). */
export async function releaseFences(ids: readonly string[], holder: string): Promise<void> {
  for (const id of ids) await Fence.deleteOne({ _id: id, for: holder });
}

/** What the ledger keeps of a delivery (the fields of its record). */
export const deliveryRecordSchema = z.object({
  key: z.string().min(1),
  kind: z.string().min(1),
  corpId: z.string().min(1),
  externalUserId: z.string().min(1),
  userId: z.string().min(1),
  status: z.enum(DELIVERY_STATUSES),
  via: z.enum(VIAS).nullable().default(null),
  attempts: z.number().int().nonnegative().default(0),
  errcode: z.number().int().nullable().default(null),
  reason: z.string().nullable().default(null),
  content: z.unknown().optional(),
  sentAt: z.coerce.date().nullable().default(null),
  enrollmentId: z.string().nullable().default(null),
  sequenceKey: z.string().nullable().default(null),
  step: z.number().int().nullable().default(null),
  caseSlug: z.string().nullable().default(null),
  localDay: z.string().nullable().default(null),
  localMonth: z.string().nullable().default(null),
  msgid: z.string().nullable().default(null),
  runId: z.string().nullable().default(null),
  group: z.string().nullable().default(null),
});
export type DeliveryRecord = z.input<typeof deliveryRecordSchema>;

/** The timeline entry that goes with an outcome; one without a delivery names its lead and source key itself. */
export const outcomeStepSchema = z.object({
  // Typed as a timeline type for the code that writes outcomes; read back, any type a queued job carries is kept.
  type: z.custom<TimelineType>((v) => typeof v === 'string' && v.length > 0),
  detail: z.record(z.unknown()).default({}),
  at: z.coerce.date(),
  lead: z.object({ corpId: z.string().min(1), externalUserId: z.string().min(1) }).optional(),
  sourceKey: z.string().min(1).optional(),
});

/** An outcome to record: a delivery's record and its step on the lead's timeline, or a timeline step alone. */
export const outcomeSchema = z
  .object({
    delivery: deliveryRecordSchema.optional(),
    step: outcomeStepSchema.optional(),
    /** A sent 客服 message its sender counted on the lead's window already (a 客服 run, which holds the lead's lock). */
    counted: z.boolean().optional(),
  })
  .refine((o) => o.delivery || (o.step?.lead && o.step.sourceKey), 'an outcome needs a delivery, or a step with its lead and source key');
export type Outcome = z.input<typeof outcomeSchema>;

/** What recording an outcome found: the status on record (null for a step alone) and whether this call created it. */
export interface Recorded {
  status: DeliveryStatus | null;
  created: boolean;
}

/**
 * Records outcomes, each once (first writer wins): the delivery records in one unordered insert, then their timeline
 * steps in one insert into the log of steps (src/store/timeline.ts, recordSteps). A delivery's step is written with
 * the record that won: a record that existed is read back by `_id`, and a second, different outcome for the same key
 * (a re-run that lost) leaves no trace, while the first one's step is written also when its run was cut off between
 * the two writes. A stage change, the one step with a record of its own, goes through recordStep. Used by the records
 * queue (the outcomes of its jobs running at once) and by a campaign's batch.
 */
export async function recordOutcomes(input: readonly Outcome[]): Promise<Recorded[]> {
  const outcomes = input.map((o) => outcomeSchema.parse(o));
  const now = new Date();
  const withRecord = outcomes.flatMap((o, i) => (o.delivery ? [{ i, d: o.delivery }] : []));
  // Written as plain documents (one insert for the batch): the fields mongoose would add, added here.
  const docs = withRecord.map(({ d }) => ({ _id: d.key, ...d, content: d.content ?? null, clicks: 0, lastClickAt: null, createdAt: now, updatedAt: now }));
  // Outcomes whose record existed (an earlier run, or an earlier outcome of this batch): the one on record decides.
  const existed = new Set([...(await insertManyOnce(Delivery.collection, docs))].map((j) => withRecord[j]!.i));
  const onRecord = await deliveriesOf(outcomes.flatMap((o, i) => (existed.has(i) ? [o.delivery!.key] : [])));

  const results: Recorded[] = [];
  const steps: StepToRecord[] = [];
  const stageSteps: StepToRecord[] = [];
  outcomes.forEach((o, i) => {
    const created = o.delivery ? !existed.has(i) : false;
    const status = o.delivery ? (created ? o.delivery.status : ((onRecord.get(o.delivery.key)?.status as DeliveryStatus | undefined) ?? o.delivery.status)) : null;
    results.push({ status, created });
    if (!o.step || (o.delivery && status !== o.delivery.status)) return;
    const lead = o.delivery ? { corpId: o.delivery.corpId, externalUserId: o.delivery.externalUserId } : o.step.lead!;
    const step = { lead, sourceKey: o.step.sourceKey ?? o.delivery!.key, type: o.step.type, detail: o.step.detail, at: o.step.at };
    (step.type === 'stage_changed' ? stageSteps : steps).push(step);
  });
  await recordSteps(steps);
  for (const s of stageSteps) await recordStep(s.lead, s.sourceKey, s.type, s.detail, s.at);
  return results;
}

/** The recorded deliveries of `keys` that exist, by key (one read by `_id` each, src/store/by-id.ts). */
export async function deliveriesOf(keys: readonly string[]): Promise<Map<string, DeliveryFields & { _id: string }>> {
  const found = (await eachById(keys, (k) => Delivery.findById(k).lean())) as Array<(DeliveryFields & { _id: string }) | null>;
  return new Map(found.flatMap((d) => (d ? [[d._id, d] as const] : [])));
}

/** The recorded delivery of `key`, if any. */
export async function deliveryOf(key: string): Promise<(DeliveryFields & { _id: string }) | null> {
  return Delivery.findById(key).lean();
}

/**
 * Moves a recorded delivery on from one of `from` (a mass message the owner confirmed, a 客服 message WeCom later
 * reported failed). True when it moved.
 */
export async function updateOutcome(key: string, from: readonly DeliveryStatus[], set: Partial<DeliveryFields>): Promise<boolean> {
  const res = await Delivery.updateOne({ _id: key, status: { $in: [...from] } }, { $set: set });
  return res.modifiedCount > 0;
}
