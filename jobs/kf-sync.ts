import { DelayedError } from 'bullmq';
import { z } from 'zod';
import { defineJob } from '../src/queues/define-job.js';
import { runSync } from '../src/domain/kf/sync.js';

declare module '../src/queues/define-job.js' {
  interface JobDataMap {
    'kf-sync': { openKfid: string; n: number };
  }
}

/**
 * The sync a 微信客服 callback asked for (src/domain/kf/sync.ts): one account at a time across every process; a sync
 * that finds its account busy waits as the same delayed job and looks again.
 */
export const kfSyncJob = defineJob({
  name: 'kf-sync',
  data: z.object({ openKfid: z.string().min(1), n: z.number().int().positive() }),
  options: (c) => ({ removeOnComplete: { age: c.DEDUPE_TTL_SECONDS }, removeOnFail: { age: 7 * 86_400 }, attempts: 12, backoff: { type: 'exponential', delay: 1000 } }),
  concurrency: () => 8,
  async process(d, ctx, job, token) {
    const out = await runSync(ctx, d);
    if (out.deferTo !== undefined) {
      await job.moveToDelayed(out.deferTo, token);
      throw new DelayedError();
    }
    return out.result;
  },
});
