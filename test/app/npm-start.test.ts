import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBot, type TestBot } from '../helpers/test-bot.js';
import { waitFor } from '../helpers/wait-for.js';

/** The processes started under `pid`, at any depth (from /proc: each task's children). */
function descendants(pid: number): number[] {
  const out: number[] = [];
  const walk = (p: number) => {
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      return;
    }
    for (const t of tasks) {
      let kids: number[] = [];
      try {
        kids = readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
      } catch {
        continue;
      }
      for (const k of kids) {
        out.push(k);
        walk(k);
      }
    }
  };
  walk(pid);
  return out;
}
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

let t: TestBot;
beforeAll(async () => {
  t = await startTestBot('npm_start', { role: 'web' });
});
afterAll(async () => t?.stop());

/**
 * A process manager stops `npm start` with SIGTERM to npm, which passes it to the script's shell: a shell that does not
 * pass it on left the bot running, its jobs cut off later by a SIGKILL. The scripts `exec` tsx, which passes it to the
 * bot: the bot shuts down as after a SIGTERM of its own (docs/setup.md, SHUTDOWN_TIMEOUT_SECONDS).
 */
describe('npm start', () => {
  it('stops the bot when npm gets SIGTERM: it shuts down (finishing its jobs) and nothing it started is left running', async () => {
    const npm = spawn('npm', ['start', '--silent'], { env: { ...process.env, ...t.env, ROLE: 'worker', LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let started: number[] = [];
    npm.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    npm.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    try {
      await waitFor(() => out.includes('"bot started"') || npm.exitCode !== null, 'the bot to start', 60_000, 100);
      expect(out).toContain('"bot started"');
      started = descendants(npm.pid!);
      expect(started.length).toBeGreaterThan(0);
      npm.kill('SIGTERM');
      await waitFor(() => started.every((p) => !alive(p)), 'every process under npm to exit', 20_000, 100);
      expect(out).toContain('shutting down: finishing active jobs');
    } finally {
      if (npm.exitCode === null) npm.kill('SIGKILL');
      for (const p of started) if (alive(p)) process.kill(p, 'SIGKILL');
    }
  });
});
