import type { BotContext } from '../../context.js';
import { GroupCommit } from '../../group-commit.js';
import { jobIds } from '../../queues/job-ids.js';
import { recordOutcomes, type Outcome } from '../../store/delivery-ledger.js';

type Ctx = Pick<BotContext, 'queues' | 'log'>;

/** Outcomes one shared write takes at most. */
const BATCH = 200;

/**
 * The outcomes of the runs of the moment, written together (src/group-commit.ts): one insert of delivery records and
 * one of timeline steps for many replies. Separate from the records queue's writer, whose writes may wait on a lead's
 * lock: a run holds its lead's lock while it waits on this one, which never takes a lock (its outcomes are counted).
 */
const writer = new GroupCommit<Outcome>(async (items) => void (await recordOutcomes(items)), BATCH, 1);

/**
 * The outcomes of one customer's run of replies (docs/architecture.md, "One 客服 message"). The run holds the lead's
 * lock, so it writes them itself instead of through a `records` job each: each outcome is written as soon as it is
 * known, with those of the other runs of the moment, and the run waits for them before it ends. The replies it sent
 * are counted on the lead's 客服 window by the run (with its lead write), not by an update per outcome; so every
 * outcome is marked `counted`. An outcome the database refuses goes to the `records` queue, which retries it for an
 * hour and more: nothing is lost while Redis stands.
 */
export class RunOutcomes {
  private readonly writes: Array<Promise<void>> = [];
  /** The 客服 messages the run sent (for the lead's window). */
  sent = 0;

  constructor(private readonly ctx: Ctx) {}

  /** Records `o` (not awaited here: `settle` waits for every one). */
  add(o: Outcome): void {
    const outcome: Outcome = { ...o, counted: true };
    if (o.delivery?.status === 'sent' && o.delivery.via === 'kf') this.sent++;
    this.writes.push(
      writer.add(outcome).catch(async (err: Error) => {
        this.ctx.log.warn({ key: o.delivery?.key, err: err.message }, 'kf reply outcome not written; queued on records');
        await this.ctx.queues.add('records', outcome, { jobId: jobIds.record(o.delivery?.key ?? o.step!.sourceKey!) });
      }),
    );
  }

  /** Waits for every outcome to be written or queued; rejects with the first error once all have settled. */
  async settle(): Promise<void> {
    const settled = await Promise.allSettled(this.writes);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
  }
}
