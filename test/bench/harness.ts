import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { Redis } from 'ioredis';
import { startEmbeddedDatabase, type EmbeddedDatabase } from '../../src/dev/embedded-database.js';
import { deleteMatching } from '../fixtures/test-corp.js';

/** Progress lines go to stderr (the report goes to stdout). */
export const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

/** What a report says about the machine it ran on. */
export async function machineInfo(redis: Redis) {
  return {
    cpus: os.cpus().length,
    model: os.cpus()[0]?.model ?? '?',
    node: process.version,
    mem: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    redis: ((await redis.info('server')).match(/redis_version:(\S+)/) ?? [])[1] ?? '?',
  };
}

/** Something to undo when the run ends, however it ends. */
export type Cleanup = { name: string; fn: () => Promise<unknown> | unknown };

/**
 * One benchmark run: a cleanup stack undone in reverse (once) whether the run ends normally, fails, is interrupted
 * (SIGINT/SIGTERM) or hits its hard time limit; the exit code says which.
 */
export class BenchRun {
  readonly cleanups: Cleanup[] = [];
  aborting = false;
  private cleaning: Promise<void> | undefined;

  /** `first` runs before the stack (e.g. end worker processes so nothing writes while the rest is torn down). */
  constructor(
    hardTimeoutMs: number,
    private readonly first?: () => Promise<unknown>,
  ) {
    setTimeout(() => this.abort(2, `hard timeout after ${hardTimeoutMs / 1000} s`), hardTimeoutMs).unref();
    process.once('SIGINT', () => this.abort(130, 'interrupted'));
    process.once('SIGTERM', () => this.abort(143, 'terminated'));
  }

  /** Undoes everything registered, in reverse order, once. */
  cleanup(): Promise<void> {
    return (this.cleaning ??= (async () => {
      await this.first?.();
      for (const { name, fn } of this.cleanups.reverse()) {
        try {
          await fn();
        } catch (err) {
          log(`cleanup ${name} failed: ${(err as Error).message}`);
        }
      }
    })());
  }

  /** Cleans up and exits with `code`. */
  abort(code: number, why: string): void {
    this.aborting = true;
    log(why);
    void this.cleanup().finally(() => process.exit(code));
  }

  /** A unique Redis key prefix `<label>_<random>` whose keys are deleted at cleanup, and a client. */
  redisScope(label: string, url: string): { name: string; redis: Redis } {
    const name = `${label}_${randomBytes(3).toString('hex')}`;
    const redis = new Redis(url, { maxRetriesPerRequest: 3 });
    this.cleanups.push({
      name: 'redis keys',
      fn: async () => {
        const n = await deleteMatching(redis, `${name}:*`);
        log(`deleted ${n} Redis keys under ${name}:`);
        redis.disconnect();
      },
    });
    return { name, redis };
  }

  /** The embedded database, stopped at cleanup. */
  async database(): Promise<EmbeddedDatabase> {
    const db = await startEmbeddedDatabase();
    this.cleanups.push({ name: 'database', fn: () => db.stop() });
    return db;
  }

  /** Runs `body`; exit 0 after it, 1 on a harness failure (an abort exits with its own code). */
  async run(body: () => Promise<void>): Promise<void> {
    try {
      await body();
      await this.cleanup();
      process.exit(0);
    } catch (err) {
      if (this.aborting) return;
      log(`harness failure: ${(err as Error).stack ?? String(err)}`);
      await this.cleanup();
      process.exit(1);
    }
  }
}
