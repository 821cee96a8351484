import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { findExecutable, freePort, withDatabase } from '../../src/dev/embedded-database.js';
import { startTestBot, type TestBot } from './test-bot.js';

/**
 * A database server of one test's own, which the test kills (SIGKILL: a crash, no goodbye to its clients) and starts
 * again on the same port and data directory, so the bot's connection string stays good across the outage. The server
 * the suite would pick (src/dev/embedded-database.ts): mongod when it is on PATH, else FerretDB over SQLite.
 */
export interface KillableDatabase {
  kind: 'mongod' | 'ferretdb';
  /** mongodb://127.0.0.1:<port>, no database name. */
  uri: string;
  /** Kills the server and waits until it is gone. */
  kill(): Promise<void>;
  /** Starts it again (same port, same data) and waits until it listens. */
  restart(): Promise<void>;
  /** Kills it and removes its data. */
  stop(): Promise<void>;
}

/** The server a KillableDatabase runs, or null when neither is installed (startKillableDatabase then says so). */
function killableDatabaseKind(): 'mongod' | 'ferretdb' | null {
  return findExecutable('mongod') ? 'mongod' : findExecutable('ferretdb') ? 'ferretdb' : null;
}

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.end();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });

export async function startKillableDatabase(): Promise<KillableDatabase> {
  const kind = killableDatabaseKind();
  if (!kind) throw new Error('no mongod or ferretdb on PATH (.ci/install-ferretdb)');
  const bin = findExecutable(kind)!;
  const dir = await mkdtemp(path.join(os.tmpdir(), `wecom-bot-killable-${kind}-`));
  const port = await freePort();
  const args =
    kind === 'mongod'
      ? ['--port', String(port), '--bind_ip', '127.0.0.1', '--dbpath', dir, '--quiet']
      : ['--handler=sqlite', `--sqlite-url=file:${dir}/`, `--listen-addr=127.0.0.1:${port}`, `--state-dir=${dir}`, '--debug-addr=-', '--telemetry=disable', '--log-level=error'];
  let child: ChildProcess | null = null;
  let stderr = '';

  const start = async () => {
    stderr = '';
    const c = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    c.stderr?.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-2000)));
    child = c;
    const deadline = Date.now() + 20_000;
    while (!(await listening(port))) {
      if (c.exitCode !== null || c.signalCode !== null) throw new Error(`${kind} exited (${c.exitCode ?? c.signalCode}) on port ${port}\n${stderr}`);
      if (Date.now() > deadline) throw new Error(`${kind} did not listen on port ${port} within 20 s\n${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const kill = async () => {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  };

  await start();
  return {
    kind,
    uri: `mongodb://127.0.0.1:${port}`,
    kill,
    restart: async () => {
      await kill();
      await start();
    },
    stop: async () => {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A test bot on a database of its own that the test kills and restarts, and what crashed the process meanwhile. */
export interface OutageBot {
  db: KillableDatabase;
  t: TestBot;
  /** Unhandled rejections and uncaught exceptions seen while it ran: a database outage must cause none. */
  crashes: unknown[];
  stop(): Promise<void>;
}

/**
 * Starts a test bot on a KillableDatabase (database `label`), its driver checking the server every 500 ms so the bot
 * sees the database gone within a moment, and listens for crashes of this process until stop().
 */
export async function startOutageBot(label: string, opts: Parameters<typeof startTestBot>[1] & { uriParams?: Record<string, string> } = {}): Promise<OutageBot> {
  const crashes: unknown[] = [];
  const onCrash = (err: unknown) => crashes.push(err);
  process.on('unhandledRejection', onCrash);
  process.on('uncaughtException', onCrash);
  const db = await startKillableDatabase();
  const uri = new URL(withDatabase(db.uri, label));
  uri.searchParams.set('heartbeatFrequencyMS', '500');
  for (const [k, v] of Object.entries(opts.uriParams ?? {})) uri.searchParams.set(k, v);
  const t = await startTestBot(label, { ...opts, env: { MONGODB_URI: uri.toString(), ...opts.env } });
  return {
    db,
    t,
    crashes,
    async stop() {
      await t.stop();
      await db.stop();
      process.off('unhandledRejection', onCrash);
      process.off('uncaughtException', onCrash);
    },
  };
}
