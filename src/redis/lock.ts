import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { LuaScript } from './script.js';

// Release / extend only while we still own the lock, so a lock that expired and was taken by another process is
// never deleted or prolonged by the old holder.
const RELEASE = new LuaScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`);
const EXTEND = new LuaScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`);

/** A holder's token: unique to this process (random) and to this taking (a counter), without a random draw each time. */
const PROCESS_TOKEN = randomBytes(9).toString('base64url');
let taken = 0;

/** Deletes `key` only if it still holds `value`; true when it did. */
export async function deleteIfEqual(redis: Redis, key: string, value: string): Promise<boolean> {
  return (await RELEASE.run(redis, [key], [value])) === 1;
}

/** A held lock: keep it alive while working, release it when done. */
export interface HeldLock {
  release(): Promise<void>;
}

/**
 * Tries once to take `key`. The lock expires `ttlMs` after its holder last renewed it (renewed every ttl/3 while
 * held), so a holder that dies frees it within `ttlMs` instead of blocking the others.
 */
export async function tryLock(redis: Redis, key: string, ttlMs = 5_000): Promise<HeldLock | null> {
  const token = `${PROCESS_TOKEN}.${(++taken).toString(36)}`;
  if (!(await redis.set(key, token, 'PX', ttlMs, 'NX'))) return null;
  const timer = setInterval(() => void EXTEND.run(redis, [key], [token, ttlMs]).catch(() => undefined), Math.floor(ttlMs / 3));
  timer.unref();
  return {
    async release() {
      clearInterval(timer);
      await deleteIfEqual(redis, key, token);
    },
  };
}

/** Runs `fn` holding `key`, waiting (polling) up to `waitMs` for the lock. */
export async function withLock<T>(redis: Redis, key: string, fn: () => Promise<T>, opts = { ttlMs: 5_000, waitMs: 60_000 }): Promise<T> {
  const deadline = Date.now() + opts.waitMs;
  let lock: HeldLock | null;
  // Short locks (a lead's write, a rollup's increment) are usually free again within milliseconds: look again soon,
  // then less often (up to every 50 ms), with jitter so waiters do not retry in step.
  let pause = 4;
  while (!(lock = await tryLock(redis, key, opts.ttlMs))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for lock ${key}`);
    await new Promise((r) => setTimeout(r, pause * (0.5 + Math.random())));
    pause = Math.min(50, pause * 2);
  }
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
