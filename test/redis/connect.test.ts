import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createRedis } from '../../src/redis/connect.js';
import { testEnv } from '../helpers/test-bot.js';

const url = testEnv('x', 'http://x').REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `t_connect_${Date.now()}:`;
let redis: Redis;
beforeAll(async () => {
  redis = createRedis(url);
  await redis.ping();
});
afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
});

/** Counts the system-call-level writes of the connection's current socket (one per _write, one per _writev). */
function countSocketWrites(r: Redis): { writes: number } {
  const stream = (r as unknown as { stream: Socket & { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void } }).stream;
  const seen = { writes: 0 };
  for (const name of ['_write', '_writev'] as const) {
    const orig = stream[name].bind(stream);
    stream[name] = (...a: unknown[]) => {
      seen.writes++;
      return orig(...a);
    };
  }
  return seen;
}

describe('the shared Redis connection', () => {
  it('sends the commands of one turn of the event loop in one socket write, in order', async () => {
    const seen = countSocketWrites(redis);
    const sets = Array.from({ length: 50 }, (_, i) => redis.set(`${prefix}k${i}`, String(i)));
    const incrs = Array.from({ length: 50 }, () => redis.incr(`${prefix}n`));
    await Promise.all(sets);
    expect(await Promise.all(incrs)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    // 100 commands, sent together (ioredis alone writes once per command).
    expect(seen.writes).toBe(1);
    expect(await redis.mget(`${prefix}k0`, `${prefix}k49`)).toEqual(['0', '49']);
  });

  it('keeps coalescing after a reconnection', async () => {
    const id = await redis.client('ID');
    const killer = createRedis(url);
    await killer.client('KILL', 'ID', String(id));
    await killer.quit();
    // ioredis connects again; the next command waits for it.
    expect(await redis.set(`${prefix}after`, '1')).toBe('OK');
    expect(await redis.client('ID')).not.toBe(id);
    const seen = countSocketWrites(redis);
    await Promise.all(Array.from({ length: 20 }, (_, i) => redis.set(`${prefix}r${i}`, 'x')));
    expect(seen.writes).toBe(1);
  });
});
