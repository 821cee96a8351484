import { z } from 'zod';
import { defineJob } from '../src/queues/define-job.js';
import { syncContact } from '../src/domain/leads/sync-profile.js';

/** A contact to sync: mark the channel's tags and refresh the profile. */
export interface ContactSyncJob {
  corpId: string;
  externalUserId: string;
  userId: string;
  channelKey: string | null;
  dedupeKey: string;
}

declare module '../src/queues/define-job.js' {
  interface JobDataMap {
    'contact-sync': ContactSyncJob;
  }
}

const data = z.object({
  corpId: z.string().min(1),
  externalUserId: z.string().min(1),
  userId: z.string().min(1),
  channelKey: z.string().nullable(),
  dedupeKey: z.string().min(1),
});

/** Tags and profile after an add or an edit [D:92117, D:92114]: retried with backoff, never on the welcome's path. */
export const syncContactJob = defineJob({
  name: 'contact-sync',
  data,
  options: (c) => ({ removeOnComplete: { age: c.DEDUPE_TTL_SECONDS }, removeOnFail: { age: 7 * 86_400 }, attempts: 10, backoff: { type: 'exponential', delay: 1000 } }),
  concurrency: (c) => c.EVENT_CONCURRENCY,
  process: (d, ctx) => syncContact(ctx, { lead: { corpId: d.corpId, externalUserId: d.externalUserId }, userId: d.userId, channelKey: d.channelKey, dedupeKey: d.dedupeKey }),
});
