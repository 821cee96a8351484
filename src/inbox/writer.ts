import type { Redis } from 'ioredis';
import { withTimeout } from '../with-timeout.js';
import type { EventJobData } from './event-job.js';
import { GroupCommit, type BatchStats } from '../group-commit.js';

/**
 * The receiver's side of the inbox: a Redis stream that holds every accepted callback until a worker has turned it
 * into jobs. The callbacks of one group commit go in as one entry (a JSON array) with one XADD, so accepting a
 * callback costs a fraction of creating its BullMQ job (a Lua script per job), and the job creation moves to the
 * worker tier, which scales apart.
 */
export class InboxWriter {
  constructor(
    private readonly redis: Redis,
    private readonly key: string,
  ) {}

  /**
   * Resolves once `data` is stored in Redis. Fails after 2 s when Redis is unreachable (the connection would
   * otherwise queue the command until Redis is back), so the receiver answers 503 and WeCom retries.
   */
  async append(data: EventJobData): Promise<void> {
    await this.writes.add(data);
  }

  /** Observes each group commit (size, wait, XADD time), e.g. for a benchmark's diagnostics; writes are unchanged. */
  set onBatch(observer: ((stats: BatchStats) => void) | undefined) {
    this.writes.onBatch = observer;
  }

  // One timer per batch, not per callback.
  private readonly writes = new GroupCommit<EventJobData>(async (items) => {
    await withTimeout(this.redis.xadd(this.key, '*', 'b', JSON.stringify(items)), 2_000, 'Redis did not accept the event in time');
  }, 500);
}
