import { CampaignGroup } from '../../store/models/campaign-group.js';
import { CampaignRun } from '../../store/models/campaign-run.js';
import { Delivery } from '../../store/models/delivery.js';
import { Enrollment } from '../../store/models/enrollment.js';
import { Lead, leadId } from '../../store/models/lead.js';
import { touchesOf, type TouchHolder } from '../../store/touch-log.js';
import { parsedDefinition } from './catalog.js';

/** How long after a lead got the run's message what it does counts for the run. */
export const FOLLOW_UP_WINDOW_MS = 7 * 86_400_000;
/** Touches that are the customer answering: a message, a question that shows intent, a 客服 conversation. */
const REPLY_KINDS = new Set(['reply', 'intent', 'kf_conversation']);
const CLICK_KINDS = new Set(['click', 'case_opened']);
const STAGE_MOVES = ['engaged', 'qualified', 'opportunity', 'customer'] as const;

/** What the leads a run reached did in the 7 days after (as of `asOf`; `final` once the 7 days are over). */
export interface FollowUp {
  asOf: Date;
  final: boolean;
  /**
   * When the final count is due (null once final): 7 days after the run, or later for a lead reached late (an owner
   * who confirmed the mass message days after the run has 7 days of its own) and for a message still waiting for its
   * owner (it may yet be confirmed).
   */
  finalAt?: Date | null;
  /** Leads the run's message reached (sent by 客服, confirmed by the owner, forwarded by the owner), or enrolled. */
  reached: number;
  /** Of those, leads who wrote back (a message, a price/demo/trial question, a 客服 conversation). */
  replied: number;
  /** Of those, leads who opened a tracked link (any of ours). */
  clicked: number;
  /** Opens of the run's own links: its per-customer 客服 links and its group messages' shared links. */
  linkClicks: number;
  /** Of those, leads who first reached each stage in the window; lost and unsubscribed too. */
  stageMoves: Record<(typeof STAGE_MOVES)[number] | 'lost' | 'unsubscribed', number>;
}

/** What the count may know of when results still come in. */
export interface FollowUpOptions {
  /** The time of the count (tests: a count a week later). */
  now?: number;
  /**
   * How long after its task is made a mass message's result is still asked for (the last of MASS_RESULT_POLL_SCHEDULE):
   * a message waiting for its owner until then may still be confirmed, and its lead reached.
   */
  resultsForMs?: number;
}

/**
 * Counts a run's follow-up: who it reached and when (its deliveries that were sent, or the enrollments it made),
 * then, from each of those leads, the touches (replies, clicks) and the stages first reached (`reached`, `lostAt`,
 * `unsubscribedAt`) within 7 days of its message. The leads are read by _id in batches, or in one streaming pass when
 * the run reached a large share of them (cheaper on databases that scan for `$in`). Stored on the run.
 *
 * A count asked to be final is final only once every reached lead's 7 days are over and no message waits for its
 * owner (or its results are no longer asked for): otherwise it is stored as it stands with `finalAt`, the time the
 * final count is due (the caller runs it again then). Past 7 days after the last result could come in, it is final
 * whatever still waits.
 */
