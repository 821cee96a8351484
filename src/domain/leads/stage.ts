import { randomBytes } from 'node:crypto';
import type { BotContext } from '../../context.js';
import type { LeadDoc, LeadRef } from '../../store/models/lead.js';
import { recordStep } from '../../store/timeline.js';
import { enrollServiceLocked, type ServiceFrom } from '../nurture/service-sequence.js';
import { stopForStage, stopLocked } from '../nurture/stop.js';
import { FUNNEL, STAGES, type Stage } from '../vocabulary.js';

/** What moved a lead's stage: an event the bot saw (`system`) or a member of staff. */
export interface StageCause {
  by: 'system' | 'staff';
  /**
   * What happened: click, reply, intent, churn, return (a lost lead added us again), unsubscribe, resubscribe (an
   * explicit 订阅), command, api, ...
   */
  source: string;
  /** The member of staff (userid) who moved it, if any. */
  actor?: string | null;
  reason?: string | null;
  /** The event the move comes from, so a re-run records it once (default: a fresh key). */
  sourceKey?: string;
  at?: Date;
}

/** One stage move. */
export interface StageChange {
  from: Stage;
  to: Stage;
}

const rank = (s: Stage) => FUNNEL.indexOf(s);

/**
 * Whether a move is allowed, by the lifecycle's rules (docs/ops-guide.md, "Stages"):
 * - staff may move a lead to any stage (with a reason, checked where staff speak: commands and the admin API);
 * - what the bot sees never moves a lead backwards in the funnel (a click does not undo "qualified");
 * - `unsubscribed` ends only by an explicit re-subscribe (to `lost` when nobody of ours has the customer any more);
 * - a lost lead comes back only by adding us again (`return`); until then what it does moves nothing.
 */
export function allowsMove(from: Stage, to: Stage, cause: Pick<StageCause, 'by' | 'source'>): boolean {
  if (from === to) return false;
  if (cause.by === 'staff') return true;
  if (from === 'unsubscribed') return cause.source === 'resubscribe';
  if (to === 'unsubscribed' || to === 'lost') return true;
  if (from === 'lost') return cause.source === 'return';
  return rank(to) > rank(from);
}

/**
 * Applies a move to a lead document (inside a repository mutation), if the rules allow it: the stage, when each funnel
 * stage was first reached (a jump counts for every stage on the way), and what goes with leaving or opting out (the
 * stage it had, stamped). Returns the change, or null when the move is not allowed or the lead is there already.
 */
export function applyStage(doc: LeadDoc, to: Stage, cause: Pick<StageCause, 'by' | 'source'>, at = new Date()): StageChange | null {
  if (!STAGES.includes(to)) throw new Error(`unknown stage "${to}"`);
  const from = doc.stage as Stage;
  if (!allowsMove(from, to, cause)) return null;
  if (to === 'unsubscribed' || to === 'lost') {
    if (rank(from) >= 0) doc.stageBeforeExit = from;
    if (to === 'unsubscribed') doc.unsubscribedAt = at;
    else doc.lostAt = at;
  }
  if (from === 'unsubscribed') doc.unsubscribedAt = null;
  const reached = (doc.reached ??= {}) as Record<string, Date | undefined>;
  for (const s of FUNNEL.slice(0, rank(to) + 1)) reached[s] ??= at;
  doc.markModified('reached');
  doc.stage = to;
  if (cause.by === 'staff' && (!doc.followedUpAt || doc.followedUpAt < at)) doc.followedUpAt = at;
  return { from, to };
}

/**
 * Where a lead that subscribes again returns to: the funnel stage it had (returnStage), unless every member who had
 * the customer has left them (it was lost before opting out, or became so meanwhile): then `lost`, which only adding
 * us again ends. A 微信客服 customer who was never anyone's contact has no owners and returns to the funnel.
 */
export function resubscribeStage(doc: { stageBeforeExit?: string | null; owners?: ReadonlyArray<{ status?: string | null }> | null }): Stage {
  const owners = doc.owners ?? [];
  return owners.length && !owners.some((o) => o.status === 'active') ? 'lost' : returnStage(doc);
}

