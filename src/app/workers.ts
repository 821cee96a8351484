import { Worker, type Job } from 'bullmq';
import { syncContact } from '../../jobs/sync-contact.js';
import { recordWelcome, sendWelcome } from '../../jobs/send-welcome.js';
import { runNurtureStep } from '../../jobs/nurture-step.js';
import { pollMassResult } from '../../jobs/poll-mass-result.js';
import type { BotContext } from '../context.js';
import { jobsDone } from '../metrics.js';
import { QUEUE, type EventJobData } from '../queues/index.js';
import type { EventRouter } from '../wecom/events/dispatcher.js';

/** Starts the workers of every queue; returns them so the caller can close them on shutdown. */
export function startWorkers(ctx: BotContext, router: EventRouter): Worker[] {
  const { config } = ctx;
  const common = {
    connection: ctx.queues.connection,
    prefix: ctx.queues.prefix,
    lockDuration: config.JOB_LOCK_MS,
    // A job whose worker died is found stalled and run again (at most twice before it fails).
    stalledInterval: Math.max(500, Math.floor(config.JOB_LOCK_MS / 2)),
    maxStalledCount: 2,
  };

  const events = new Worker<EventJobData>(
    QUEUE.events,
    async (job) => {
      const { key, event, dedupeKey, receivedAt } = job.data;
      const log = ctx.log.child({ event: key, dedupeKey });
      const handled = await router.dispatch(key, event, { ...ctx, log, eventKey: dedupeKey, receivedAt, attempt: job.attemptsMade });
      if (!handled) log.info('no handler registered; event ignored');
    },
    { ...common, concurrency: config.EVENT_CONCURRENCY },
  );
  const welcome = new Worker(QUEUE.welcome, (job) => sendWelcome(job, ctx), {
    ...common,
    concurrency: config.WELCOME_CONCURRENCY,
  });
  const contactSync = new Worker(QUEUE.contactSync, (job) => syncContact(job, ctx), {
    ...common,
    concurrency: config.EVENT_CONCURRENCY,
  });

  const nurture = new Worker(QUEUE.nurture, (job, token) => runNurtureStep(job, token, ctx), {
    ...common,
    concurrency: config.NURTURE_CONCURRENCY,
  });
  const massResult = new Worker(QUEUE.massResult, (job) => pollMassResult(job, ctx), { ...common, concurrency: 4 });
  const records = new Worker(QUEUE.records, recordWelcome, { ...common, concurrency: 8 });

  const workers = [events, welcome, contactSync, nurture, massResult, records];
  for (const w of workers) {
    w.on('completed', () => jobsDone.inc({ queue: w.name, outcome: 'completed' }));
    w.on('failed', (job: Job | undefined, err: Error) => {
      jobsDone.inc({ queue: w.name, outcome: 'failed' });
      const final = job && job.attemptsMade >= (job.opts.attempts ?? 1);
      ctx.log[final ? 'error' : 'warn']({ queue: w.name, jobId: job?.id, attempts: job?.attemptsMade, err: err.message }, final ? 'job failed for good' : 'job failed; will retry');
    });
    w.on('error', (err) => ctx.log.error({ queue: w.name, err: err.message }, 'worker error'));
  }
  return workers;
}
