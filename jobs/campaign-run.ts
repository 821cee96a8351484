import { DelayedError } from 'bullmq';
import { z } from 'zod';
import { defineJob } from '../src/queues/define-job.js';
import { processRun } from '../src/domain/campaigns/run.js';

declare module '../src/queues/define-job.js' {
  interface JobDataMap {
    'campaign-run': { runId: string };
  }
}

/**
 * One campaign run, start to end (src/domain/campaigns/run.ts): one job per run (its id is the run's), which waits
 * as a delayed job through quiet hours and until the next day's pass, and ends when its campaign is paused (resume
 * adds it again). A worker that dies mid-run leaves it stalled: another worker takes it over and it resumes from its
 * checkpoint. Done or failed for good, it is dropped: the reconciler adds it again while the run is open.
 */
export const campaignRunJob = defineJob({
  name: 'campaign-run',
  data: z.object({ runId: z.string().min(1) }),
  options: () => ({ removeOnComplete: true, removeOnFail: true, attempts: 10, backoff: { type: 'exponential', delay: 5000 } }),
  concurrency: () => 2,
  async process(d, ctx, job, token) {
    const out = await processRun(ctx, d.runId, { lastAttempt: job.attemptsMade + 1 >= (job.opts.attempts ?? 1), runner: job.id });
    if (out.deferTo !== undefined) {
      await job.moveToDelayed(out.deferTo, token);
      throw new DelayedError();
    }
    return out.result;
  },
});
