import { z } from 'zod';
import { defineJob } from '../src/queues/define-job.js';
import { pollMassResult, type MassPoll } from '../src/domain/delivery/mass-result.js';

declare module '../src/queues/define-job.js' {
  interface JobDataMap {
    'mass-result': MassPoll;
  }
}

/**
 * One poll of whether an owner sent a mass message [D:92135], on MASS_RESULT_POLL_SCHEDULE: of one delivery, or of a
 * campaign's group (one message to many customers), settling all of them at once. Its last attempt tells the poll
 * to give up on an errcode not known to pass (src/domain/delivery/mass-result.ts, resultUnavailable).
 */
export const pollMassResultJob = defineJob({
  name: 'mass-result',
  data: z.object({
    deliveryKey: z.string().min(1),
    attempt: z.number().int().nonnegative(),
    msgid: z.string().min(1),
    userId: z.string().min(1),
    corpId: z.string().min(1),
    externalUserId: z.string().min(1),
    submittedAt: z.number(),
    group: z.object({ deliveryKeyPrefix: z.string().min(1) }).optional(),
  }),
  options: () => ({ removeOnComplete: true, removeOnFail: true, attempts: 8, backoff: { type: 'exponential', delay: 2000 } }),
  concurrency: () => 4,
  process: (d, ctx, job) => pollMassResult(ctx, d, { lastAttempt: job.attemptsMade + 1 >= (job.opts.attempts ?? 1) }),
});
