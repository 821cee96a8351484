import { Redis } from 'ioredis';
import type { Config } from '../../src/config.js';
import type { BotContext } from '../../src/context.js';
import { WecomClient } from '../../src/wecom/client.js';

/**
 * A WeCom client like the bot's whose Redis is a connection that never connected and queues nothing: every call fails
 * in the client's rate limiter, before any request is sent, with an error that is not WeCom's answer (as when Redis
 * is down).
 */
export function clientWithDeadRedis(ctx: Pick<BotContext, 'keys' | 'log'>, config: Config): WecomClient {
  const dead = new Redis(config.REDIS_URL, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
  return new WecomClient({ baseUrl: config.WECOM_API_BASE, corpId: config.WECOM_CORP_ID, secret: config.WECOM_SECRET, agentId: config.WECOM_AGENT_ID, redis: dead, keys: ctx.keys, logger: ctx.log, retries: 0 });
}
