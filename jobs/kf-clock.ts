import { DelayedError } from 'bullmq';
import { z } from 'zod';
import { defineJob } from '../src/queues/define-job.js';
import { fireClock } from '../src/domain/kf/clock.js';

declare module '../src/queues/define-job.js' {
  interface JobDataMap {
    'kf-clock': { lead: string; clock: string; level: number };
  }
}

/** A service clock's deadline (src/domain/kf/clock.ts): one delayed job per clock and level, at the deadline. */
export const kfClockJob = defineJob({
  name: 'kf-clock',
  data: z.object({ lead: z.string().min(1), clock: z.string().min(1), level: z.number().int().min(1).max(2) }),
  options: () => ({ removeOnComplete: true, removeOnFail: { age: 7 * 86_400 }, attempts: 6, backoff: { type: 'exponential', delay: 1000 } }),
  concurrency: () => 8,
  async process(d, ctx, job, token) {
    const out = await fireClock(ctx, d);
    if (out.deferTo !== undefined) {
      await job.moveToDelayed(out.deferTo, token);
      throw new DelayedError();
    }
    return out.result;
  },
});
