import type { EventEmitter } from 'node:events';
import { RedisConnection } from 'bullmq';
import type { Logger } from '../logger.js';

/** After the first error of a kind, its repeats are logged at most this often, with how many there were. */
const REPEATS_EVERY_MS = 10 * 60_000;
/** Kinds remembered at most (the oldest forgotten first): a long uptime's odd errors do not pile up. */
const MAX_KINDS = 200;

/**
 * Hears the 'error' events of the BullMQ objects the bot creates (queues, workers) and of the Redis connections inside
 * them, for their whole life, and logs them at warn: the first of each kind at once, its repeats at most every
 * 10 minutes with their count (a Redis outage reaches every queue and worker at each reconnection attempt).
 *
 * An 'error' that no listener hears throws. BullMQ's connection objects drop all their listeners when closed, yet the
 * connection check each starts when created reports its failure on that same object: a check still waiting when its
 * queue was closed (Redis slow or gone at shutdown) failed once the shared connection was cut, and ended the process.
 * So a connection keeps one listener past its close. Only an error's message and code are logged, with any
 * credentials in a URL removed: never the error object, whose command arguments may hold job data.
 */
export class BullErrors {
  private readonly kinds = new Map<string, { loggedAt: number; repeats: number }>();

  constructor(
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Listens, for good, to the errors of `target` (a Queue, Worker or QueueEvents of `queue`) and of its connections. */
  watch<T extends EventEmitter>(target: T, queue: string): T {
    target.on('error', (err: Error) => this.report(err, queue));
    for (const value of Object.values(target)) {
      if (!(value instanceof RedisConnection)) continue;
      const connection: RedisConnection = value;
      // While BullMQ forwards the connection's errors to `target`, they are reported there; after its close, here.
      keepListening(connection, (err) => {
        if (connection.listenerCount('error') === 1) this.report(err, queue);
      });
    }
    return target;
  }

  private report(err: unknown, queue: string): void {
    const e = err instanceof Error ? err : new Error(String(err));
    const code = (e as { code?: unknown }).code;
    const message = e.message.replace(/\/\/[^\s/@]*@/g, '//');
    // Numbers (job ids, ports, counts) do not make a new kind.
    const kind = `${e.name}|${typeof code === 'string' ? code : message.replace(/\d+/g, 'N')}`;
    const seen = this.kinds.get(kind);
    const now = this.now();
    if (seen && now - seen.loggedAt < REPEATS_EVERY_MS) {
      seen.repeats++;
      return;
    }
    this.kinds.delete(kind);
    this.kinds.set(kind, { loggedAt: now, repeats: 0 });
    if (this.kinds.size > MAX_KINDS) this.kinds.delete(this.kinds.keys().next().value!);
    const fields = { queue, err: message, ...(typeof code === 'string' ? { code } : {}), ...(seen ? { repeats: seen.repeats } : {}) };
    // A lock a worker could not renew or release may mean its job runs again elsewhere: an error, not a warning.
    const level = /\block\b/i.test(message) ? 'error' : 'warn';
    this.log[level](fields, seen ? 'queue error (again; repeats since the last one counted)' : 'queue error (its repeats are logged every 10 minutes)');
  }
}

/**
 * Adds `listener` for 'error' to `emitter` and adds it again whenever all of the emitter's listeners (or all of its
 * 'error' listeners) are removed, as RedisConnection.close does.
 */
function keepListening(emitter: EventEmitter, listener: (err: Error) => void): void {
  emitter.on('error', listener);
  const removeAll = emitter.removeAllListeners;
  emitter.removeAllListeners = function (this: EventEmitter, ...args: [eventName?: string | symbol]) {
    // Called with no argument, it removes every listener: the argument's absence matters, not its value.
    removeAll.apply(this, args);
    if (args.length === 0 || args[0] === 'error') this.on('error', listener);
    return this;
  };
}
