import { randomBytes } from 'node:crypto';
import type { BotContext } from '../../context.js';
import type { LeadDoc, LeadRef } from '../../store/models/lead.js';
import { recordStep } from '../../store/timeline.js';
import { stopForStage } from '../nurture/stop.js';
import { STAGES, type Stage } from '../vocabulary.js';

/** What moved a lead's stage: an event the bot saw (`system`) or a member of staff. */
export interface StageCause {
  by: 'system' | 'staff';
  /** What happened: click, churn, return (a lost lead added us again), unsubscribe, command, api, ... */
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

/**
 * Applies a move to a lead document (inside a repository mutation): the stage, and what goes with it (opting out
 * stamps unsubscribedAt, leaving stamps lostAt). Returns the change, or null when the lead is there already.
 */
export function applyStage(doc: LeadDoc, to: Stage, at = new Date()): StageChange | null {
  if (!STAGES.includes(to)) throw new Error(`unknown stage "${to}"`);
  const from = doc.stage as Stage;
  if (from === to) return null;
  doc.stage = to;
  if (to === 'unsubscribed') doc.unsubscribedAt = at;
  if (to === 'lost') doc.lostAt = at;
  return { from, to };
}

/**
 * Moves a lead to `to`: the one way a stage changes. The move goes on the lead's timeline with what moved it, who and
 * why, and the enrollments the new stage stops end (e.g. `stopOn: stage:qualified`; every one at customer, lost or
 * unsubscribed). Returns the change, or null when the lead is unknown or already there.
 */
export async function moveStage(ctx: Pick<BotContext, 'leads' | 'queues' | 'sequences'>, lead: LeadRef, to: Stage, cause: StageCause): Promise<StageChange | null> {
  return ctx.leads.withLock(lead, () => moveStageLocked(ctx, lead, to, cause));
}

/** moveStage for a caller that holds the lead's lock. */
export async function moveStageLocked(ctx: Pick<BotContext, 'leads' | 'queues' | 'sequences'>, lead: LeadRef, to: Stage, cause: StageCause): Promise<StageChange | null> {
  const at = cause.at ?? new Date();
  let change: StageChange | null = null;
  await ctx.leads.mutateLocked(lead, null, (doc) => {
    change = applyStage(doc, to, at);
  });
  if (!change) return null;
  await recordStageChange(lead, change, cause, at);
  await stopForStage(ctx, lead, to);
  return change;
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
