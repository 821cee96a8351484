import type { Sequence, SequenceStep } from '../../content/sequences.js';
import { Delivery } from '../../store/models/delivery.js';
import { Enrollment } from '../../store/models/enrollment.js';

/** How one step of a sequence did. */
export interface StepStats {
  index: number;
  /** The step in a few words: its text's start or its link (empty for a case study). */
  label: string;
  caseStudy: boolean;
  sent: number;
  /** Mass-message tasks given to the owner (waiting for or confirmed by them: the step's first outcome). */
  submitted: number;
  reminded: number;
  failed: number;
  unknown: number;
  skipped: number;
  /** Opens of the step's tracked links. */
  clicks: number;
  /**
   * Leads who replied to this step: their enrollment was stopped by the reply (a sequence with `stopOn: [reply]`) after
   * this step, the last it went through, before the next.
   */
  replies: number;
  /** Enrollments that stopped here, for any reason: before this step went out (`step` is the next step to run). */
  stops: number;
}

/** Characters of a step's text or link title a label keeps. */
const LABEL_CHARS = 24;

/** A step in a few words: its text's start (or its link's title), with "…" where it was cut; empty for a case study. */
export function stepLabel(step: Pick<SequenceStep, 'caseStudy' | 'text' | 'link'>): string {
  if (step.caseStudy) return '';
  const chars = [...(step.text ?? step.link?.title ?? '').replace(/\s+/g, ' ').trim()];
  return chars.length > LABEL_CHARS ? `${chars.slice(0, LABEL_CHARS - 1).join('')}…` : chars.join('');
}

/** Per sequence: enrollments by status, and each step's outcomes, clicks, replies and stops. */
export async function sequenceStats(sequences: ReadonlyMap<string, Sequence>) {
  const out = [];
  for (const seq of sequences.values()) {
    const steps: StepStats[] = seq.steps.map((s, index) => ({
      index,
      label: stepLabel(s),
      caseStudy: Boolean(s.caseStudy),
      sent: 0, submitted: 0, reminded: 0, failed: 0, unknown: 0, skipped: 0, clicks: 0, replies: 0, stops: 0,
    }));
    const status = { active: 0, completed: 0, stopped: 0 };
    for await (const e of Enrollment.find({ sequenceKey: seq.key }, { status: 1, step: 1, stopReason: 1, history: 1 }).lean().cursor({ batchSize: 1000 })) {
      status[(e.status ?? 'active') as keyof typeof status]++;
      for (const h of e.history ?? []) {
        const s = steps[h.step ?? -1];
        if (s && h.outcome && h.outcome in s && typeof (s as unknown as Record<string, unknown>)[h.outcome] === 'number' && h.outcome !== 'index') (s as unknown as Record<string, number>)[h.outcome]! += 1;
      }
      if (e.status === 'stopped') {
        if (steps[e.step]) steps[e.step]!.stops++;
        // `step` is the next step to run: the lead replied to the one before it (none, before the first step).
        if (e.stopReason === 'reply' && steps[e.step - 1]) steps[e.step - 1]!.replies++;
      }
    }
    for (const d of await Delivery.find({ sequenceKey: seq.key, clicks: { $gt: 0 } }, { step: 1, clicks: 1 }).lean()) {
      const s = steps[d.step ?? -1];
      if (s) s.clicks += (d as { clicks?: number }).clicks ?? 0;
    }
    out.push({ key: seq.key, name: seq.name, kind: seq.kind, enrollments: status, steps });
  }
  return out;
}
