import type { BotContext } from '../../context.js';
import { jobIds } from '../../queues/job-ids.js';
import { markPending } from '../../store/kf-handled.js';
import type { KfSyncedMessage } from '../../wecom/types.js';
import { customerOf, handleInbound, type InboundBatch } from './inbound.js';

/** Pages fetched ahead of the last one whose handling is done: the memory a burst may take (a page ≤ 1,000 messages). */
const PAGES_AHEAD = 4;

/**
 * The handling of one sync's pages while it fetches the next ones (docs/architecture.md, "One 客服 message"): a page's
 * customers side by side (`concurrency` runs at a time across the pages), each customer's messages in order across
 * pages, and the account's cursor stored behind: a page's `next_cursor` only once it and every page before it are
 * handled. So a sync that dies re-fetches from the last handled page and handles nothing twice (each message is
 * handled once, by msgid), and a page's slowest customer no longer holds up the fetch of the next.
 *
 * Under load a customer's messages gather: while the customer's run of an earlier page waits to start (behind their
 * run before it, or for a slot), a later page's messages of theirs join it, so a chatty customer costs one run (one
 * lead read and write) per turn, not one per page. Pages still complete in order: a page is handled when the run
 * holding its messages is.
 *
 * A customer whose handling fails holds up neither the other customers nor the cursor: what is left of theirs goes to
 * a `kf-inbound` job of its own, retried with back-off. Only when that job cannot be added does the page fail: then no
 * later cursor is stored and drain() throws.
 */
export class PagePipeline {
  private readonly chains = new Map<string, Promise<void>>();
  /** Each customer's queued run that has not started yet (waiting for the one before, or for a slot). */
  private readonly notStarted = new Map<string, { batch: InboundBatch; fresh: Set<string>; run: Promise<void> }>();
  /** The store promises of the pages fetched most recently (at most PAGES_AHEAD waited for). */
  private readonly uncommitted: Array<Promise<void>> = [];
  private committed: Promise<void> = Promise.resolve();
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private failure: Error | null = null;

  /**
   * @param cursor where the next page starts: the account's stored cursor, then each fetched page's `next_cursor`
   *   (the sync moves it; the stored one stays behind until the pages before are handled)
   */
  constructor(
    private readonly ctx: BotContext,
    private readonly openKfid: string,
    public cursor: string | undefined,
    private readonly storeCursor: (cursor: string) => Promise<void>,
    private readonly concurrency: number,
    /** When the sync that owns it started (its `syncing` mark on the account's cursor document). */
    readonly startedAt: Date,
  ) {}

  /**
   * Queues the handling of a stored page whose `next_cursor` is `cursor` (null: no new cursor), once fewer than
   * PAGES_AHEAD pages are waiting for theirs. `fresh`: msgids the sync has just stored (unhandled without a read).
   */
  async add(msgs: readonly KfSyncedMessage[], fresh: ReadonlySet<string>, cursor: string | null): Promise<void> {
    while (this.uncommitted.length >= PAGES_AHEAD) await this.uncommitted.shift()!.catch(() => undefined);
    // A page failed: fetching on would only fetch again what the retry fetches (nothing is stored past the failure).
    if (this.failure) throw this.failure;
    const runs: Array<Promise<void>> = [];
    for (const [who, list] of groupByCustomer(msgs)) {
      const ownFresh = (l: KfSyncedMessage[]) => l.filter((m) => fresh.has(m.msgid)).map((m) => m.msgid);
      const waiting = this.notStarted.get(who);
      if (waiting) {
        // The customer's run of an earlier page has not started: this page's messages join it (one run, one lead write).
        waiting.batch.msgs.push(...list);
        for (const id of ownFresh(list)) waiting.fresh.add(id);
        runs.push(waiting.run);
        continue;
      }
      const batch: InboundBatch = { openKfid: this.openKfid, externalUserId: who || null, msgs: [...list] };
      const entry = { batch, fresh: new Set(ownFresh(list)), run: Promise.resolve() };
      const run = (this.chains.get(who) ?? Promise.resolve()).then(() =>
        this.inSlot(() => {
          // Started: later pages' messages of this customer make a run of their own.
          if (this.notStarted.get(who) === entry) this.notStarted.delete(who);
          return this.handle(batch, entry.fresh);
        }),
      );
      entry.run = run;
      this.notStarted.set(who, entry);
      // The customer's next run waits for this one, whatever its outcome (a failure is this page's to report); a
      // customer with nothing more queued is forgotten (a long sync meets many customers).
      const settled = run.catch(() => undefined);
      this.chains.set(who, settled);
      void settled.then(() => this.chains.get(who) === settled && this.chains.delete(who));
      runs.push(run);
    }
    const page = Promise.all(runs);
    page.catch(() => undefined); // reported through the store chain below, which may reach it later
    // Stored in page order; a page that failed stops every later store (the chain stays rejected).
    this.committed = this.committed.then(() => page).then(() => (cursor ? this.storeCursor(cursor) : undefined));
    // A failure is reported by drain() (and waited past by add()), never as an unhandled rejection meanwhile.
    this.committed.catch((err: Error) => void (this.failure ??= err));
    this.uncommitted.push(this.committed);
  }

  /** Whether fewer runs are in flight than may run at once: a page fetched now would start at once. */
  get hasRoom(): boolean {
    return this.running < this.concurrency && !this.waiting.length;
  }

  /** Resolves once every queued page is handled and its cursor stored; rejects with the first page's failure. */
  async drain(): Promise<void> {
    await this.committed;
  }

  /** Resolves once nothing queued is still running, whatever its outcome (after a failure, before the lock is freed). */
  async settle(): Promise<void> {
    await Promise.all(this.chains.values());
  }

  private async handle(batch: InboundBatch, fresh: ReadonlySet<string>): Promise<void> {
    try {
      await handleInbound(this.ctx, batch, false, fresh);
    } catch (err) {
      this.ctx.log.warn({ openKfid: batch.openKfid, externalUserId: batch.externalUserId, err: (err as Error).message }, 'kf messages failed; retrying them in a job of their own');
      // Pending first: if Redis loses the job, the reconciler finds them (the page's cursor is stored once it is added).
      await markPending(batch.openKfid, batch.msgs.map((m) => m.msgid));
      await this.ctx.queues.add('kf-inbound', batch, { jobId: jobIds.kfInbound(batch.openKfid, batch.msgs[0]!.msgid) });
    }
  }

  private async inSlot<T>(fn: () => Promise<T>): Promise<T> {
    while (this.running >= this.concurrency) await new Promise<void>((r) => this.waiting.push(r));
    this.running++;
    try {
      return await fn();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}

/** A page's messages by customer ('' for those about no customer), each list in page order. */
function groupByCustomer(msgs: readonly KfSyncedMessage[]): Map<string, KfSyncedMessage[]> {
  const groups = new Map<string, KfSyncedMessage[]>();
  for (const m of msgs) {
    const who = customerOf(m) ?? '';
    const list = groups.get(who) ?? [];
    list.push(m);
    groups.set(who, list);
  }
  return groups;
}
