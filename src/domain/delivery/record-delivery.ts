import type { BotContext } from '../../context.js';
import { GroupCommit } from '../../group-commit.js';
import { recordOutcomes, type Outcome } from '../../store/delivery-ledger.js';

type Ctx = Pick<BotContext, 'leads'>;

/**
 * Records an outcome (src/store/delivery-ledger.ts) and what it changes on the lead: a 微信客服 message sent counts
 * toward the lead's open window [D:94677], as shown to staff (the window's fences are what senders go by). Counted
 * once, by the call that created the record, and only while no newer customer message has opened a new window; an
 * outcome marked `counted` was counted by its sender (a 客服 run, src/domain/kf/run-outcomes.ts).
 */
export async function recordDelivery(ctx: Ctx, outcome: Outcome): Promise<void> {
  await recordDeliveries(ctx, [outcome]);
}

/** Records many outcomes as recordDelivery does one: the records and their steps in one insert each. */
export async function recordDeliveries(ctx: Ctx, outcomes: readonly Outcome[]): Promise<void> {
  const recorded = await recordOutcomes(outcomes);
  for (const [i, { status, created }] of recorded.entries()) {
    const d = outcomes[i]!.delivery;
    if (!created || !d || status !== 'sent' || d.via !== 'kf' || !d.sentAt || outcomes[i]!.counted) continue;
    const lead = { corpId: d.corpId, externalUserId: d.externalUserId };
    // Under the lead's lock, as every write of a lead: FerretDB applies an update as read-modify-write of the whole
    // document, so an unlocked increment here can undo a concurrent locked write (a 客服 run's hand-off or clock).
    await ctx.leads.update(lead, { 'kf.lastInboundAt': { $lte: new Date(d.sentAt) } }, { $inc: { 'kf.sentSinceInbound': 1 } });
  }
}

/** Outcomes one write of the records queue takes at most. */
const RECORD_BATCH = 200;
const recorders = new WeakMap<Ctx, GroupCommit<Outcome>>();

/**
 * The records queue's writer for this context (docs/architecture.md, "Exactly once"): the outcomes its jobs bring are
 * written together, one write at a time, and what arrives meanwhile goes in the next; each job ends when its outcome
 * is written. A step costs the database a share of two inserts instead of two writes of its own.
 */
export function outcomeRecorder(ctx: Ctx): GroupCommit<Outcome> {
  let r = recorders.get(ctx);
  if (!r) recorders.set(ctx, (r = new GroupCommit((items) => recordDeliveries(ctx, items), RECORD_BATCH, 1)));
  return r;
}
