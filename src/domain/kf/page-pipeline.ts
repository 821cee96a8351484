import type { BotContext } from '../../context.js';
import type { KfSyncedMessage } from '../../wecom/types.js';
import { customerOf, handleInbound, type InboundBatch } from './inbound.js';
import { queueBehind, setAside, setAsideAmong } from './set-aside.js';

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
 * A customer whose handling fails holds up neither the other customers nor the cursor: their batch is set aside, for a
 * `kf-inbound` job of their own, retried with back-off (set-aside.ts). Until that job has handled it, the customer's
 * later messages, of this sync or a later one, queue behind it instead of being handled here, so the customer's
 * messages are still handled in order. Each page asks Redis once which of its customers are set aside; a customer set
 * aside by this sync is known without asking. Only when a batch cannot be set aside does the page fail: then no later
 * cursor is stored and drain() throws.
 */
export class PagePipeline {
  private readonly chains = new Map<string, Promise<void>>();
  /**
   * Each customer's queued run that has not started yet (waiting for the one before, or for a slot); `behind`: the
   * customer had set-aside work when a page of the run was fetched.
   */
  private readonly notStarted = new Map<string, { batch: InboundBatch; fresh: Set<string>; behind: boolean; run: Promise<void> }>();
  /** Customers this sync has set aside: their later runs queue behind (unless their job is done by then). */
  private readonly setAsideHere = new Set<string>();
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
    const groups = groupByCustomer(msgs);
    const behind = groups.size ? await setAsideAmong(this.ctx, this.openKfid, [...groups.keys()]) : new Set<string>();
    for (const [who, list] of groups) {
      const ownFresh = (l: KfSyncedMessage[]) => l.filter((m) => fresh.has(m.msgid)).map((m) => m.msgid);
      const waiting = this.notStarted.get(who);
      if (waiting) {
        // The customer's run of an earlier page has not started: this page's messages join it (one run, one lead write).
        waiting.batch.msgs.push(...list);
        for (const id of ownFresh(list)) waiting.fresh.add(id);
        if (behind.has(who)) waiting.behind = true;
        runs.push(waiting.run);
        continue;
      }
      const batch: InboundBatch = { openKfid: this.openKfid, externalUserId: who || null, msgs: [...list] };
      const entry = { batch, fresh: new Set(ownFresh(list)), behind: behind.has(who), run: Promise.resolve() };
      const run = (this.chains.get(who) ?? Promise.resolve()).then(() =>
        this.inSlot(() => {
          // Started: later pages' messages of this customer make a run of their own.
          if (this.notStarted.get(who) === entry) this.notStarted.delete(who);
          return this.handle(who, batch, entry.fresh, entry.behind || this.setAsideHere.has(who));
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

  /** One customer's run: behind their set-aside work when they may have some, else handled here, set aside if it fails. */
  private async handle(who: string, batch: InboundBatch, fresh: ReadonlySet<string>, behind: boolean): Promise<void> {
    if (behind && (await queueBehind(this.ctx, batch))) return;
    try {
      await handleInbound(this.ctx, batch, false, fresh);
    } catch (err) {
      this.ctx.log.warn({ openKfid: batch.openKfid, externalUserId: batch.externalUserId, err: (err as Error).message }, 'kf messages failed; retrying them in a job of their own');
      this.setAsideHere.add(who);
      // The page's cursor is stored once the batch is set aside (its messages marked pending, its job added).
      await setAside(this.ctx, batch);
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
