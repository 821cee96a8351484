import v8 from 'node:v8';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { BotContext } from '../context.js';
import { jobsDone } from '../metrics.js';
import type { AnyJobKind } from '../queues/define-job.js';

/**
 * Registers the schedule of every job kind that runs on a clock (one scheduler per kind in Redis: re-registering at
 * each start replaces it, so a changed pattern takes effect and no run is doubled).
 */
export async function scheduleJobs(ctx: BotContext, kinds: readonly AnyJobKind[]): Promise<void> {
  for (const kind of kinds) {
    const s = kind.schedule?.(ctx.config);
    const queue = ctx.queues.get(kind.name as never);
    if (!s) {
      await queue.removeJobScheduler(kind.name);
      continue;
    }
    await queue.upsertJobScheduler(kind.name, { pattern: s.pattern, tz: s.tz }, { name: kind.name, data: s.data });
  }
}

/**
 * Starts one worker per job kind, with the kind's concurrency and worker settings. Job data is checked against the
 * kind's schema first: data that does not fit fails the job at once (UnrecoverableError), logged with the job id.
 */
export function startWorkers(ctx: BotContext, kinds: readonly AnyJobKind[]): Worker[] {
  const { config } = ctx;
  boundHeapGrowth(config.WORKER_HEAP_GROWTH_PERCENT);
  const common = {
    connection: ctx.queues.connection,
    prefix: ctx.queues.prefix,
    lockDuration: config.JOB_LOCK_MS,
    // A job whose worker died is found stalled and run again (at most twice before it fails).
    stalledInterval: Math.max(500, Math.floor(config.JOB_LOCK_MS / 2)),
    maxStalledCount: 2,
  };
  return kinds.map((kind) => {
    const worker = new Worker(
      kind.name,
      async (job: Job, token?: string) => {
        const parsed = kind.data.safeParse(job.data);
        if (!parsed.success) {
          const fields = parsed.error.issues.map((i) => `${i.path.join('.') || '(data)'}: ${i.message}`).join('; ');
          ctx.log.error({ queue: kind.name, jobId: job.id, fields }, 'job data does not fit its schema; failed without retrying');
          throw new UnrecoverableError(`invalid ${kind.name} job data: ${fields}`);
        }
        return kind.process(parsed.data, ctx, job, token);
      },
      { ...common, concurrency: kind.concurrency(config), ...kind.worker?.(config) },
    );
    worker.on('completed', () => jobsDone.inc({ queue: kind.name, outcome: 'completed' }));
    worker.on('failed', (job: Job | undefined, err: Error) => {
      jobsDone.inc({ queue: kind.name, outcome: 'failed' });
      const final = err instanceof UnrecoverableError || (job !== undefined && job.attemptsMade >= (job.opts.attempts ?? 1));
      ctx.log[final ? 'error' : 'warn']({ queue: kind.name, jobId: job?.id, attempts: job?.attemptsMade, err: err.message }, final ? 'job failed for good' : 'job failed; will retry');
    });
    // Connection errors reach every worker at each reconnection attempt: logged once per kind (src/queues/bullmq-errors.ts).
    return ctx.queues.errors.watch(worker, kind.name);
  });
}

/**
 * Keeps a worker's heap within `percent` over its live size (docs/architecture.md, "Memory"). Batch work (a campaign's
 * groups of 10,000, a sync page of 1,000 messages) keeps its documents alive across database round trips, so V8
 * promotes them and, left to itself, lets the old space grow to about 4 times the live heap before a full collection:
 * hundreds of MB of garbage. V8 reads the flag at each collection, so setting it at start is enough.
 */
export function boundHeapGrowth(percent: number): void {
  if (percent > 0) v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
}
