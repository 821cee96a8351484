import { setTimeout as sleep } from 'node:timers/promises';
import { QuotaWaitError, WecomApiError } from '../../errors.js';
import type { RunBatch } from './send-record.js';

/** Waits between tries of a call WeCom refused for now (-1, 45009, 45033, a 5xx before anything was done). */
const RETRY_DELAYS_MS = [1_000, 3_000];

/** Tries a campaign's call, and again after a pause while WeCom refuses it for now; throws what it finally answered. */
export async function withRetries<T>(call: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await call();
    } catch (err) {
      // A call a member's limit held back knows when to try again (QuotaWaitError.retryAt): no blind pause for it.
      const retryable = err instanceof WecomApiError && err.retryable && !err.ambiguous && !(err instanceof QuotaWaitError);
      if (!retryable || i >= RETRY_DELAYS_MS.length) throw err;
      await sleep(RETRY_DELAYS_MS[i]!);
    }
  }
}

/** A failure WeCom may still accept later, on the run job's next attempt (the caller gives back what it holds). */
export function retryLater(b: Pick<RunBatch, 'lastAttempt'>, err: unknown): boolean {
  return !b.lastAttempt && (!(err instanceof WecomApiError) || (err.retryable && !err.ambiguous));
}
