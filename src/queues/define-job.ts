import type { Job, JobsOptions, WorkerOptions } from 'bullmq';
import type { z } from 'zod';
import type { Config } from '../config.js';
import type { BotContext } from '../context.js';

/**
 * The data of every declared job kind, by kind name. Each `jobs/<kind>.ts` adds its entry by declaration merging
 * (`declare module '../src/queues/define-job.js' { interface JobDataMap { nurture: NurtureStepData } }`), so code that
 * schedules a job is checked against the kind's schema without importing the job (src/ never imports jobs/).
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface JobDataMap {}

/** The name of a declared job kind (also its queue's name). */
export type JobName = keyof JobDataMap & string;

/** Worker settings a job kind may change (e.g. a short lock where a deadline is near). */
export type WorkerSettings = Partial<Pick<WorkerOptions, 'lockDuration' | 'stalledInterval' | 'maxStalledCount'>>;

/** One kind of job: everything about it in one declaration, in one file under jobs/. */
export interface JobKind<N extends string, D> {
  /** The kind's name, which is also its queue's name. */
  name: N;
  /** The zod schema of its data, checked when a job runs: data that does not fit fails the job at once. */
  data: z.ZodType<D, z.ZodTypeDef, unknown>;
  /** Default options of its jobs: attempts, backoff, how long finished jobs are kept. */
  options: (config: Config) => JobsOptions;
  /** How many of its jobs one worker process runs at a time. */
  concurrency: (config: Config) => number;
  /** Worker settings that differ from the shared ones. */
  worker?: (config: Config) => WorkerSettings;
  /**
   * Runs on a clock: a cron pattern in a time zone, and the data of each run. BullMQ keeps one schedule per kind in
   * Redis, so however many workers run, each slot runs once.
   */
  schedule?: (config: Config) => { pattern: string; tz: string; data: D } | null;
  /** Does the work. Throwing retries with backoff; BullMQ's UnrecoverableError fails the job at once. */
  process: (data: D, ctx: BotContext, job: Job<D>, token: string | undefined) => Promise<unknown>;
}

/** Any job kind, whatever its data (for lists of kinds). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyJobKind = JobKind<string, any>;

/** Declares a job kind (an identity function that gives the declaration its types). */
export function defineJob<N extends string, D>(kind: JobKind<N, D>): JobKind<N, D> {
  return kind;
}
