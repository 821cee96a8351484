import type { Scoring } from '../../content/scoring.js';

/** Thresholds that put the given shares of leads (best first) in S, S+A and S+A+B. */
export interface Calibration {
  leads: number;
  thresholds: { S: number; A: number; B: number };
  /** How many leads each grade would get with those thresholds. */
  counts: { S: number; A: number; B: number; C: number };
}

/**
 * The thresholds that would put the top `shares.S` of `scores` in S, the top `shares.A` in S or A (the 80/20 rule:
 * 20 % by default) and the top `shares.B` in S, A or B. Ties stay together, so a grade can come out a little larger.
 */
export function calibrate(scores: readonly number[], shares = { S: 0.05, A: 0.2, B: 0.5 }): Calibration {
  const sorted = [...scores].sort((a, b) => b - a);
  const at = (share: number) => (sorted.length ? sorted[Math.max(0, Math.ceil(sorted.length * share) - 1)]! : 0);
  let S = at(shares.S);
  let A = at(shares.A);
  let B = at(shares.B);
  // Thresholds must rise from B to S.
  A = Math.min(A, S - 1);
  B = Math.min(B, A - 1);
  S = Math.max(S, A + 1);
  const counts = { S: 0, A: 0, B: 0, C: 0 };
  for (const s of sorted) counts[s >= S ? 'S' : s >= A ? 'A' : s >= B ? 'B' : 'C']++;
  return { leads: sorted.length, thresholds: { S, A, B }, counts };
}

/** How the current thresholds sort the same scores. */
export function currentCounts(scores: readonly number[], scoring: Pick<Scoring, 'grades'>): Calibration['counts'] {
  const { S, A, B } = scoring.grades;
  const counts = { S: 0, A: 0, B: 0, C: 0 };
  for (const s of scores) counts[s >= S ? 'S' : s >= A ? 'A' : s >= B ? 'B' : 'C']++;
  return counts;
}
