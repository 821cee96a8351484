import type { Redis } from 'ioredis';
import type { RedisKeys } from '../redis/keys.js';

export interface RateLimit {
  limit: number;
  windowMs: number;
}

// INCR the window's counter, setting its expiry on first use; returns the count.
const HIT = `local n = redis.call('INCR', KEYS[1]) if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end return n`;

/**
 * Per-API call limits shared by every process (fixed windows in Redis; an API may have several, e.g. per second
 * and per hour). A caller over a limit waits for that window to end instead of calling WeCom and earning a 45009.
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
   * Resolves true when a call to `api` fits in every one of its windows, or false (without waiting) when that
   * would take past `deadline` (ms epoch).
   */
  async acquire(api: string, deadline = Infinity): Promise<boolean> {
    for (const rl of this.limitsFor(api)) {
      if (rl.limit <= 0) continue;
      for (;;) {
        const now = Date.now();
        const window = Math.floor(now / rl.windowMs);
        const n = (await this.redis.eval(HIT, 1, this.keys.rateWindow(api, rl.windowMs, window), rl.windowMs * 2)) as number;
        if (n <= rl.limit) break;
        const wait = (window + 1) * rl.windowMs - now + Math.floor(Math.random() * 20);
        if (now + wait > deadline) return false;
        await new Promise((r) => setTimeout(r, wait));
      }
    }
    return true;
  }
}
