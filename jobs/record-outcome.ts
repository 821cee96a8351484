import { defineJob } from '../src/queues/define-job.js';
import { outcomeRecorder } from '../src/domain/delivery/record-delivery.js';
import { outcomeSchema, type Outcome } from '../src/store/delivery-ledger.js';

declare module '../src/queues/define-job.js' {
  interface JobDataMap {
    records: Outcome;
  }
}

/**
 * Writes outcomes to MongoDB off the senders' paths (a welcome must not wait on a busy database; a nurture step writes
 * four times, not six): the delivery record and its timeline entry, each once, the outcomes of the jobs running at
 * once in one write (outcomeRecorder). Outcomes wait here while the database is busy: ~20 attempts over an hour and
 * more.
 */
export const recordOutcomeJob = defineJob({
  name: 'records',
  data: outcomeSchema,
  options: () => ({ removeOnComplete: true, removeOnFail: { age: 7 * 86_400 }, attempts: 20, backoff: { type: 'exponential', delay: 1000 } }),
  // Jobs running at once share a write: enough of them that a busy lane writes in batches.
  concurrency: () => 64,
  process: (outcome, ctx) => outcomeRecorder(ctx).add(outcome),
});
