import { z } from 'zod';
import { defineJob } from '../src/queues/define-job.js';
import { deliverAlert, sendDigest, type OpsAlert } from '../src/domain/alerts/ops-alerts.js';

declare module '../src/queues/define-job.js' {
  interface JobDataMap {
    'ops-alert': OpsAlert;
    'ops-alert-digest': Record<string, never>;
  }
}

const keep = (c: { DEDUPE_TTL_SECONDS: number }) => ({ removeOnComplete: { age: c.DEDUPE_TTL_SECONDS }, removeOnFail: { age: 7 * 86_400 }, attempts: 6, backoff: { type: 'exponential' as const, delay: 5000 } });

/** One alert to the ops group's webhook (src/domain/alerts/ops-alerts.ts): once, or in the next digest. */
export const opsAlertJob = defineJob({
  name: 'ops-alert',
  data: z.object({
    key: z.string().min(1),
    kind: z.string().min(1),
    title: z.string().min(1),
    text: z.string(),
    at: z.number(),
    check: z.object({ lead: z.string().min(1), gradeUpgrades: z.number().int().positive(), grade: z.string().optional(), score: z.number().optional(), why: z.string().optional() }).optional(),
  }),
  options: keep,
  concurrency: () => 2,
  process: (a, ctx) => deliverAlert(ctx, a),
});

/** The alerts that did not fit in the webhook's 20 a minute, posted together as one message. */
export const opsAlertDigestJob = defineJob({
  name: 'ops-alert-digest',
  data: z.object({}) as unknown as z.ZodType<Record<string, never>>,
  options: keep,
  concurrency: () => 1,
  process: (_d, ctx) => sendDigest(ctx),
});
