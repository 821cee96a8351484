import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
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

async function freePort(): Promise<number> {
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

async function spawnServer(kind: 'mongod' | 'ferretdb', bin: string, dataDir?: string, postgresqlUrl?: string): Promise<EmbeddedDatabase> {
  const dir = dataDir ?? (await mkdtemp(path.join(os.tmpdir(), `wecom-bot-${kind}-`)));
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
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-2000)));
  try {
    await waitForPort(port, child, 20_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\n${stderr}`);
  }
  return {
    kind,
    ...(kind === 'ferretdb' ? { handler: postgresqlUrl ? ('postgresql' as const) : ('sqlite' as const) } : {}),
    uri: `mongodb://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      if (!dataDir) await rm(dir, { recursive: true, force: true });
    },
  };
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
