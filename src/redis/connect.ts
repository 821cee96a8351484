import { Redis } from 'ioredis';

/** The Redis connection BullMQ and the bot share (blocking commands must never time out, hence no retry cap). */
export function createRedis(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: false });
}
