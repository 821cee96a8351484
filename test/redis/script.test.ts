import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createRedis } from '../../src/redis/connect.js';
import { LuaScript } from '../../src/redis/script.js';
import { testEnv } from '../helpers/test-bot.js';

let redis: Redis;
const key = `t_script_${Date.now()}`;
beforeAll(async () => {
  redis = createRedis(testEnv('x', 'http://x').REDIS_URL ?? 'redis://127.0.0.1:6379');
});
afterAll(async () => {
  await redis.del(key);
  await redis.quit();
});

describe('a Lua script run by its SHA1', () => {
  it('is loaded by its first run (NOSCRIPT), then runs by SHA1 alone', async () => {
    // A text Redis has never seen (a unique comment), so its first EVALSHA finds nothing.
    const lua = `-- ${key}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])`;
    const sha = createHash('sha1').update(lua).digest('hex');
    expect(await redis.script('EXISTS', sha)).toEqual([0]);
    const script = new LuaScript(lua);
    expect(await script.run(redis, [key], [2])).toBe(2);
    expect(await redis.script('EXISTS', sha)).toEqual([1]);
    expect(await script.run(redis, [key], [3])).toBe(5);
  });

  it('passes on any error but NOSCRIPT', async () => {
    const script = new LuaScript(`return redis.error_reply('BROKEN ${key}')`);
    await expect(script.run(redis, [], [])).rejects.toThrow(`BROKEN ${key}`);
  });
});
