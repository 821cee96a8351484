import { AsyncResource } from 'node:async_hooks';

/**
 * The context shared writes run in: none of their callers' (async-context-bound state, e.g. a log's request id, would
 * otherwise follow whichever caller happened to start the batch). Made when this module loads, outside any caller.
 */
const SHARED = new AsyncResource('GroupCommit');

/**
 * Group commit: items added during one turn of the event loop are written together by `write` (up to `maxBatch`
 * at a time), and each caller's promise settles with its batch. An idle receiver adds no latency (the batch is
 * written on the next tick); a busy one makes one Redis round trip per batch instead of one per callback.
 * With `maxInFlight`, at most that many writes run at once and what arrives meanwhile waits for the next one (items
 * that trickle in one per tick, e.g. jobs, still share a write).
 */
export class GroupCommit<T> {
  private pending: Array<{ item: T; resolve: () => void; reject: (err: Error) => void; addedAt: number }> = [];
  private scheduled = false;
  private inFlight = 0;
  /** Observes every batch written (e.g. a benchmark's diagnostics); unset, nothing is measured. Changes no write. */
  onBatch?: (stats: BatchStats) => void;

  constructor(
    private readonly write: (items: T[]) => Promise<void>,
    private readonly maxBatch = 100,
    private readonly maxInFlight = Infinity,
  ) {}

  /** Resolves once `item` has been written (or rejects with its batch's error). */
  add(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ item, resolve, reject, addedAt: this.onBatch ? performance.now() : 0 });
      if (this.inFlight >= this.maxInFlight) return; // the write in flight flushes it when it ends
      if (this.pending.length >= this.maxBatch) SHARED.runInAsyncScope(() => void this.flush());
      else this.schedule();
    });
  }

  /** A flush on the next tick, unless one is scheduled already. */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => SHARED.runInAsyncScope(() => void this.flush()));
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    if (this.inFlight >= this.maxInFlight) return;
    const batch = this.pending.splice(0, this.maxBatch);
    if (this.pending.length) this.schedule();
    if (!batch.length) return;
    this.inFlight++;
    const flushAt = this.onBatch ? performance.now() : 0;
    let failed = false;
    try {
      await this.write(batch.map((b) => b.item));
      for (const b of batch) b.resolve();
    } catch (err) {
      failed = true;
      for (const b of batch) b.reject(err as Error);
    }
    this.inFlight--;
    if (this.pending.length) this.schedule();
    if (this.onBatch) {
      const end = performance.now();
      try {
        this.onBatch({ size: batch.length, waitMs: flushAt - batch[0]!.addedAt, writeMs: end - flushAt, endedAt: performance.timeOrigin + end, failed });
      } catch {
        // an observer's failure is its own
      }
    }
  }
}

/** One written batch: its size, how long its first item waited for the flush, how long the write took. */
export interface BatchStats {
  size: number;
  /** From the first item's add to the start of the write (ms). */
  waitMs: number;
  /** The write itself, e.g. one XADD round trip (ms). */
  writeMs: number;
  /** When the write ended (ms since the epoch, fractional). */
  endedAt: number;
  failed: boolean;
}
