import { z } from 'zod';
import { defineJob } from '../src/queues/define-job.js';
import { rescoreAll } from '../src/domain/scoring/rescore.js';

declare module '../src/queues/define-job.js' {
  interface JobDataMap {
    rescore: Record<string, never>;
  }
}

/** Every lead's score recomputed (intent decays) and the funnel rebuilt, daily at RESCORE_CRON in OPS_TIMEZONE. */
export const rescoreJob = defineJob({
  name: 'rescore',
  data: z.object({}).strict() as unknown as z.ZodType<Record<string, never>>,
  options: () => ({ removeOnComplete: 30, removeOnFail: 30, attempts: 3, backoff: { type: 'exponential', delay: 60_000 } }),
  concurrency: () => 1,
  // Long on a big database: a generous lock, so a live run is never taken for a dead one.
  worker: () => ({ lockDuration: 10 * 60_000 }),
  schedule: (c) => ({ pattern: c.RESCORE_CRON, tz: c.OPS_TIMEZONE, data: {} }),
  process: (_d, ctx) => rescoreAll(ctx),
});
