import type { Scoring } from '../../content/scoring.js';

/** Thresholds that put at most the given shares of leads (best first) in S, S+A and S+A+B. */
export interface Calibration {
  leads: number;
  thresholds: { S: number; A: number; B: number };
  /** How many leads each grade would get with those thresholds. */
  counts: { S: number; A: number; B: number; C: number };
  /** The cuts moved above a score that many leads share, because counting them would have gone over the share. */
  ties: TieAtCut[];
}

/** Leads sharing the score where a share ends, left out because with them the grades would get more than the share. */
export interface TieAtCut {
  /** The grades the share is for. */
  grades: 'S' | 'S+A' | 'S+A+B';
  share: number;
  score: number;
  /** How many leads have that score. */
  tied: number;
  /** How many leads the grades would have with them. */
  withTied: number;
}

/**
 * The thresholds that would put at most `shares.S` of `scores` in S, at most `shares.A` in S or A (the 80/20 rule:
 * 20 % by default) and at most `shares.B` in S, A or B, each as close to its share as it can be. Leads with the same
 * score get the same grade, so where counting all the leads tied at a cut would go over its share, the cut moves
 * above them (the grade gets fewer than its share) and `ties` says so. Scores are whole points.
 */
export function calibrate(scores: readonly number[], shares = { S: 0.05, A: 0.2, B: 0.5 }): Calibration {
  const sorted = [...scores].sort((a, b) => b - a);
  const ties: TieAtCut[] = [];
  /**
   * Where a share ends: `at` is the score of the lowest lead within it, `lowest` the threshold just above the best lead
   * outside it; every threshold from `lowest` to `at` gives the grades the same leads.
   */
  const cut = (share: number, grades: TieAtCut['grades']): { at: number; lowest: number } => {
    if (!sorted.length) return { at: 0, lowest: 0 };
    const room = Math.floor(sorted.length * share + 1e-9);
    if (room >= sorted.length) return { at: sorted[sorted.length - 1]!, lowest: sorted[sorted.length - 1]! };
    const out = sorted[room]!;
    const first = sorted.indexOf(out);
    if (first < room) ties.push({ grades, share, score: out, tied: sorted.lastIndexOf(out) - first + 1, withTied: sorted.lastIndexOf(out) + 1 });
    return { at: first > 0 ? sorted[first - 1]! : out + 1, lowest: out + 1 };
  };
  const s = cut(shares.S, 'S');
  const a = cut(shares.A, 'S+A');
  const b = cut(shares.B, 'S+A+B');
  // Thresholds rise from B to S. A grade whose share holds the same leads as the one above it goes below that one's
  // threshold when it can without taking in more leads; else the grade above gives it the leads at its threshold.
  // Raising a threshold only takes leads out of the grades above it, so every share still holds.
  let S = s.at;
  let A = Math.min(a.at, S - 1);
  if (A < a.lowest) [A, S] = [a.at, a.at + 1];
  let B = Math.min(b.at, A - 1);
  if (B < b.lowest) [B, A] = [b.at, b.at + 1];
  S = Math.max(S, A + 1);
  const counts = { S: 0, A: 0, B: 0, C: 0 };
  for (const x of sorted) counts[x >= S ? 'S' : x >= A ? 'A' : x >= B ? 'B' : 'C']++;
  return { leads: sorted.length, thresholds: { S, A, B }, counts, ties };
}

/** How the current thresholds sort the same scores. */
export function currentCounts(scores: readonly number[], scoring: Pick<Scoring, 'grades'>): Calibration['counts'] {
  const { S, A, B } = scoring.grades;
  const counts = { S: 0, A: 0, B: 0, C: 0 };
  for (const s of scores) counts[s >= S ? 'S' : s >= A ? 'A' : s >= B ? 'B' : 'C']++;
  return counts;
}
