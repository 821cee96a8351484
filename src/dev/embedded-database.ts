import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** A MongoDB-wire database for dev and tests: `uri` has no database name; `stop()` ends what we started. */
export interface EmbeddedDatabase {
  kind: 'external' | 'mongod' | 'ferretdb' | 'mongodb-memory-server';
  /** FerretDB's backend, when kind is 'ferretdb'. */
  handler?: 'sqlite' | 'postgresql';
  uri: string;
  /** The server's process, when this module started it (benchmarks read its CPU time). */
  pid?: number;
  stop(): Promise<void>;
}

/** Finds an executable on PATH (and in Go's bin directory, where `go install` puts ferretdb). */
export function findExecutable(name: string): string | null {
  const goBin = path.join(process.env.GOPATH ?? path.join(os.homedir(), 'go'), 'bin');
  for (const dir of [...(process.env.PATH ?? '').split(path.delimiter), goBin]) {
    const candidate = path.join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  return null;
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`database process exited with code ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.end();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`database did not listen on port ${port} within ${timeoutMs} ms`);
}

type ServerKind = 'mongod' | 'ferretdb';

/**
 * The fields of /proc/<pid>/stat after the command name ("pid (comm) state ppid ...", comm may hold spaces and
 * parentheses): [0] state, [1] ppid, [11] utime, [12] stime (clock ticks). Throws where there is no such process.
 */
export function procStatFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** What the system knows of a running process: its parent and its command line; null when there is none. */
function processInfo(pid: number): { ppid: number; args: string[] } | null {
  if (existsSync('/proc/self')) {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      return { ppid: Number(procStatFields(pid)[1]), args };
    } catch {
      return null;
    }
  }
  // No /proc (macOS): ps gives the same, the command line joined by spaces.
  const r = spawnSync('ps', ['-o', 'ppid=,args=', '-p', String(pid)], { encoding: 'utf8' });
  const m = /^\s*(\d+)\s+(.*)$/.exec(r.stdout ?? '');
  return r.status === 0 && m ? { ppid: Number(m[1]), args: m[2]!.split(' ') } : null;
}

/** True when `pid` is a `kind` server running on the data directory `dir`. */
function isServerOn(kind: ServerKind, pid: number, dir: string): boolean {
  const info = processInfo(pid);
  return info !== null && path.basename(info.args[0] ?? '') === kind && info.args.some((a) => a === dir || a.endsWith(`=${dir}`));
}

function pidFile(kind: ServerKind, dir: string): string {
  return path.join(dir, `${kind}.pid`);
}

/**
 * Before a server starts on a kept data directory: a server an earlier run started there and left behind (that run
 * was killed, so its server now has another parent) is stopped, so crashes cannot pile up servers holding the same
 * files. One whose starter is still running belongs to that run: refused. The pid file only names a candidate; the
 * process must really be a `kind` server on `dir` to be touched.
 */
async function takeOverDataDir(kind: ServerKind, dir: string): Promise<void> {
  const file = pidFile(kind, dir);
  let held: { pid?: unknown; owner?: unknown };
  try {
    held = JSON.parse(await readFile(file, 'utf8')) as typeof held;
  } catch {
    return;
  }
  const pid = Number(held.pid);
  if (Number.isInteger(pid) && pid > 1 && isServerOn(kind, pid, dir)) {
    const owner = processInfo(pid)?.ppid;
    if (owner !== undefined && owner === Number(held.owner) && owner !== process.pid) {
      throw new Error(`${dir} is in use by ${kind} pid ${pid}, started by the running process ${owner} (another npm run dev?); stop that one first`);
    }
    console.log(`Stopping ${kind} pid ${pid}, left running on ${dir} by an earlier run`);
    await stopProcess(pid, () => isServerOn(kind, pid, dir));
  }
  await rm(file, { force: true });
}

/** SIGTERM, up to 3 s to exit, then SIGKILL. */
async function stopProcess(pid: number, running: () => boolean): Promise<void> {
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(pid, s);
    } catch {
      // already gone
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + 3_000;
  while (running() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (running()) signal('SIGKILL');
  while (running() && Date.now() < deadline + 2_000) await new Promise((r) => setTimeout(r, 50));
}

async function spawnServer(kind: ServerKind, bin: string, dataDir?: string, postgresqlUrl?: string): Promise<EmbeddedDatabase> {
  const dir = dataDir ?? (await mkdtemp(path.join(os.tmpdir(), `wecom-bot-${kind}-`)));
  if (dataDir) await takeOverDataDir(kind, dir);
  const port = await freePort();
  const backend = postgresqlUrl
    ? // The data lives in that PostgreSQL database (which must exist); `dir` only holds FerretDB's state.
      ['--handler=postgresql', `--postgresql-url=${postgresqlUrl}`]
    : [
        '--handler=sqlite',
        // WAL with synchronous=NORMAL: survives a crash of any process, syncs at checkpoints instead of every
        // commit (about 4x the write throughput on a VM disk); a dev/test database, not production storage.
        `--sqlite-url=file:${dir}/?_pragma=synchronous(normal)`,
      ];
  const args =
    kind === 'mongod'
      ? ['--port', String(port), '--bind_ip', '127.0.0.1', '--dbpath', dir, '--quiet']
      : [
          ...backend,
          `--listen-addr=127.0.0.1:${port}`,
          `--state-dir=${dir}`,
          '--debug-addr=-',
          // FerretDB must never call out.
          '--telemetry=disable',
          '--log-level=error',
        ];
  // A kept database (dev's) runs in a process group of its own: the Ctrl-C a terminal sends to the whole foreground
  // group must not stop it under the bot, which is still finishing its jobs; dev stops it last (src/cli/dev.ts).
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: Boolean(dataDir) });
  // Who holds a kept data directory, for the next run should this one die without stopping its server.
  if (dataDir && child.pid) await writeFile(pidFile(kind, dir), JSON.stringify({ pid: child.pid, owner: process.pid }));
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-2000)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
      }
    }
    if (dataDir) await rm(pidFile(kind, dir), { force: true });
    else await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, child, 20_000);
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${stderr}`);
  }
  return { kind, ...(kind === 'ferretdb' ? { handler: postgresqlUrl ? ('postgresql' as const) : ('sqlite' as const) } : {}), uri: `mongodb://127.0.0.1:${port}`, ...(child.pid ? { pid: child.pid } : {}), stop };
}

