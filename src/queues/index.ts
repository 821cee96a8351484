import { Queue, type JobsOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { InboxWriter, inboxKey } from '../inbox/inbox.js';
import type { AnyContactEvent, EventKey } from '../wecom/events/contact.js';

/** Queue names: callbacks, the welcome fast lane, and contact sync (tags + profile). */
export const QUEUE = { events: 'events', welcome: 'welcome', contactSync: 'contact-sync', nurture: 'nurture', massResult: 'mass-result', records: 'records' } as const;
export type QueueName = (typeof QUEUE)[keyof typeof QUEUE];

/** Data of an `events` job: one verified, decrypted, validated callback. */
export interface EventJobData {
  key: EventKey;
  event: AnyContactEvent;
  dedupeKey: string;
  /** When our receiver accepted it (ms): the clock for the 20 s welcome window. */
  receivedAt: number;
}

/** Data of a `welcome` job. */
export interface WelcomeJobData {
  corpId: string;
  externalUserId: string;
  userId: string;
  channelKey: string;
  welcomeCode: string;
  eventKey: string;
  /** When the callback was accepted (ms epoch). */
  receivedAt: number;
  /** ms epoch after which the WelcomeCode is dead and nothing may be sent. */
  deadline: number;
}

/** Data of a `records` job: a welcome's outcome, written to MongoDB off the welcome lane. */
export interface WelcomeRecordJobData {
  lead: { corpId: string; externalUserId: string };
  userId: string;
  key: string;
  status: 'sent' | 'failed' | 'expired' | 'skipped' | 'unknown';
  step: string;
  detail: Record<string, unknown>;
  content: { content: string } | null;
  /** ms epoch of the outcome. */
  at: number;
}

/** Data of a `contact-sync` job: mark the channel's tags and refresh the profile. */
export interface ContactSyncJobData {
  corpId: string;
  externalUserId: string;
  userId: string;
  channelKey: string | null;
  eventKey: string;
}

/** Data of a `nurture` job: run step `step` of an enrollment. Kept tiny: one delayed job per enrolled lead. */
export interface NurtureJobData {
  e: string;
  s: number;
  /** The lead (`leadId`), whose lock the step takes without reading the enrollment first. */
  l?: string;
}

/** The job of an enrollment's current step, due at `dueAt` (now when null). */
export function stepJob(e: { id?: string; step: number; dueAt?: Date | null; corpId: string; externalUserId: string }, now = Date.now()) {
  if (!e.id) throw new Error('stepJob: the enrollment has no id');
  const id = e.id;
  return {
    name: 'step',
    data: { e: id, s: e.step, l: `${e.corpId}:${e.externalUserId}` } satisfies NurtureJobData,
    opts: { jobId: stepJobId(id, e.step), delay: Math.max(0, (e.dueAt?.getTime() ?? now) - now) },
  };
}

/** Data of a `mass-result` job: ask WeCom whether the owner sent a mass message. */
export interface MassResultJobData {
  deliveryKey: string;
  attempt: number;
}

/** Deterministic id of an enrollment step's job, so a step is scheduled once. */
export const stepJobId = (enrollmentId: string, step: number) => `step|${enrollmentId}|${step}`;
/** Deterministic id of a mass-result poll. */
export const pollJobId = (deliveryKey: string, attempt: number) => `poll|${deliveryKey}|${attempt}`;

/** Creates the Redis connection BullMQ needs (blocking commands must never time out). */
export function createRedis(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: false });
}

/** The producer side of every queue the bot uses. */
export class Queues {
  readonly events: Queue<EventJobData>;
  readonly welcome: Queue<WelcomeJobData>;
  readonly contactSync: Queue<ContactSyncJobData>;
  readonly nurture: Queue<NurtureJobData>;
  readonly massResult: Queue<MassResultJobData>;
  readonly records: Queue<WelcomeRecordJobData>;

  /** Where the receiver puts accepted callbacks; workers turn them into jobs (see inbox.ts). */
  readonly inbox: InboxWriter;

  constructor(
    readonly connection: Redis,
    readonly prefix: string,
    dedupeTtlSeconds: number,
  ) {
    this.inbox = new InboxWriter(connection, inboxKey(prefix));
    const keep: JobsOptions = {
      // Completed jobs are kept so the same jobId (dedupe key) is refused while WeCom may still retry.
      removeOnComplete: { age: dedupeTtlSeconds },
      removeOnFail: { age: 7 * 86_400 },
    };
    this.events = new Queue(QUEUE.events, {
      connection,
      prefix,
      // ~12 attempts at 1 s, 2 s, 4 s, ...: a callback survives a store outage of about an hour.
      defaultJobOptions: { ...keep, attempts: 12, backoff: { type: 'exponential', delay: 1000 } },
    });
    this.welcome = new Queue(QUEUE.welcome, {
      connection,
      prefix,
      // Short, dense retries: the WelcomeCode dies 20 s after the event, the job itself enforces the deadline.
      defaultJobOptions: { ...keep, attempts: 10, backoff: { type: 'exponential', delay: 200 } },
    });
    this.contactSync = new Queue(QUEUE.contactSync, {
      connection,
      prefix,
      defaultJobOptions: { ...keep, attempts: 10, backoff: { type: 'exponential', delay: 1000 } },
    });
    // Finished steps are dropped at once: the enrollment in MongoDB is the record, and Redis holds only what is due.
    // A step that fails for good is dropped too, so the reconciler (which sees the enrollment still on that step)
    // schedules it again rather than finding a dead job holding its id.
    const lean: JobsOptions = { removeOnComplete: true, removeOnFail: true, attempts: 8, backoff: { type: 'exponential', delay: 2000 } };
    this.nurture = new Queue(QUEUE.nurture, { connection, prefix, defaultJobOptions: lean });
    this.massResult = new Queue(QUEUE.massResult, { connection, prefix, defaultJobOptions: lean });
    // Outcomes wait here while the database is busy: ~20 attempts over an hour and more.
    this.records = new Queue(QUEUE.records, {
      connection,
      prefix,
      defaultJobOptions: { removeOnComplete: true, removeOnFail: { age: 7 * 86_400 }, attempts: 20, backoff: { type: 'exponential', delay: 1000 } },
    });
  }

  /** Every queue, for closing and inspection. */
  all(): Queue[] {
    return [this.events, this.welcome, this.contactSync, this.nurture, this.massResult, this.records];
  }

  /**
   * Accepts a verified callback: stored in the inbox stream, from which workers create its `events` job (a second
   * callback with the same dedupe key is refused there, by job id). Rejects after 2 s when Redis is unreachable.
   */
  async enqueueEvent(data: EventJobData): Promise<void> {
    await this.inbox.append(data);
  }

  /** Closes every queue connection. */
  async close(): Promise<void> {
    await Promise.all(this.all().map((q) => q.close()));
  }
}
