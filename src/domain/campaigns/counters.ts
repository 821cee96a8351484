import type { ExclusionReason } from './plan.js';

/**
 * What a run counts as it settles its audience: how many it targeted, excluded (by reason), sent by each way, the
 * first outcome of each send (by outcomeKey), how many times a cap held a lead back, enrolled.
 */
export interface RunCounters {
  targeted: number;
  excluded: Partial<Record<ExclusionReason, number>>;
  routes: Partial<Record<'kf' | 'mass' | 'owner', number>>;
  /** By outcomeKey: `kf_sent`, `mass_submitted`, `mass_refused`, `owner_sent`, `none_expired`, `kf_failed`, ... */
  outcomes: Record<string, number>;
  deferred: number;
  enrolled: number;
  notEnrolled: number;
}

const SCALARS = ['targeted', 'deferred', 'enrolled', 'notEnrolled'] as const;

/** Counters with nothing counted yet. */
export const emptyCounters = (): RunCounters => ({ targeted: 0, excluded: {}, routes: {}, outcomes: {}, deferred: 0, enrolled: 0, notEnrolled: 0 });

/**
 * How a first outcome is counted: its way and status (`kf_sent`, `mass_submitted`, `owner_sent`, `mass_failed`, ...);
 * a customer WeCom refused at once (fail_list) is `mass_refused`, a lead a cap held back past the window
 * `none_expired`. Later results of mass messages are counted by their groups.
 */
export function outcomeKey(via: string | null | undefined, status: string, reason?: string | null): string {
  if (reason === 'not_a_contact_of_sender') return `${via ?? 'none'}_refused`;
  if (reason === 'cap_reached') return 'none_expired';
  return `${via ?? 'none'}_${status}`;
}

/** Adds `b` into `a`. */
export function addCounters(a: RunCounters, b: RunCounters): void {
  for (const k of SCALARS) a[k] += b[k];
  for (const k of ['excluded', 'routes', 'outcomes'] as const) {
    const into = a[k] as Record<string, number>;
    for (const [name, n] of Object.entries(b[k] as Record<string, number>)) into[name] = (into[name] ?? 0) + n;
  }
}

/** The counters as `$inc` paths under `counters.` (only those that are not 0). */
export function counterIncrements(c: RunCounters): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of SCALARS) if (c[k]) out[`counters.${k}`] = c[k];
  for (const k of ['excluded', 'routes', 'outcomes'] as const) {
    for (const [name, n] of Object.entries(c[k] as Record<string, number>)) if (n) out[`counters.${k}.${name}`] = n;
  }
  return out;
}

/** Reads stored counters (any missing field is 0). */
export function readCounters(raw: unknown): RunCounters {
  const c = (raw ?? {}) as Partial<RunCounters>;
  return { ...emptyCounters(), ...c, excluded: { ...c.excluded }, routes: { ...c.routes }, outcomes: { ...c.outcomes } };
}

/** A page of a pass: its last id, how many of its leads still wait for their outcome, and what it counted. */
export interface PageState {
  lastId: string;
  /** When its leads were read, at the earliest (ms): changes since may have taken them out of the audience. */
  readAt: number;
  remaining: number;
  counters: RunCounters;
}

/** Counts one more of `key` in a record of counts. */
export function bump<K extends string>(rec: Partial<Record<K, number>>, key: K, n = 1): void {
  rec[key] = (rec[key] ?? 0) + n;
}
