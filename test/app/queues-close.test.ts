import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BullErrors } from '../../src/queues/bullmq-errors.js';
import { baseEnv, runCommand } from '../helpers/run-command.js';
import { startSilentRedis, type SilentRedis } from '../helpers/silent-redis.js';

/** A process with the queues and workers of every job kind, closed after `closeAfterMs` (test/fixtures/scripts/close-queues.ts). */
const closeQueues = (url: string, closeAfterMs: number) => runCommand('test/fixtures/scripts/close-queues.ts', [url, String(closeAfterMs)], { env: baseEnv() });

describe('queues and workers closed while Redis stops answering', () => {
  // Redis answers each connection's ready check and then nothing: every queue's and worker's connection check is
  // still waiting when they are closed, and fails once the connection is cut, after its object was closed.
  let silent: SilentRedis;
  beforeAll(async () => {
    silent = await startSilentRedis(new URL(baseEnv().REDIS_URL ?? 'redis://127.0.0.1:6379'));
  });
  afterAll(async () => silent?.close());

  it.each([0, 2_500])('closed after %i ms: the process exits 0, the late failure logged once, at warn', async (closeAfterMs) => {
    const r = await closeQueues(silent.url, closeAfterMs);
    expect(r.code, `stdout: ${r.stdout.slice(-2000)}\nstderr: ${r.stderr.slice(-2000)}`).toBe(0);
    expect(r.stderr).toBe('');
    const late = r.stdout.split('\n').filter((l) => l.includes('Connection is closed'));
    expect(late, r.stdout.slice(-2000)).toHaveLength(1);
    expect(JSON.parse(late[0]!)).toMatchObject({ level: 40, err: 'Connection is closed.' });
  });
});

describe('BullErrors, the log of queue and worker errors', () => {
  it('logs the first error of a kind at once and its repeats every 10 minutes with their count, without credentials', () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = pino({ level: 'warn', base: null, timestamp: false }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    let now = 0;
    const errors = new BullErrors(log, () => now);
    const events = errors.watch(new EventEmitter(), 'events');
    const welcome = errors.watch(new EventEmitter(), 'welcome');
    const refused = () => Object.assign(new Error('connect ECONNREFUSED 10.0.0.9:6379'), { code: 'ECONNREFUSED' });
    events.emit('error', refused());
    welcome.emit('error', refused());
    events.emit('error', new Error('cannot reach redis://bot:s3cret@10.0.0.9:6379'));
    now = 9 * 60_000;
    welcome.emit('error', refused());
    now = 10 * 60_000;
    welcome.emit('error', refused());
    expect(lines.map(({ queue, err, code, repeats }) => ({ queue, err, code, repeats }))).toEqual([
      { queue: 'events', err: 'connect ECONNREFUSED 10.0.0.9:6379', code: 'ECONNREFUSED', repeats: undefined },
      { queue: 'events', err: 'cannot reach redis://10.0.0.9:6379', code: undefined, repeats: undefined },
      { queue: 'welcome', err: 'connect ECONNREFUSED 10.0.0.9:6379', code: 'ECONNREFUSED', repeats: 2 },
    ]);
    expect(lines.every((l) => l.level === 40)).toBe(true);
  });

  it('one kind for errors that differ only in numbers (a job id), and a lock error at error level', () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = pino({ level: 'warn', base: null, timestamp: false }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    const errors = new BullErrors(log, () => 0);
    const nurture = errors.watch(new EventEmitter(), 'nurture');
    for (const id of [17, 18, 19]) nurture.emit('error', new Error(`could not renew lock for job ${id}`));
    expect(lines.map(({ err, level }) => ({ err, level }))).toEqual([{ err: 'could not renew lock for job 17', level: 50 }]);
  });
});
