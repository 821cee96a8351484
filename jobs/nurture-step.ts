import { DelayedError } from 'bullmq';
import { z } from 'zod';
import { defineJob } from '../src/queues/define-job.js';
import { runNurtureStep } from '../src/domain/nurture/run-step.js';
import type { NurtureStepData } from '../src/domain/nurture/schedule.js';

declare module '../src/queues/define-job.js' {
  interface JobDataMap {
    nurture: NurtureStepData;
  }
}

/**
 * One due step of an enrollment (src/domain/nurture/run-step.ts). A step held back by quiet hours or the daily cap
 * waits as the same delayed job. Finished steps are dropped at once: the enrollment in MongoDB is the record and
 * Redis holds only what is due; a step that fails for good is dropped too, so the reconciler (which sees the
 * enrollment still on that step) schedules it again rather than finding a dead job holding its id.
 */
export const nurtureStepJob = defineJob({
  name: 'nurture',
  data: z.object({ e: z.string().min(1), s: z.number().int().nonnegative(), l: z.string().optional() }),
  options: () => ({ removeOnComplete: true, removeOnFail: true, attempts: 8, backoff: { type: 'exponential', delay: 2000 } }),
  concurrency: (c) => c.NURTURE_CONCURRENCY,
  async process(d, ctx, job, token) {
    const out = await runNurtureStep(ctx, { enrollmentId: d.e, step: d.s, leadId: d.l, lastAttempt: job.attemptsMade + 1 >= (job.opts.attempts ?? 1) });
    if (out.deferTo !== undefined) {
      await job.moveToDelayed(out.deferTo, token);
      throw new DelayedError();
    }
    return out.result;
  },
});
