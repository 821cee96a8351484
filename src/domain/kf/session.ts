import type { LeadDoc } from '../../store/models/lead.js';
import { KF_WINDOW_MS } from '../delivery/via.js';
import type { KfClock } from './clock.js';

type LeadKf = NonNullable<LeadDoc['kf']>;

/** What a session left behind when it closed: the clock no person stopped, the hand-off still waiting for the hours. */
export interface SessionLeftovers {
  clock: KfClock | null;
  handoffAt: Date | null;
}

/**
 * Opens our view of a customer's session on `openKfid` for their activity at `at` (a message, or entering the chat),
 * when none is open: ended, never begun, on another account, or past its 48 h [D:94669]. Returns null when one was
 * open; otherwise that activity starts a 客服 conversation (counted once, whichever comes first). When the old session
 * is over for certain (ended, another account, or no message from the customer for 48 h, so no one can answer in it),
 * what it left (its clock, its waiting hand-off) is closed with it and returned (closeSession); a customer still
 * writing keeps the clock of their unanswered message.
 */
export function openSession(kf: LeadKf, openKfid: string, at: Date): SessionLeftovers | null {
  const started = kf.sessionStartedAt?.getTime() ?? 0;
  const over = kf.state === null || kf.state === undefined || kf.state === 4 || kf.openKfid !== openKfid;
  const fresh = over || at.getTime() - started > KF_WINDOW_MS;
  if (!fresh) {
    kf.openKfid = openKfid;
    return null;
  }
  const quiet = !kf.lastInboundAt || at.getTime() - kf.lastInboundAt.getTime() > KF_WINDOW_MS;
  const left = over || quiet ? closeSession(kf) : { clock: null, handoffAt: null };
  kf.state = 0;
  kf.servicer = null;
  kf.sessionStartedAt = at;
  kf.openKfid = openKfid;
  return left;
}

/**
 * Closes our view of the session (a person ended it [D:94669], or a new one opens): no one can answer in it any more,
 * so its service clock stops without a reply (its alert jobs find no clock) and a hand-off waiting for the service
 * hours is dropped (it would hand a later session to a person). A later unanswered message starts a clock of its own.
 * Returns what was closed.
 */
export function closeSession(kf: LeadKf): SessionLeftovers {
  const left: SessionLeftovers = { clock: (kf.clock as KfClock | null | undefined) ?? null, handoffAt: kf.handoffAt ?? null };
  Object.assign(kf, CLOSED);
  return left;
}

/** The fields of a closed session, for an update of the lead (`kf.` paths) or a document in memory. */
const CLOSED = { state: 4, servicer: null, clock: null, handoffAt: null } as const;
export const CLOSED_SESSION: Readonly<Record<string, unknown>> = Object.fromEntries(Object.entries(CLOSED).map(([k, v]) => [`kf.${k}`, v]));

/** The timeline step of a clock closed without a person's reply (none when no clock ran). */
export function clockClosedStep(left: SessionLeftovers, reason: 'session_ended' | 'new_session') {
  const c = left.clock;
  return c ? { sourceKey: `${c.id}|closed`, type: 'kf_clock_closed' as const, detail: { reason, startedAt: c.startedAt, level: c.level, msgid: c.msgid } } : null;
}
