import { z } from 'zod';
import { defineJob } from '../src/queues/define-job.js';
import { startRun } from '../src/domain/campaigns/schedule.js';

declare module '../src/queues/define-job.js' {
  interface JobDataMap {
    'campaign-tick': { key: string; at?: number };
  }
}

/**
 * A campaign's time came: its cron scheduler's slot (one BullMQ job scheduler per campaign, `campaign|<key>`), or
 * its one-off `at`. Starts the run of that slot once (src/domain/campaigns/schedule.ts).
 */
export const campaignTickJob = defineJob({
  name: 'campaign-tick',
  data: z.object({ key: z.string().min(1), at: z.number().optional() }),
  options: () => ({ removeOnComplete: { count: 1000 }, removeOnFail: { age: 7 * 86_400 }, attempts: 5, backoff: { type: 'exponential', delay: 5000 } }),
  concurrency: () => 2,
  async process(d, ctx, job) {
    // A scheduler's job carries its slot (prevMillis); its id ends with it too.
    const slot = d.at ?? (job.opts as { prevMillis?: number }).prevMillis ?? Number(String(job.id).split(':').at(-1));
    const started = await startRun(ctx, d.key, { trigger: 'schedule', at: Number.isFinite(slot) ? slot : job.timestamp });
    return started ? `${started.created ? 'started' : 'exists'}:${started.run._id}` : 'nothing_to_run';
  },
});
