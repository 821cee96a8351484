import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** A command started from a TypeScript entry point, with its output collected as it comes. */
export interface RunningCommand {
  child: ChildProcess;
  readonly stdout: string;
  readonly stderr: string;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** tsx's loader as a file URL, so an entry point runs from any working directory. */
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/**
 * Starts `node --import tsx <entry> ...args` (entry relative to the repository) without blocking this process: the
 * test may be serving what the command talks to. `env` is the whole environment of the command.
 */
export function startCommand(entry: string, args: string[], opts: { env: Record<string, string>; cwd?: string }): RunningCommand {
  const child = spawn(process.execPath, ['--import', TSX, path.resolve(entry), ...args], { cwd: opts.cwd ?? process.cwd(), env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  child.stdout!.on('data', (b: Buffer) => (out.stdout += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out.stderr += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  return {
    child,
    get stdout() {
      return out.stdout;
    },
    get stderr() {
      return out.stderr;
    },
    exited,
  };
}

/** Runs a command to its end (killed after `timeoutMs`): its exit code and output. */
export async function runCommand(
  entry: string,
  args: string[],
  opts: { env: Record<string, string>; cwd?: string; timeoutMs?: number },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const run = startCommand(entry, args, opts);
  const timer = setTimeout(() => run.child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
  const { code } = await run.exited;
  clearTimeout(timer);
  return { code, stdout: run.stdout, stderr: run.stderr };
}

/** The environment a command gets: PATH, HOME and REDIS_URL from this process, nothing else unless given. */
export function baseEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
  if (process.env.REDIS_URL) env.REDIS_URL = process.env.REDIS_URL;
  return { ...env, ...extra };
}