/**
 * Picks a database, in order: MONGODB_URI, a `mongod` on PATH, `ferretdb` on PATH (SQLite handler in a temp
 * dir) — built from the Go module proxy first (`.ci/install-ferretdb`) when neither exists and Go does —, then
 * mongodb-memory-server (which downloads a real mongod when it can). `dataDir` keeps data between runs.
 * `handler: 'postgresql'` asks for FerretDB over the existing PostgreSQL database at `postgresqlUrl` instead (no
 * mongod, no fallback); MONGODB_URI still wins.
 */
export async function startEmbeddedDatabase(
  opts: { dataDir?: string; env?: NodeJS.ProcessEnv; handler?: 'sqlite' | 'postgresql'; postgresqlUrl?: string } = {},
): Promise<EmbeddedDatabase> {
  const env = opts.env ?? process.env;
  if (env.MONGODB_URI) return { kind: 'external', uri: env.MONGODB_URI, stop: async () => {} };
  if (opts.handler === 'postgresql') {
    if (!opts.postgresqlUrl) throw new Error('handler postgresql needs postgresqlUrl (postgres://user@host:port/database)');
    const bin = findExecutable('ferretdb');
    if (!bin) throw new Error('handler postgresql needs ferretdb on PATH or in ~/go/bin (.ci/install-ferretdb)');
    return spawnServer('ferretdb', bin, opts.dataDir, opts.postgresqlUrl);
  }
  const mongod = findExecutable('mongod');
  if (mongod) return spawnServer('mongod', mongod, opts.dataDir);
  if (!findExecutable('ferretdb') && findExecutable('go')) {
    console.log('No mongod or ferretdb found: building FerretDB with Go (once, about a minute)…');
    const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../.ci/install-ferretdb');
    const r = spawnSync('bash', [script], { stdio: 'inherit' });
    if (r.status !== 0) console.log('FerretDB build failed; trying mongodb-memory-server instead.');
  }
  const ferretdb = findExecutable('ferretdb');
  if (ferretdb) return spawnServer('ferretdb', ferretdb, opts.dataDir);
  let MongoMemoryServer;
  try {
    ({ MongoMemoryServer } = await import('mongodb-memory-server'));
  } catch {
    throw new Error('no database: set MONGODB_URI, put mongod or ferretdb on PATH (.ci/install-ferretdb), or npm install mongodb-memory-server');
  }
  const server = await MongoMemoryServer.create();
  return { kind: 'mongodb-memory-server', uri: server.getUri().replace(/\/[^/]*$/, ''), stop: async () => void (await server.stop()) };
}

/** Joins a server URI and a database name (keeping any query string). */
export function withDatabase(uri: string, db: string): string {
  const u = new URL(uri);
  u.pathname = `/${db}`;
  return u.toString();
}
