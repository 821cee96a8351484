import { z } from 'zod';
import { defineJob } from '../src/queues/define-job.js';
import type { InboundBatch } from '../src/domain/kf/inbound.js';
import { drainSetAside } from '../src/domain/kf/set-aside.js';
import type { KfSyncedMessage } from '../src/wecom/types.js';

declare module '../src/queues/define-job.js' {
  interface JobDataMap {
    'kf-inbound': InboundBatch;
  }
}

const message = z
  .object({ msgid: z.string().min(1), send_time: z.number(), origin: z.number(), msgtype: z.string().min(1) })
  .passthrough() as unknown as z.ZodType<KfSyncedMessage>;

/**
 * One customer's set-aside work: the batch a sync set aside after a failure, and every batch of theirs queued behind it
 * meanwhile, handled in order, each message once (src/domain/kf/set-aside.ts). Its data is the first batch; the
 * queue in Redis holds them all.
 */
export const kfInboundJob = defineJob({
  name: 'kf-inbound',
  data: z.object({ openKfid: z.string().min(1), externalUserId: z.string().nullable(), msgs: z.array(message) }),
  options: (c) => ({ removeOnComplete: { age: c.DEDUPE_TTL_SECONDS }, removeOnFail: { age: 7 * 86_400 }, attempts: 8, backoff: { type: 'exponential', delay: 1000 } }),
  concurrency: (c) => c.KF_CONCURRENCY,
  process: (d, ctx, job) => drainSetAside(ctx, d, job.id!, job.attemptsMade + 1 >= (job.opts.attempts ?? 1)),
});
