import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import type { RedisKeys } from '../redis/keys.js';
import type { RateLimit } from './rate-limiter.js';

/** How a WecomClient (client.ts) is set up. */
export interface WecomClientOptions {
  baseUrl: string;
  corpId: string;
  secret: string;
  /**
   * The secret the kf/* (微信客服) APIs are called with: 微信客服 has its own list of apps that may call it
   * [D:94670]. Default: `secret`. A different secret has its own token (TokenCache keys on the secret).
   */
  kfSecret?: string;
  agentId: number;
  redis: Redis;
  /** Where its keys (token cache, rate windows) live in Redis. */
  keys: RedisKeys;
  logger: Logger;
  timeoutMs?: number;
  rateLimits?: Record<string, RateLimit[]>;
  /**
   * App messages (message/send) per member, counted for each member a message goes to, whoever sends it
   * (default DEFAULT_MEMBER_MESSAGE_LIMITS; [] = none).
   */
  memberMessageLimits?: RateLimit[];
  /**
   * In-call retries of retryable errors (network, 5xx, -1, 45009, 45033) before the error reaches the caller. Calls
   * that send a message to a person pass `retries: 0` and leave retrying to their job, which knows whether a retry
   * could send twice (WecomApiError.ambiguous).
   */
  retries?: number;
  retryBaseMs?: number;
}

/** How one call is made. */
export interface CallOptions {
  query?: Record<string, string>;
  body?: unknown;
  /** Overrides the client's retry count for this call (0 = let the caller's job back off instead). */
  retries?: number;
  /** Timeout of the HTTP call itself. */
  timeoutMs?: number;
  /** Called without an access token (the webhook is authorised by its key). */
  noToken?: boolean;
  /** A full URL WeCom gave us (a robot message's response_url) instead of /cgi-bin/<api> on the base URL. */
  url?: string;
  /**
   * Longest wait for rate-limit quota before giving up with a retryable error (default: wait as long as it takes; for a
   * member's app messages, while room is expected within the shortest per-member window). Callers with a hard deadline
   * (the welcome's 20 s) or a lock they should not hold long (a nurture step holds the lead's) set it.
   */
  quotaWaitMs?: number;
}
