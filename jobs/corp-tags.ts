import { z } from 'zod';
import { defineJob } from '../src/queues/define-job.js';
import { runCorpTagCheck, runScheduledCorpTagCheck } from '../src/domain/leads/corp-tag-changes.js';

declare module '../src/queues/define-job.js' {
  interface JobDataMap {
    /** `n`: the request a callback made (requestCorpTagCheck); 0: the nightly check. */
    'corp-tags': { n: number };
  }
}

/**
 * The check of the corp tag names the bot keeps (corp-tag-changes.ts): after a tag was renamed or deleted in WeCom,
 * and every night at CORP_TAGS_CHECK_CRON.
 */
export const corpTagsJob = defineJob({
  name: 'corp-tags',
  data: z.object({ n: z.number().int().nonnegative() }),
  options: () => ({ removeOnComplete: { age: 7 * 86_400 }, removeOnFail: { age: 30 * 86_400 }, attempts: 8, backoff: { type: 'exponential', delay: 10_000 } }),
  concurrency: () => 1,
  // Reads every lead on a big database: a generous lock, so a live check is never taken for a dead one.
  worker: () => ({ lockDuration: 10 * 60_000 }),
  schedule: (c) => ({ pattern: c.CORP_TAGS_CHECK_CRON, tz: c.OPS_TIMEZONE, data: { n: 0 } }),
  process: (d, ctx) => (d.n ? runCorpTagCheck(ctx, d.n) : runScheduledCorpTagCheck(ctx)),
});
