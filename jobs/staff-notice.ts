import { DelayedError } from 'bullmq';
import { z } from 'zod';
import { defineJob } from '../src/queues/define-job.js';
import { NOTICE_KINDS, sendStaffNotice, type StaffNotice } from '../src/domain/delivery/staff-notice.js';

declare module '../src/queues/define-job.js' {
  interface JobDataMap {
    'staff-notice': StaffNotice;
  }
}

/** A message to staff (message/send [D:90236]), sent exactly once: a lead's upgrade into S or A, and later alerts. */
export const staffNoticeJob = defineJob({
  name: 'staff-notice',
  data: z.object({
    key: z.string().min(1),
    userIds: z.array(z.string().min(1)).min(1),
    text: z.string().min(1),
    lead: z.object({ corpId: z.string().min(1), externalUserId: z.string().min(1) }).optional(),
    check: z.object({ gradeUpgrades: z.number().int().positive(), grade: z.string().optional(), score: z.number().optional(), why: z.string().optional() }).optional(),
    type: z.enum(NOTICE_KINDS),
    refused: z.number().int().nonnegative().optional(),
  }),
  options: (c) => ({ removeOnComplete: { age: c.DEDUPE_TTL_SECONDS }, removeOnFail: { age: 7 * 86_400 }, attempts: 8, backoff: { type: 'exponential', delay: 2000 } }),
  concurrency: () => 4,
  async process(d, ctx, job, token) {
    const out = await sendStaffNotice(ctx, d, {
      lastAttempt: job.attemptsMade + 1 >= (job.opts.attempts ?? 1),
      countRefused: (attempt) => job.updateData({ ...d, refused: attempt }),
    });
    // A member at the per-member limit of app messages: the same job waits for room (not one of its attempts).
    if (out.deferTo !== undefined) {
      await job.moveToDelayed(out.deferTo, token);
      throw new DelayedError();
    }
    return out.result;
  },
});
