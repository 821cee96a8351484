import type { Sequence, SequenceStep } from '../../content/sequences.js';
import { FUNNEL, type Stage } from '../vocabulary.js';
import { nextAllowedTime } from './clock.js';

/** Why an enrollment ends early. `stage:<s>` = the lead reached stage s. */
export type StopReason = 'reply' | 'unsubscribe' | 'churn' | 'owner_removed' | 'not_customer' | `stage:${Stage}`;

/**
 * Reasons that end every enrollment whatever its stopOn says: nobody is messaged after leaving or opting out, and a
 * customer gets no marketing (a service sequence, `kind: service`, goes on: it is for customers).
 */
const ALWAYS_STOP: ReadonlySet<StopReason> = new Set(['unsubscribe', 'churn', 'owner_removed', 'stage:customer']);

/** When step `index` is due, counted from `fromMs`, moved out of the sequence's quiet hours. */
export function planDue(seq: Sequence, index: number, fromMs: number): Date {
  return new Date(nextAllowedTime(fromMs + seq.steps[index]!.delay, seq.quietHours));
}

/** Whether `reason` ends an enrollment in `seq`. */
export function stopsSequence(seq: Sequence | undefined, reason: StopReason): boolean {
  if (reason === 'stage:customer' && seq?.kind === 'service') return false;
  // A lead moved back out of `customer` (a 成交 marked by mistake) is no longer one to serve: its service sequence ends.
  if (reason === 'not_customer') return seq?.kind === 'service';
  return ALWAYS_STOP.has(reason) || (seq?.stopOn as string[] | undefined)?.includes(reason) === true;
}

/** The stage-based stop that applies to a lead now, if any (`stage:qualified` stops a lead in opportunity too). */
export function stageStop(seq: Sequence, stage: Stage): StopReason | null {
  if (stage === 'lost') return 'churn';
  if (stage === 'unsubscribed') return 'unsubscribe';
  const reached = FUNNEL.indexOf(stage);
  for (const s of FUNNEL) {
    const reason = `stage:${s}` as StopReason;
    if (FUNNEL.indexOf(s) <= reached && stopsSequence(seq, reason)) return reason;
  }
  return null;
}

/** Whether a step's `when` condition holds for a lead in `stage`. */
export function whenHolds(when: NonNullable<SequenceStep['when']>, stage: Stage): boolean {
  return (!when.stage || when.stage.includes(stage)) && (!when.notStage || !when.notStage.includes(stage));
}

/** The delivery key of an enrollment's step: one customer-facing message per step, ever. */
export const nurtureDeliveryKey = (enrollmentId: string, step: number) => `nurture|${enrollmentId}|${step}`;
