import type { LeadDoc } from '../../store/models/lead.js';
import { KF_WINDOW_MS } from '../delivery/via.js';

type LeadKf = NonNullable<LeadDoc['kf']>;

/**
 * Opens our view of a customer's session on `openKfid` for their activity at `at` (a message, or entering the chat),
 * when none is open: ended, never begun, on another account, or past its 48 h [D:94669]. Returns whether it did: that
 * activity starts a 客服 conversation (counted once, whichever comes first).
 */
export function openSession(kf: LeadKf, openKfid: string, at: Date): boolean {
  const started = kf.sessionStartedAt?.getTime() ?? 0;
  const fresh = kf.state === null || kf.state === undefined || kf.state === 4 || kf.openKfid !== openKfid || at.getTime() - started > KF_WINDOW_MS;
  if (fresh) {
    kf.state = 0;
    kf.servicer = null;
    kf.sessionStartedAt = at;
  }
  kf.openKfid = openKfid;
  return fresh;
}
