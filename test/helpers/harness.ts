import { QueueEvents, type Job } from 'bullmq';
import mongoose from 'mongoose';
import { closeContext, createContext } from '../../src/app/bot.js';
import { startWorkers } from '../../src/app/workers.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { BotContext, HandlerContext } from '../../src/context.js';
import { createLogger } from '../../src/logger.js';
import type { JobDataMap, JobName } from '../../src/queues/define-job.js';
import { startSandbox, type Sandbox, type SandboxOptions } from '../../src/sandbox/index.js';
import { parseXml } from '../../src/wecom/callback/xml.js';
import { classifyEvent, type EventKey } from '../../src/wecom/events/index.js';
import { JOB_KINDS } from '../../jobs/index.js';
import { TEST_CORP } from '../fixtures/test-corp.js';
import { deleteKeys, testEnv, uniqueName } from './test-bot.js';

/** A bot context on the real stores with nothing running: handlers and jobs are run one at a time, on demand. */
export interface Harness {
  ctx: BotContext;
  config: Config;
  sandbox: Sandbox;
  /**
   * Runs the handler of one decrypted callback (its XML, e.g. a fixture), classified and validated exactly as the
   * receiver does; resolves when the handler has finished (rejects with its error).
   */
  handle(xml: string, opts?: { attempt?: number; receivedAt?: number }): Promise<{ key: EventKey; dedupeKey: string }>;
  /**
   * Runs one job of `kind` through BullMQ (its queue, a worker of that kind only, its schema check) and resolves
   * with what it returned, the error it failed with, or `delayed` when it put itself off (quiet hours, a cap). The
   * worker runs only while the job does: what the job schedules stays in Redis (jobs of that kind already due may
   * run alongside it).
   */
  runJob<N extends JobName>(kind: N, data: JobDataMap[N], opts?: { jobId?: string }): Promise<{ job: Job; result?: unknown; error?: Error; delayed?: boolean }>;
  /** Runs the jobs of `kind` that are waiting (and those they add now), until none is waiting or active. */
  drain(kind: JobName, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Starts a harness on a fresh database and Redis prefix, with the sandbox WeCom for the test corp. */
export async function startHarness(label: string, opts: { env?: Record<string, string>; sandbox?: Partial<SandboxOptions> } = {}): Promise<Harness> {
  const name = uniqueName(label);
  const sandbox = await startSandbox({ corpId: TEST_CORP.corpId, secrets: [TEST_CORP.secret], ...opts.sandbox });
  const config = loadConfig(testEnv(name, sandbox.url, { ROLE: 'worker', ...opts.env }));
  const ctx = await createContext(config, createLogger(config.LOG_LEVEL));
  const events = new Map<string, QueueEvents>();
  let n = 0;
  return {
    ctx,
    config,
    sandbox,
    async handle(xml, o = {}) {
      const parsed = classifyEvent(parseXml(xml), 'xml');
      if (parsed.kind !== 'known') throw new Error(`no event family defines ${parsed.key}`);
      const hctx: HandlerContext = { ...ctx, dedupeKey: parsed.dedupeKey, receivedAt: o.receivedAt ?? Date.now(), attempt: o.attempt ?? 0 };
      if (!(await ctx.events.dispatch(parsed.key, parsed.event, hctx))) throw new Error(`no handler for ${parsed.key}`);
      return { key: parsed.key, dedupeKey: parsed.dedupeKey };
    },
    async runJob(kind, data, o = {}) {
      let qe = events.get(kind);
      if (!qe) {
        qe = new QueueEvents(kind, { connection: ctx.redis.duplicate(), prefix: ctx.queues.prefix });
        await qe.waitUntilReady();
        events.set(kind, qe);
      }
      const job = await ctx.queues.get(kind).add(kind, data, { jobId: o.jobId ?? `harness|${kind}|${Date.now()}|${n++}` });
      const kindDef = JOB_KINDS.find((k) => k.name === kind)!;
      const delayed = new Promise<'delayed'>((resolve) => {
        const onDelayed = ({ jobId }: { jobId: string }) => {
          if (jobId !== job.id) return;
          qe!.off('delayed', onDelayed);
          resolve('delayed');
        };
        qe!.on('delayed', onDelayed);
      });
      const [worker] = startWorkers(ctx, [kindDef]);
      try {
        const result = await Promise.race([job.waitUntilFinished(qe, 60_000), delayed]);
        return result === 'delayed' ? { job, delayed: true } : { job, result };
      } catch (err) {
        return { job, error: err as Error };
      } finally {
        await worker!.close();
      }
    },
    async drain(kind, timeoutMs = 30_000) {
      const [worker] = startWorkers(ctx, [JOB_KINDS.find((k) => k.name === kind)!]);
      const deadline = Date.now() + timeoutMs;
      try {
        for (;;) {
          const c = await ctx.queues.get(kind).getJobCounts('waiting', 'active', 'prioritized');
          if (!c.waiting && !c.active && !c.prioritized) break;
          if (Date.now() > deadline) throw new Error(`${kind} jobs still waiting after ${timeoutMs} ms`);
          await new Promise((r) => setTimeout(r, 50));
        }
      } finally {
        await worker!.close();
      }
    },
    async stop() {
      for (const qe of events.values()) await qe.close();
      await mongoose.connection.db?.dropDatabase().catch(() => undefined);
      await closeContext(ctx);
      await sandbox.close();
      await deleteKeys(config.REDIS_URL, name);
    },
  };
}
