import type { Job } from 'bullmq';
import { z } from 'zod';
import { postDailyReport } from '../src/domain/report/post-report.js';
import { defineJob } from '../src/queues/define-job.js';

declare module '../src/queues/define-job.js' {
  interface JobDataMap {
    'ops-report': Record<string, never>;
  }
}

/** The slot a scheduled job stands for (BullMQ's job schedulers keep it as prevMillis), else when it was due. */
function slotOf(job: Job): number {
  const prev = (job.opts as { prevMillis?: number }).prevMillis;
  return typeof prev === 'number' && prev > 0 ? prev : job.timestamp + (job.opts.delay ?? 0);
}

/**
 * The daily report to the ops group's webhook at OPS_REPORT_CRON in OPS_TIMEZONE, once per day however many workers
 * run (src/domain/report/post-report.ts).
 */
export const opsReportJob = defineJob({
  name: 'ops-report',
  data: z.object({}) as unknown as z.ZodType<Record<string, never>>,
  // Waiting for a free webhook send: a few tries, 20 s apart (the webhook's window is one minute).
  options: () => ({ removeOnComplete: 30, removeOnFail: 30, attempts: 10, backoff: { type: 'fixed', delay: 20_000 } }),
  concurrency: () => 1,
  schedule: (c) => ({ pattern: c.OPS_REPORT_CRON, tz: c.OPS_TIMEZONE, data: {} }),
  process: (_d, ctx, job) => postDailyReport(ctx, slotOf(job)),
});
