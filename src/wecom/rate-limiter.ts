import { randomBytes } from 'node:crypto';
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

/**
 * Takes one place in the log of recent grants of every recipient at once, or in none. KEYS are the logs (sorted sets
 * of grant times); ARGV: now, this grant's entry, how long a log keeps grants (ms), the newest time too old to keep,
 * then per limit its size, the exclusive lower bound of its span (`(now - span`) and the span. Returns 0 when the
 * grant was logged for every recipient, else the ms until the first moment every recipient has room in every limit.
 */
const TAKE_EACH = new LuaScript(`
local now, wait = tonumber(ARGV[1]), 0
for k = 1, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[k], '-inf', ARGV[4])
  for i = 5, #ARGV, 3 do
    local limit, from, span = tonumber(ARGV[i]), ARGV[i + 1], tonumber(ARGV[i + 2])
    local inside = redis.call('ZCOUNT', KEYS[k], from, '+inf')
    if inside >= limit then
      -- The grant whose leaving the span leaves room: the (inside - limit + 1)th oldest within it.
      local first = redis.call('ZRANGEBYSCORE', KEYS[k], from, '+inf', 'WITHSCORES', 'LIMIT', inside - limit, 1)
      local free = tonumber(first[2]) + span - now
      if free > wait then wait = free end
    end
  end
end
if wait > 0 then return math.ceil(wait) end
for k = 1, #KEYS do
  redis.call('ZADD', KEYS[k], ARGV[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[k], ARGV[3])
end
return 0`);

/**
 * Limits per recipient of one API, shared by every process: at most `limit` grants per recipient within any span of
 * `windowMs` (a log of grant times per recipient in Redis), for WeCom's app messages per member (30 a minute and
 * 1,000 an hour, the excess silently dropped [D:90236]). Any span, not fixed windows: WeCom's minute is not ours (its
 * clock, its boundaries), and fixed windows of N let 2N through in a minute that straddles two of them. Each span is
 * `edgeMs` longer than the window, for a grant that reaches WeCom a moment after it was given. A call to several
 * recipients is logged for all of them at once or for none, so it never holds a place it waits for.
 */
export class RecipientLimiter {
  private readonly windows: RateLimit[];

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly api: string,
    limits: readonly RateLimit[],
  ) {
    this.windows = limits.filter((rl) => rl.limit > 0);
  }

  /** The longest one wait for room lasts while only the shortest window is full (its span). */
  get shortestSpanMs(): number {
    return this.windows.length ? Math.min(...this.windows.map(spanOf)) : 0;
  }

  /**
   * Resolves 0 once a call to every one of `recipients` fits in every window (and is logged), or, without waiting,
   * the time (ms epoch) it may fit when that lies past `deadline` (ms epoch) or more than `longestWait` ms ahead.
   */
  async acquire(recipients: readonly string[], { deadline = Infinity, longestWait = Infinity }: { deadline?: number; longestWait?: number } = {}): Promise<number> {
    // WeCom answers userids lower-cased [D:90236]: ones that differ only in case share one log.
    const who = [...new Set(recipients.map((r) => r.toLowerCase()))];
    if (!this.windows.length || !who.length) return 0;
    const keys = who.map((r) => this.keys.recipientLog(this.api, r));
    const keep = Math.max(...this.windows.map(spanOf));
    const id = randomBytes(6).toString('hex');
    for (;;) {
      const now = Date.now();
      const args = [now, `${now}:${id}`, keep, now - keep, ...this.windows.flatMap((rl) => [rl.limit, `(${now - spanOf(rl)}`, spanOf(rl)])];
      const wait = (await TAKE_EACH.run(this.redis, keys, args)) as number;
      if (wait === 0) return 0;
      const at = now + wait + Math.floor(Math.random() * 20);
      if (at > deadline || wait > longestWait) return at;
      await sleep(at - now);
    }
  }
}

const spanOf = (rl: RateLimit) => rl.windowMs + edgeMs(rl.windowMs);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
