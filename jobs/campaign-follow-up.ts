import { DelayedError } from 'bullmq';
import { z } from 'zod';
import { defineJob } from '../src/queues/define-job.js';
import { countFollowUp } from '../src/domain/campaigns/follow-up.js';

declare module '../src/queues/define-job.js' {
  interface JobDataMap {
    'campaign-follow-up': { runId: string; final: boolean };
  }
}

/**
 * Counts what a finished run's leads did in the 7 days after it (replies, clicks, stage moves): a day after, and at 7
 * days. The final count waits, as a delayed job, while a lead reached late (a mass message its owner confirmed days
 * after the run) still has days of its 7 to go, or a message still waits for its owner (src/domain/campaigns/follow-up.ts).
 */
export const campaignFollowUpJob = defineJob({
  name: 'campaign-follow-up',
  data: z.object({ runId: z.string().min(1), final: z.boolean() }),
  options: () => ({ removeOnComplete: { count: 1000 }, removeOnFail: { age: 7 * 86_400 }, attempts: 5, backoff: { type: 'exponential', delay: 60_000 } }),
  concurrency: () => 1,
  worker: () => ({ lockDuration: 5 * 60_000 }),
  async process(d, ctx, job, token) {
    const schedule = ctx.config.MASS_RESULT_POLL_SCHEDULE;
    const f = await countFollowUp(d.runId, d.final, { resultsForMs: schedule[schedule.length - 1] ?? 0 });
    if (d.final && f && !f.final && f.finalAt) {
      await job.moveToDelayed(f.finalAt.getTime(), token);
      throw new DelayedError();
    }
    return f ? `reached ${f.reached}, replied ${f.replied}, clicked ${f.clicked}` : 'no_run';
  },
});
