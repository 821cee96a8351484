import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RedisKeys } from '../redis/keys.js';
import { deleteIfEqual, tryLock } from '../redis/lock.js';

/** Fetches a fresh token from WeCom: `{ token, expiresIn (seconds) }`. */
export type TokenFetcher = () => Promise<{ token: string; expiresIn: number }>;

/** How long a process reuses the token it last read before reading the shared cache again. */
const MEMO_MS = 10_000;

/**
 * Access-token cache shared by every process through Redis [D:91039]. One refresh at a time: the process that
 * wins a short lock calls gettoken, the others wait for its result instead of calling gettoken themselves. Each
 * process reuses what it read for MEMO_MS (a token in the cache has minutes of validity left, and WeCom answers the
 * same token until it expires), so a busy worker does not ask Redis before every call.
 */
export class TokenCache {
  private readonly key: string;
  private readonly lockKey: string;
  private memo: { token: string; until: number } | null = null;

  constructor(
    private readonly redis: Redis,
    keys: RedisKeys,
    corpId: string,
    secret: string,
    private readonly fetchToken: TokenFetcher,
    private readonly opts = { lockMs: 5_000, pollMs: 50, safetyMarginSeconds: 300 },
  ) {
    // One token per secret: key on a hash so the secret itself never reaches Redis.
    const id = createHash('sha256').update(`${corpId}\0${secret}`).digest('hex').slice(0, 16);
    this.key = keys.accessToken(id);
    this.lockKey = keys.accessTokenRefresh(id);
  }

  /** A valid token from the cache, refreshing it when absent. */
  async get(): Promise<string> {
    if (this.memo && this.memo.until > Date.now()) return this.memo.token;
    const token = await this.read();
    this.memo = { token, until: Date.now() + MEMO_MS };
    return token;
  }

  private async read(): Promise<string> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const cached = await this.redis.get(this.key);
      if (cached) return cached;
      const lock = await tryLock(this.redis, this.lockKey, this.opts.lockMs);
      if (lock) {
        try {
          const { token, expiresIn } = await this.fetchToken();
          const ttl = Math.max(60, expiresIn - this.opts.safetyMarginSeconds);
          await this.redis.set(this.key, token, 'EX', ttl);
          return token;
        } finally {
          await lock.release();
        }
      }
      if (Date.now() > deadline) throw new Error('timed out waiting for another process to refresh the token');
      await new Promise((r) => setTimeout(r, this.opts.pollMs));
    }
  }

  /**
   * Drops `token` from the cache if it is still current (WeCom said it is expired or invalid); a token another
   * process has just refreshed is kept.
   */
  async invalidate(token: string): Promise<void> {
    if (this.memo?.token === token) this.memo = null;
    await deleteIfEqual(this.redis, this.key, token);
  }
}
