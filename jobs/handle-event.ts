import { z } from 'zod';
import { defineJob } from '../src/queues/define-job.js';
import { dispatchEvent, eventJobSchema, type EventJobData } from '../src/inbox/event-job.js';
import { isEventKey } from '../src/wecom/events/index.js';

declare module '../src/queues/define-job.js' {
  interface JobDataMap {
    events: EventJobData;
  }
}

/**
 * One accepted callback, handed to the handler registered for its key (handlers/). The job id is the event's dedupe
 * key and handled jobs are kept for DEDUPE_TTL_SECONDS, so a callback WeCom retries is never handled twice.
 */
export const handleEventJob = defineJob({
  name: 'events',
  data: eventJobSchema.refine((d) => isEventKey(d.key), { message: 'no event family defines this key', path: ['key'] }) as unknown as z.ZodType<EventJobData>,
  // Completed jobs are kept so the same jobId (dedupe key) is refused while WeCom may still retry. ~12 attempts at
  // 1 s, 2 s, 4 s... (2,047 s in all): a callback survives a store outage of about half an hour.
  options: (c) => ({ removeOnComplete: { age: c.DEDUPE_TTL_SECONDS }, removeOnFail: { age: 7 * 86_400 }, attempts: 12, backoff: { type: 'exponential', delay: 1000 } }),
  concurrency: (c) => c.EVENT_CONCURRENCY,
  process: (data, ctx, job) => dispatchEvent(ctx, data, job.attemptsMade),
});