export async function countFollowUp(runId: string, final: boolean, opts: FollowUpOptions = {}): Promise<FollowUp | null> {
  const now = opts.now ?? Date.now();
  const run = await CampaignRun.findById(runId, { definition: 1, startedAt: 1, finishedAt: 1 }).lean();
  if (!run) return null;
  const campaign = parsedDefinition(run.definition);
  const reachedAt = new Map<string, number>();
  let linkClicks = 0;
  /** The latest time a message still waiting for its owner has its result asked for (0: none waits). */
  let waitingUntil = 0;
  if (campaign.content.sequence) {
    if (run.startedAt) {
      for await (const e of Enrollment.find({ sequenceKey: campaign.content.sequence, enrolledAt: run.startedAt }, { corpId: 1, externalUserId: 1, enrolledAt: 1 }).lean().cursor({ batchSize: 2000 })) {
        reachedAt.set(leadId(e.corpId, e.externalUserId), e.enrolledAt.getTime());
      }
    }
  } else {
    for await (const d of Delivery.find({ runId }, { corpId: 1, externalUserId: 1, status: 1, sentAt: 1, createdAt: 1, clicks: 1 }).lean().cursor({ batchSize: 2000 })) {
      linkClicks += d.clicks ?? 0;
      if (d.status === 'sent') reachedAt.set(leadId(d.corpId, d.externalUserId), (d.sentAt ?? d.createdAt).getTime());
      else if (d.status === 'submitted') waitingUntil = Math.max(waitingUntil, d.createdAt.getTime() + (opts.resultsForMs ?? 0));
    }
    for (const g of await CampaignGroup.find({ runId }, { clicks: 1 }).lean()) linkClicks += g.clicks ?? 0;
  }
  const finishedAt = run.finishedAt?.getTime() ?? now;
  const wait = finalCountAt(finishedAt, reachedAt.values(), waitingUntil, opts.resultsForMs ?? 0, now);
  // The first day's count says when the final one comes: its job is due 7 days after the run, or it waits then.
  const finalAt = final ? wait : new Date(Math.max(finishedAt + FOLLOW_UP_WINDOW_MS, wait?.getTime() ?? 0));
  const out: FollowUp = { asOf: new Date(now), final: final && wait === null, finalAt, reached: reachedAt.size, replied: 0, clicked: 0, linkClicks, stageMoves: { engaged: 0, qualified: 0, opportunity: 0, customer: 0, lost: 0, unsubscribed: 0 } };
  const fields = { touchLog: 1, touches: 1, reached: 1, lostAt: 1, unsubscribedAt: 1 };
  type Row = TouchHolder & { _id: string; reached?: Record<string, Date | undefined>; lostAt?: Date | null; unsubscribedAt?: Date | null };
  const count = (l: Row) => {
    const from = reachedAt.get(l._id);
    if (from === undefined) return;
    const within = (d: Date | null | undefined) => d !== null && d !== undefined && d.getTime() > from && d.getTime() <= from + FOLLOW_UP_WINDOW_MS;
    const touches = touchesOf(l).filter((t) => within(t.at));
    if (touches.some((t) => REPLY_KINDS.has(t.kind))) out.replied++;
    if (touches.some((t) => CLICK_KINDS.has(t.kind))) out.clicked++;
    for (const s of STAGE_MOVES) if (within(l.reached?.[s])) out.stageMoves[s]++;
    if (within(l.lostAt)) out.stageMoves.lost++;
    if (within(l.unsubscribedAt)) out.stageMoves.unsubscribed++;
  };
  if (reachedAt.size && reachedAt.size >= (await Lead.estimatedDocumentCount()) * 0.2) {
    for await (const l of Lead.find({}, fields).lean().cursor({ batchSize: 2000 })) count(l as unknown as Row);
  } else {
    const ids = [...reachedAt.keys()];
    for (let i = 0; i < ids.length; i += 1000) {
      for (const l of await Lead.find({ _id: { $in: ids.slice(i, i + 1000) } }, fields).lean()) count(l as unknown as Row);
    }
  }
  await CampaignRun.updateOne({ _id: runId }, { $set: { followUp: out } });
  return out;
}

/**
 * When a count asked to be final must wait (null: it is final now): until the last reached lead's 7 days are over,
 * and a minute past the last result still to come in (then counted again, with the leads it reached). Never later
 * than 7 days after the last result could come in: a message whose result never came does not hold the count open.
 */
function finalCountAt(finishedAt: number, reached: Iterable<number>, waitingUntil: number, resultsForMs: number, now: number): Date | null {
  let due = 0;
  for (const from of reached) due = Math.max(due, from + FOLLOW_UP_WINDOW_MS);
  if (waitingUntil) due = Math.max(due, waitingUntil + 60_000);
  const latest = finishedAt + resultsForMs + FOLLOW_UP_WINDOW_MS;
  return due > now && now < latest ? new Date(Math.min(due, latest)) : null;
}
