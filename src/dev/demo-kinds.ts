import type { TimelineType } from '../store/timeline-types.js';

/** What the demo's parts share: a seeded random source, a demo lead as written, and its timeline. */
export interface DemoRandom {
  next(): number;
  chance(p: number): boolean;
  pick<T>(xs: readonly T[]): T;
  between(lo: number, hi: number): number;
}

export interface DemoEntry {
  id: string;
  type: TimelineType;
  at: Date;
  detail: Record<string, unknown>;
}

export interface DemoLead {
  _id: string;
  corpId: string;
  externalUserId: string;
  name: string;
  stage: string;
  grade?: string;
  tags: Array<{ group: string; name: string }>;
  firstTouch: { channelKey: string; userId: string; at: Date };
  owners: Array<{ userId: string; status: string }>;
  touches: Array<Record<string, unknown>>;
  lastTouchAt: Date;
  reached: Record<string, Date>;
  kf?: Record<string, unknown>;
}

export interface DemoTimeline {
  _id: string;
  corpId: string;
  externalUserId: string;
  entries: DemoEntry[];
}

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
