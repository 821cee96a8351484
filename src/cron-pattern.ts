import { Cron } from 'croner';

/** Whether `pattern` is a cron pattern croner accepts (e.g. "0 10 * * 1"); checked without scheduling anything. */
export function isCronPattern(pattern: string): boolean {
  try {
    new Cron(pattern, { paused: true });
    return true;
  } catch {
    return false;
  }
}
