import { getNextMillis } from 'bullmq';
import { Cron } from 'croner';

/**
 * Whether `pattern` is a cron pattern croner accepts (e.g. "0 10 * * 1"; it computes next runs) and BullMQ's job
 * scheduler does too (it fires them: it refuses some croner reads, e.g. "15W", "0 10 31 2 *", "@annually"); checked
 * without scheduling anything.
 */
export function isCronPattern(pattern: string): boolean {
  try {
    new Cron(pattern, { paused: true });
    getNextMillis(Date.now(), { pattern });
    return true;
  } catch {
    return false;
  }
}
