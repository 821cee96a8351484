import type { Redis } from 'ioredis';
import type { RedisKeys } from '../redis/keys.js';
import { LuaScript } from '../redis/script.js';

export interface RateLimit {
  limit: number;
  windowMs: number;
}

/**
 * Takes one call from every window at once, or from none: KEYS are the windows' counters, ARGV their limits and
 * expiries in pairs. Returns 0 when the call was counted in every window, else the (1-based) index of a full one.
 */
const TAKE = new LuaScript(`
for i = 1, #KEYS do
  if tonumber(redis.call('GET', KEYS[i]) or '0') >= tonumber(ARGV[2 * i - 1]) then return i end
end
for i = 1, #KEYS do
  if redis.call('INCR', KEYS[i]) == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[2 * i]) end
end
return 0`);

/**
 * The end of a window that grants nothing: 1/10 of it, at most 100 ms. A granted call still has to be built, sent and
 * received; on a loaded worker that took more than 50 ms (a margin of 1/20 let 6 calls of one second reach the
 * sandbox WeCom in the next one: 45009 at R = 67/s in bench:nurture on FerretDB/PostgreSQL, load average 10).
 */
export const edgeMs = (windowMs: number) => Math.min(100, windowMs / 10);

/**
 * Per-API call limits shared by every process (fixed windows in Redis; an API may have several, e.g. per second
 * and per hour). A call is counted in all its windows at once or in none, so a call waiting for one window never
 * holds a place in another; a caller over a limit waits for that window to end instead of earning a 45009.
 */
export class RateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly limits: Record<string, RateLimit[]>,
    private readonly fallback: RateLimit[],
  ) {}

  /** The windows that apply to `api`. */
  limitsFor(api: string): RateLimit[] {
    return this.limits[api] ?? this.fallback;
  }

  /**
   * Resolves true when a call to `api` fits in every one of its windows (and is counted there), or false (without
   * waiting) when that would take past `deadline` (ms epoch).
   */
  async acquire(api: string, deadline = Infinity): Promise<boolean> {
    const windows = this.limitsFor(api).filter((rl) => rl.limit > 0);
    if (!windows.length) return true;
    for (;;) {
      const now = Date.now();
      // A call granted at the very end of a window may reach WeCom in the next one and count there, on top of that
      // window's own grants (45009): the last moments of a window grant nothing; the call waits for the next.
      const closing = windows.map((rl) => ({ rl, end: (Math.floor(now / rl.windowMs) + 1) * rl.windowMs })).find(({ rl, end }) => end - now < edgeMs(rl.windowMs));
      if (closing) {
        if (closing.end > deadline) return false;
        await sleep(closing.end - now + 1);
        continue;
      }
      const keys = windows.map((rl) => this.keys.rateWindow(api, rl.windowMs, Math.floor(now / rl.windowMs)));
      const args = windows.flatMap((rl) => [rl.limit, rl.windowMs * 2]);
      const full = (await TAKE.run(this.redis, keys, args)) as number;
      if (full === 0) return true;
      const rl = windows[full - 1]!;
      const wait = (Math.floor(now / rl.windowMs) + 1) * rl.windowMs - now + Math.floor(Math.random() * 20);
      if (now + wait > deadline) return false;
      await sleep(wait);
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
