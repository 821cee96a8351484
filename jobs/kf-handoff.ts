import { z } from 'zod';
import { defineJob } from '../src/queues/define-job.js';
import { handOffWhenOpen } from '../src/domain/kf/inbound.js';

declare module '../src/queues/define-job.js' {
  interface JobDataMap {
    'kf-handoff': { lead: string; openKfid: string; at: number };
  }
}

/** A hand-off to a person that waited for the service hours to open (src/domain/kf/inbound.ts). */
export const kfHandoffJob = defineJob({
  name: 'kf-handoff',
  data: z.object({ lead: z.string().min(1), openKfid: z.string().min(1), at: z.number() }),
  options: () => ({ removeOnComplete: true, removeOnFail: { age: 7 * 86_400 }, attempts: 6, backoff: { type: 'exponential', delay: 2000 } }),
  concurrency: () => 4,
  process: (d, ctx) => handOffWhenOpen(ctx, d),
});
