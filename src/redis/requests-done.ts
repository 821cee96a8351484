import type { Redis } from 'ioredis';
import { LuaScript } from './script.js';

/**
 * Records requests up to ARGV[1] as done (KEYS[2]), unless the request counter (KEYS[1]) is below that: Redis lost its
 * data meanwhile and counts from 1 again, so that number would pass the next requests off as done. Returns 1 when
 * recorded, 0 when the counter went back.
 */
const RECORD_DONE = new LuaScript(`
local asked = tonumber(redis.call('GET', KEYS[1]) or '0')
if asked < tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[2], ARGV[1])
return 1`);

/**
 * For work asked for by numbered requests (an INCR of `askedKey`) and done by passes that each cover the requests made
 * before they began: records requests up to `upTo` as done in `doneKey`, unless Redis lost the counter since (then the
 * next requests, numbered from 1 again, must not pass for done). True when recorded.
 */
export async function recordRequestsDone(redis: Redis, askedKey: string, doneKey: string, upTo: number): Promise<boolean> {
  return (await RECORD_DONE.run(redis, [askedKey, doneKey], [upTo])) === 1;
}
