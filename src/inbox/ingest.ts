import os from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import type { JobDataMap } from '../queues/define-job.js';
import type { Queues } from '../queues/queues.js';
import { isInlineKey } from '../wecom/events/index.js';
import { isEventJobData, type EventJobData } from './event-job.js';

/** The consumer group of the inbox stream: every worker process reads as one consumer of it. */
const GROUP = 'ingest';
/** Entries (each a group commit of up to 500 callbacks) taken per read. */
const BATCH = 20;
/**
 * An entry read by a consumer that has not acknowledged it after this long is taken over (its process died). Short,
 * because welcomes wait in these entries; taking over an entry that was only slow is harmless (job ids dedupe).
 */
export const INBOX_CLAIM_IDLE_MS = 5_000;
/**
 * Passes an entry fails because its welcome could not be planned (e.g. the database did not answer a channel lookup)
 * before its callbacks go on without that welcome: the event is never dropped for it, and a welcome that cannot be
 * planned does not hold the inbox up.
 */
const WELCOME_PLAN_TRIES = 3;

/** What the ingest does with each callback: the jobs it becomes. */
export type WelcomeFor = (data: EventJobData) => WelcomePlan | Promise<WelcomePlan>;
/** Runs a callback whose key its family handles inline (EventFamily.inline) in place of an `events` job. */
export type RunInline = (data: EventJobData) => Promise<void>;
type WelcomePlan = { data: JobDataMap['welcome']; jobId: string } | null;

/**
 * The worker's side: reads the inbox as one consumer of a group, creates the `events` job of each callback (its
 * dedupe key is the job id, so a retried callback or a re-read entry is refused by BullMQ) and, for a new contact
 * with a WelcomeCode, the `welcome` job at once, so the 20 s window never waits behind other events. A callback
 * whose family handles its key inline (a cheap request that may run twice, e.g. a 客服 sync request) is run here
 * instead, with no job; a failure fails the pass, so its entry is read again. Entries are
 * acknowledged and deleted only after their jobs exist; entries left unacknowledged by a consumer that died are
 * claimed after INBOX_CLAIM_IDLE_MS by a live one.
 */