/** Where a lead that comes back (adds us again, or re-subscribes) returns to: the funnel stage it had, else `added`. */
export function returnStage(doc: { stageBeforeExit?: string | null }): Stage {
  const s = doc.stageBeforeExit as Stage | null | undefined;
  return s && FUNNEL.includes(s) ? s : 'added';
}

/**
 * Moves a lead to `to`: the one way a stage changes. The move goes on the lead's timeline with what moved it, who and
 * why, and the enrollments the new stage stops end (e.g. `stopOn: stage:qualified`; every one at customer, lost or
 * unsubscribed). Returns the change, or null when the lead is unknown, already there, or the rules refuse the move
 * (see allowsMove).
 */
export async function moveStage(ctx: StageCtx, lead: LeadRef, to: Stage, cause: StageCause, out?: StageMoveOut): Promise<StageChange | null> {
  return ctx.leads.withLock(lead, () => moveStageLocked(ctx, lead, to, cause, out));
}

/**
 * What a move did besides the change it returns: the lead was enrolled in its service sequence (it became a customer,
 * or staff asking again completed an enrollment missed before).
 */
export interface StageMoveOut {
  serviceEnrolled?: boolean;
}

type StageCtx = Pick<BotContext, 'leads' | 'queues' | 'sequences' | 'channels'>;

/** moveStage for a caller that holds the lead's lock. */
export async function moveStageLocked(ctx: StageCtx, lead: LeadRef, to: Stage, cause: StageCause, out?: StageMoveOut): Promise<StageChange | null> {
  const at = cause.at ?? new Date();
  let change: StageChange | null = null;
  let from: ServiceFrom = { channelKey: null, owner: null };
  let there = false;
  await ctx.leads.mutateLocked(lead, null, (doc) => {
    there = doc.stage === to;
    change = applyStage(doc, to, cause, at);
    from = serviceFrom(doc);
  });
  if (!change) {
    // Staff asking again for a customer whose move was saved but whose service enrollment was not (the database failed
    // in between, and the request failed with it): it is made now. A lead enrolled before is not enrolled again.
    if (there && to === 'customer' && cause.by === 'staff' && (await enrollServiceLocked(ctx, lead, from)) && out) out.serviceEnrolled = true;
    return null;
  }
  await recordStageChange(lead, change, cause, at);
  if ((await enteredStage(ctx, lead, change, from)) && out) out.serviceEnrolled = true;
  return change;
}

/** Where a lead's service sequence would come from (its channel, and the member it talks with). */
export const serviceFrom = (doc: Pick<LeadDoc, 'firstTouch' | 'lastInteraction'>): ServiceFrom => ({ channelKey: doc.firstTouch?.channelKey ?? null, owner: doc.lastInteraction?.userId ?? null });

/**
 * What follows a lead's move (the lead's lock held): the enrollments the new stage stops end (`stopOn:
 * stage:qualified`; every marketing one at customer, lost or unsubscribed), a new customer is enrolled in its service
 * sequence, and a customer moved back into the funnel (a 成交 marked by mistake) leaves it. True when the lead was
 * enrolled in its service sequence now.
 */
export async function enteredStage(ctx: StageCtx, lead: LeadRef, change: StageChange, from: ServiceFrom): Promise<boolean> {
  await stopForStage(ctx, lead, change.to);
  if (change.to === 'customer') return enrollServiceLocked(ctx, lead, from);
  if (change.from === 'customer' && rank(change.to) >= 0) await stopLocked(ctx, lead, 'not_customer');
  return false;
}

/** Puts a stage move on the lead's timeline. */
export async function recordStageChange(lead: LeadRef, change: StageChange, cause: StageCause, at = cause.at ?? new Date()): Promise<void> {
  const sourceKey = cause.sourceKey ?? `stage|${at.getTime()}|${randomBytes(4).toString('hex')}`;
  await recordStep(lead, sourceKey, 'stage_changed', {
    from: change.from,
    to: change.to,
    by: cause.by,
    source: cause.source,
    actor: cause.actor ?? null,
    reason: cause.reason ?? null,
  }, at);
}
