import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RedisKeys } from '../../redis/keys.js';
import { LuaScript } from '../../redis/script.js';

/** Messages per minute one 消息推送 webhook accepts [D:99110]. */
export const WEBHOOK_PER_MINUTE = 20;
/**
 * What alerts may take of it: all but one send a minute, so a burst of alerts (merged into digests beyond that) never
 * keeps the daily report from a free send for longer than a minute.
 */
export const ALERT_SENDS_PER_MINUTE = WEBHOOK_PER_MINUTE - 1;
const WINDOW_MS = 60_000;

/** Takes one send from a sliding window: 0 when taken, else how many ms until one frees. */
const TAKE = new LuaScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[3]))
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tonumber(oldest[2]) + tonumber(ARGV[3]) - tonumber(ARGV[1]) + 1`);

/**
 * A send through the ops group's webhook, if one is free in the last minute (shared by every process): true, or the
 * ms until one frees. Sliding, so no minute (however it is cut) sees more than 20; a caller given a smaller `limit`
 * takes a send only while fewer than that went out in the last minute.
 */
export async function takeWebhookSend(redis: Redis, keys: RedisKeys, webhookKey: string, limit = WEBHOOK_PER_MINUTE, now = Date.now()): Promise<{ ok: true } | { ok: false; waitMs: number }> {
  const id = createHash('sha256').update(webhookKey).digest('hex').slice(0, 16);
  const member = `${now}:${Math.random().toString(36).slice(2)}`;
  const r = (await TAKE.run(redis, [keys.webhookWindow(id)], [now, Math.min(limit, WEBHOOK_PER_MINUTE), WINDOW_MS, member])) as number;
  return r === 0 ? { ok: true } : { ok: false, waitMs: r };
}
