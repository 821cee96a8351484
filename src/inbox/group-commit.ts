/**
 * Group commit: items added during one turn of the event loop are written together by `write` (up to `maxBatch`
 * at a time), and each caller's promise settles with its batch. An idle receiver adds no latency (the batch is
 * written on the next tick); a busy one makes one Redis round trip per batch instead of one per callback.
 */
export class GroupCommit<T> {
  private pending: Array<{ item: T; resolve: () => void; reject: (err: Error) => void }> = [];
  private scheduled = false;

  constructor(
    private readonly write: (items: T[]) => Promise<void>,
    private readonly maxBatch = 100,
  ) {}

  /** Resolves once `item` has been written (or rejects with its batch's error). */
  add(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.pending.length >= this.maxBatch) void this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.pending.splice(0, this.maxBatch);
    if (this.pending.length && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => void this.flush());
    }
    if (!batch.length) return;
    try {
      await this.write(batch.map((b) => b.item));
      for (const b of batch) b.resolve();
    } catch (err) {
      for (const b of batch) b.reject(err as Error);
    }
  }
}
