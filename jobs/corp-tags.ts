import { z } from 'zod';
import { defineJob } from '../src/queues/define-job.js';
import { runCorpTagCheck } from '../src/domain/leads/corp-tag-changes.js';

declare module '../src/queues/define-job.js' {
  interface JobDataMap {
    'corp-tags': { n: number };
  }
}

/** The check of the corp tag names the bot keeps, after a tag was renamed or deleted in WeCom (corp-tag-changes.ts). */
export const corpTagsJob = defineJob({
  name: 'corp-tags',
  data: z.object({ n: z.number().int().positive() }),
  options: () => ({ removeOnComplete: { age: 7 * 86_400 }, removeOnFail: { age: 30 * 86_400 }, attempts: 8, backoff: { type: 'exponential', delay: 10_000 } }),
  concurrency: () => 1,
  // Reads every lead on a big database: a generous lock, so a live check is never taken for a dead one.
  worker: () => ({ lockDuration: 10 * 60_000 }),
  process: (d, ctx) => runCorpTagCheck(ctx, d.n),
});
