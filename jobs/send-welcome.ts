import { z } from 'zod';
import { defineJob } from '../src/queues/define-job.js';
import type { WelcomeJob } from '../src/domain/welcome/plan-welcome.js';
import { sendWelcome } from '../src/domain/welcome/send-welcome.js';

declare module '../src/queues/define-job.js' {
  interface JobDataMap {
    welcome: WelcomeJob;
  }
}

const data = z.object({
  corpId: z.string().min(1),
  externalUserId: z.string().min(1),
  userId: z.string().min(1),
  channelKey: z.string().min(1),
  welcomeCode: z.string().min(1),
  dedupeKey: z.string().min(1),
  receivedAt: z.number(),
  deadline: z.number(),
});

/**
 * The welcome fast lane: its own queue, fed straight from the inbox, with a short lock so that after a crash a live
 * worker takes a welcome over within a few seconds, while its WelcomeCode (20 s) is still valid. Taking over a welcome
 * that was only slow is safe: the code is single-use, WeCom refuses a second send (41051) [D:92137].
 */
export const sendWelcomeJob = defineJob({
  name: 'welcome',
  data,
  // Short, dense retries: the WelcomeCode dies 20 s after the event; the job itself enforces the deadline.
  options: (c) => ({ removeOnComplete: { age: c.DEDUPE_TTL_SECONDS }, removeOnFail: { age: 7 * 86_400 }, attempts: 10, backoff: { type: 'exponential', delay: 200 } }),
  concurrency: (c) => c.WELCOME_CONCURRENCY,
  worker: (c) => ({ lockDuration: c.WELCOME_LOCK_MS, stalledInterval: Math.max(250, Math.floor(c.WELCOME_LOCK_MS / 2)), maxStalledCount: 5 }),
  process: (d, ctx, job) => sendWelcome(ctx, d, { lastAttempt: job.attemptsMade + 1 >= (job.opts.attempts ?? 1) }),
});