export class InboxIngest {
  private running = false;
  private loop?: Promise<void>;
  private lastClaim = 0;
  private readonly consumer = `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  /** Entries whose welcome planning failed, and how often. */
  private readonly planFailures = new Map<string, number>();
  private readonly reader: Redis;

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly queues: Pick<Queues, 'addBulk'>,
    private readonly welcomeFor: WelcomeFor,
    private readonly log: Logger,
    private readonly claimIdleMs = INBOX_CLAIM_IDLE_MS,
    private readonly runInline: RunInline | null = null,
  ) {
    // XREADGROUP BLOCK holds its connection; the shared one must stay free for everything else.
    this.reader = redis.duplicate();
    this.reader.on('error', (err: Error) => this.log.warn({ err: err.message }, 'inbox reader connection error'));
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.reader.disconnect();
    await this.loop;
  }

  private async run(): Promise<void> {
    // After a failed pass, this consumer's own unacknowledged entries are read again first ('0'), so a transient
    // error delays them by the retry pause, not by the take-over time.
    let ownPending = true;
    while (this.running) {
      try {
        await this.ensureGroup();
        if (Date.now() - this.lastClaim >= this.claimIdleMs) await this.claimAbandoned();
        const from = ownPending ? '0' : '>';
        const res = (await (ownPending
          ? this.reader.xreadgroup('GROUP', GROUP, this.consumer, 'COUNT', BATCH, 'STREAMS', this.key, from)
          : this.reader.xreadgroup('GROUP', GROUP, this.consumer, 'COUNT', BATCH, 'BLOCK', 1_000, 'STREAMS', this.key, from))) as
          | Array<[string, Array<[string, string[] | null]>]>
          | null;
        const entries = res?.[0]?.[1] ?? [];
        if (entries.length) await this.ingest(entries);
        // Own pending entries are drained once a read of them comes back empty.
        if (ownPending && !entries.length) ownPending = false;
      } catch (err) {
        if (!this.running) break;
        this.groupReady = false;
        ownPending = true;
        this.log.error({ err: (err as Error).message }, 'inbox ingest failed; retrying in 200 ms');
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  private groupReady = false;
  private async ensureGroup(): Promise<void> {
    if (this.groupReady) return;
    try {
      // From the start of the stream: callbacks appended before any worker ran are ingested too.
      await this.redis.xgroup('CREATE', this.key, GROUP, '0', 'MKSTREAM');
    } catch (err) {
      if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
    }
    this.groupReady = true;
  }

  /** Takes over entries another consumer read but never acknowledged (it died between read and acknowledge). */
  private async claimAbandoned(): Promise<void> {
    this.lastClaim = Date.now();
    let cursor = '0-0';
    do {
      const [next, entries] = (await this.redis.xautoclaim(this.key, GROUP, this.consumer, this.claimIdleMs, cursor, 'COUNT', BATCH)) as [
        string,
        Array<[string, string[]] | null>,
      ];
      const live = entries.filter((e): e is [string, string[]] => e !== null);
      if (live.length) {
        this.log.warn({ entries: live.length }, 'inbox: took over callbacks a stopped worker had not finished');
        await this.ingest(live);
      }
      cursor = next;
    } while (cursor !== '0-0' && this.running);
  }

  private async ingest(entries: Array<[string, string[] | null]>): Promise<void> {
    const done: string[] = [];
    const keep: string[] = [];
    const events: Array<{ name: string; data: EventJobData; opts: { jobId: string } }> = [];
    const welcomes: Array<{ data: JobDataMap['welcome']; opts: { jobId: string } }> = [];
    const inline: Array<Promise<void>> = [];
    for (const [id, fields] of entries) {
      // A pending entry whose data was deleted from the stream comes back without fields.
      const items = fields ? parseBatch(fields[fields.indexOf('b') + 1]) : null;
      let bad = items === null ? 1 : 0;
      for (const data of items ?? []) {
        if (!isEventJobData(data)) {
          bad++;
          continue;
        }
        if (this.runInline && isInlineKey(data.key)) {
          inline.push(this.runInline(data));
          continue;
        }
        let welcome: WelcomePlan = null;
        try {
          welcome = await this.welcomeFor(data);
        } catch (err) {
          const tries = (this.planFailures.get(id) ?? 0) + 1;
          this.planFailures.set(id, tries);
          // Most likely passing (the database, Redis): the pass fails and the entry is read again at once (after the
          // inline requests already started have settled: they are harmless twice).
          if (tries < WELCOME_PLAN_TRIES) {
            await Promise.allSettled(inline);
            throw err;
          }
          this.log.error({ entry: id, dedupeKey: data.dedupeKey, err: (err as Error).message }, 'inbox: the welcome of a callback could not be planned; its event goes on without it');
        }
        if (welcome) welcomes.push({ data: welcome.data, opts: { jobId: welcome.jobId } });
        events.push({ name: data.key, data, opts: { jobId: data.dedupeKey } });
      }
      // Only this process writes the inbox, so a bad item is corruption (or a version mismatch): the rest of the
      // entry goes on, and the entry is acknowledged but left in the stream for an operator to look at.
      if (bad) {
        this.log.error({ entry: id, bad }, 'inbox entry holds items that are not callbacks; acknowledged but left in the stream');
        keep.push(id);
      } else done.push(id);
    }
    // Settled before anything is acknowledged: one that failed fails the pass (its entry is read again).
    const ran = await Promise.allSettled(inline);
    const failed = ran.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    // The welcome first: its clock is running. Both are idempotent by job id, so a re-read entry adds nothing.
    await this.queues.addBulk('welcome', welcomes);
    await this.queues.addBulk('events', events);
    const tx = this.redis.multi().xack(this.key, GROUP, ...done, ...keep);
    if (done.length) tx.xdel(this.key, ...done);
    await tx.exec();
    for (const id of [...done, ...keep]) this.planFailures.delete(id);
  }
}

function parseBatch(raw: string | undefined): unknown[] | null {
  try {
    const batch: unknown = JSON.parse(raw ?? '');
    return Array.isArray(batch) ? batch : null;
  } catch {
    return null;
  }
}
