import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { withTimeout } from '../with-timeout.js';
import { BullErrors } from './bullmq-errors.js';
import type { AnyJobKind, JobDataMap, JobName } from './define-job.js';

/** One job to add in bulk. */
export interface BulkJob<D> {
  data: D;
  opts?: JobsOptions;
  /** The job's name as BullMQ shows it (default: the kind's name). */
  name?: string;
}

/**
 * The producer side of every declared job kind: one BullMQ queue per kind, with the kind's default job options.
 * Adding a job is checked against the kind's data type (JobDataMap). `errors` hears the errors of every queue, and of
 * every worker the app starts, for their whole life.
 */
export class Queues {
  private readonly queues = new Map<string, Queue>();
  readonly errors: BullErrors;

  constructor(
    readonly connection: Redis,
    readonly prefix: string,
    kinds: readonly AnyJobKind[],
    config: Config,
    log: Logger,
  ) {
    this.errors = new BullErrors(log);
    for (const kind of kinds) {
      if (this.queues.has(kind.name)) throw new Error(`job kind "${kind.name}" is declared twice`);
      this.queues.set(kind.name, this.errors.watch(new Queue(kind.name, { connection, prefix, defaultJobOptions: kind.options(config) }), kind.name));
    }
  }

  /** The BullMQ queue of a kind (to read, remove or inspect its jobs). */
  get(name: JobName): Queue {
    const q = this.queues.get(name);
    if (!q) throw new Error(`no job kind "${name}" (declared: ${[...this.queues.keys()].join(', ')})`);
    return q;
  }

  /** Adds one job of kind `name`; a job id that exists already adds nothing. */
  async add<N extends JobName>(name: N, data: JobDataMap[N], opts: JobsOptions = {}, jobName: string = name): Promise<void> {
    await this.get(name).add(jobName, data, opts);
  }

  /** Adds many jobs of kind `name` in one round trip. */
  async addBulk<N extends JobName>(name: N, jobs: ReadonlyArray<BulkJob<JobDataMap[N]>>): Promise<void> {
    if (!jobs.length) return;
    await this.get(name).addBulk(jobs.map((j) => ({ name: j.name ?? name, data: j.data, opts: j.opts })));
  }

  /** Every queue, for closing and inspection. */
  all(): Queue[] {
    return [...this.queues.values()];
  }

  /**
   * Closes every queue. Each first finishes connecting (for at most 2 s), so that a start-up stopped at once (e.g. by a
   * port in use) does not cut the shared connection under its connection check. A check still waiting after that (Redis
   * slow or gone) fails once the connection is cut; `errors` still hears it and logs it.
   */
  async close(): Promise<void> {
    await withTimeout(Promise.all(this.all().map((q) => q.waitUntilReady())), 2_000, 'queues not ready').catch(() => undefined);
    await Promise.all(this.all().map((q) => q.close()));
  }
}
