import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { findExecutable, procStatFields, startEmbeddedDatabase, type EmbeddedDatabase } from '../../src/dev/embedded-database.js';
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

const run = promisify(execFile);

let clockTicks: number | undefined;
/**
 * CPU time (user + system, ms) process `pid` has used so far, all its threads (Linux /proc): null where there is no
 * /proc or the process is gone.
 */
export function processCpuMs(pid: number): number | null {
  try {
    const fields = procStatFields(pid);
    clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
  } catch {
    return null;
  }
}

/** Runs one SQL statement with psql against database `db` of the PostgreSQL server at `serverUrl`; its output. */
async function psql(serverUrl: string, db: string, sql: string): Promise<string> {
  const { stdout } = await run('psql', [`${serverUrl.replace(/\/+$/, '')}/${db}`, '-v', 'ON_ERROR_STOP=1', '-qAtc', sql]);
  return stdout.trim();
}

/** The database a benchmark runs on: BENCH_DB=sqlite (default) or postgresql, both FerretDB; MONGODB_URI wins. */
export const BENCH_DB = (process.env.BENCH_DB || 'sqlite').toLowerCase();
/** The PostgreSQL server for BENCH_DB=postgresql (a database of its own is created on it and dropped after). */
const PG_SERVER = process.env.BENCH_PG_URL || 'postgres://postgres@127.0.0.1:5432';

/** A database and what to call it in a report. */
export type BenchDatabase = EmbeddedDatabase & { label: string };

/** e.g. "FerretDB 1.24.2 (PostgreSQL handler, PostgreSQL 15.20)", "mongod", "external (MONGODB_URI)". */
async function databaseLabel(db: EmbeddedDatabase): Promise<string> {
  if (db.kind === 'external') return 'external (MONGODB_URI)';
  if (db.kind !== 'ferretdb') return db.kind;
  let version = '?';
  try {
    const bin = findExecutable('ferretdb');
    if (bin) version = /version:\s*(\S+)/i.exec((await run(bin, ['--version'])).stdout)?.[1] ?? '?';
  } catch {
    // the label only
  }
  if (db.handler !== 'postgresql') return `FerretDB ${version} (SQLite handler)`;
  const pg = await psql(PG_SERVER, 'postgres', 'SHOW server_version').catch(() => '?');
  return `FerretDB ${version} (PostgreSQL handler, PostgreSQL ${pg.split(' ')[0]})`;
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

  /**
   * The database, stopped at cleanup: MONGODB_URI if set; else, for BENCH_DB=sqlite, what startEmbeddedDatabase picks
   * (FerretDB/SQLite here; a mongod on PATH first) and, for BENCH_DB=postgresql, FerretDB over PostgreSQL. For
   * `postgresql` a database `bench_<hex>` is created on BENCH_PG_URL (postgres://postgres@127.0.0.1:5432) with psql
   * and dropped once FerretDB has stopped.
   */
  async database(): Promise<BenchDatabase> {
    if (BENCH_DB !== 'sqlite' && BENCH_DB !== 'postgresql') throw new Error(`BENCH_DB=${BENCH_DB}: use sqlite or postgresql`);
    let db: EmbeddedDatabase;
    if (process.env.MONGODB_URI) {
      if (process.env.BENCH_DB) log(`MONGODB_URI is set: BENCH_DB=${BENCH_DB} is ignored`);
      db = await startEmbeddedDatabase();
    } else if (BENCH_DB === 'postgresql') {
      const name = `bench_${randomBytes(4).toString('hex')}`;
      await psql(PG_SERVER, 'postgres', `CREATE DATABASE ${name}`);
      // Pushed first, so it runs after the database (FerretDB) has stopped.
      this.cleanups.push({
        name: 'postgresql database',
        fn: async () => {
          await psql(PG_SERVER, 'postgres', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
          log(`dropped PostgreSQL database ${name}`);
        },
      });
      db = await startEmbeddedDatabase({ handler: 'postgresql', postgresqlUrl: `${PG_SERVER.replace(/\/+$/, '')}/${name}` });
    } else {
      db = await startEmbeddedDatabase(); // mongod when on PATH, else FerretDB/SQLite
    }
    this.cleanups.push({ name: 'database', fn: () => db.stop() });
    // A server started by hand (MONGODB_URI) has its CPU read when BENCH_DB_PID names its process.
    const pid = db.pid ?? (process.env.BENCH_DB_PID ? Number(process.env.BENCH_DB_PID) : undefined);
    return { ...db, ...(pid ? { pid } : {}), label: await databaseLabel(db) };
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
