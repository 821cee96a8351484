import { z } from 'zod';
import { defineJob } from '../src/queues/define-job.js';
import { writeAudit, type AuditEntry } from '../src/domain/commands/run-command.js';

declare module '../src/queues/define-job.js' {
  interface JobDataMap {
    'command-audit': AuditEntry;
  }
}

/**
 * A chat command's audit entry whose write failed after the command ran (auditOrLater in
 * src/domain/commands/run-command.ts): the command answered, in the reply or through response_url, and its entry is
 * written here, retried with back-off until the database takes it.
 */
export const commandAuditJob = defineJob({
  name: 'command-audit',
  data: z.object({
    _id: z.string().min(1),
    userId: z.string(),
    chatId: z.string().nullable(),
    chatType: z.enum(['single', 'group']),
    text: z.string(),
    command: z.string().nullable(),
    lang: z.enum(['zh', 'en']),
    outcome: z.string().min(1),
    detail: z.string().nullable(),
    later: z.boolean(),
    at: z.coerce.date(),
    ms: z.number(),
  }) as unknown as z.ZodType<AuditEntry>,
  options: (c) => ({ removeOnComplete: { age: c.DEDUPE_TTL_SECONDS }, removeOnFail: { age: 7 * 86_400 }, attempts: 12, backoff: { type: 'exponential', delay: 2000 } }),
  concurrency: () => 2,
  process: async (d) => {
    await writeAudit({ ...d, at: new Date(d.at) });
    return 'written';
  },
});
