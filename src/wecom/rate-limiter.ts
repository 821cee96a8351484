import type { Redis } from 'ioredis';

export interface RateLimit {
  limit: number;
  windowMs: number;
}

// INCR the window's counter, setting its expiry on first use; returns the count.
const HIT = `local n = redis.call('INCR', KEYS[1]) if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end return n`;

/**
 * Per-API call limit shared by every process (fixed windows in Redis). A caller over the limit waits for the next
 * window instead of calling WeCom and earning a 45009.
 */
export class RateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly limits: Record<string, RateLimit>,
    private readonly fallback: RateLimit | null,
  ) {}

  /** The limit that applies to `api`, if any. */
  limitFor(api: string): RateLimit | null {
    return this.limits[api] ?? this.fallback;
  }

  /** Resolves when a call to `api` fits in the current window. */
  async acquire(api: string): Promise<void> {
    const rl = this.limitFor(api);
    if (!rl || rl.limit <= 0) return;
    for (;;) {
      const now = Date.now();
      const window = Math.floor(now / rl.windowMs);
      const n = (await this.redis.eval(HIT, 1, `${this.prefix}:wecom:rl:${api}:${window}`, rl.windowMs * 2)) as number;
      if (n <= rl.limit) return;
      const wait = (window + 1) * rl.windowMs - now + Math.floor(Math.random() * 20);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
