import { z } from 'zod';
import { runLater, type LaterCommand } from '../src/domain/commands/answer-later.js';
import { defineJob } from '../src/queues/define-job.js';

declare module '../src/queues/define-job.js' {
  interface JobDataMap {
    'ops-command': LaterCommand;
  }
}

/**
 * A slow chat command (a report, a new channel, a long period): run in a worker, its answer sent once through the
 * robot message's response_url (src/domain/commands/answer-later.ts).
 */
export const opsCommandJob = defineJob({
  name: 'ops-command',
  data: z.object({
    msgid: z.string().min(1),
    userId: z.string().min(1),
    chatId: z.string().nullable(),
    chatType: z.enum(['single', 'group']),
    text: z.string(),
    responseUrl: z.string().url(),
    receivedAt: z.number(),
  }),
  // A failure is an answer that says so: nothing to retry, and a command is never run twice.
  options: (c) => ({ attempts: 1, removeOnComplete: { age: c.DEDUPE_TTL_SECONDS }, removeOnFail: { age: 7 * 86_400 } }),
  concurrency: () => 4,
  process: (d, ctx) => runLater(ctx, d),
});
