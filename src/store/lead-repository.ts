import type { Redis } from 'ioredis';
import { mutateLead, type FirstTouch, type LeadDoc } from './models/lead.js';
import { withLock } from '../redis/lock.js';

/**
 * Every change to a lead goes through here: one writer per lead at a time (a Redis lock), then a load-modify-save
 * with optimistic concurrency. The lock is what makes this correct on FerretDB 1.x, whose SQLite handler does not
 * apply a filtered update atomically (concurrent `updateOne({_id, __v: n})` can all match — measured: 3 of 40 —
 * so version checks alone lose writes there). On MongoDB the version check alone would suffice.
 */
export class LeadStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  /** Runs `fn` as the only writer of this lead (lead document, its enrollments and nurture deliveries). */
  withLock<T>(corpId: string, externalUserId: string, fn: () => Promise<T>): Promise<T> {
    return withLock(this.redis, `${this.prefix}:lock:lead:${corpId}:${externalUserId}`, fn);
  }

  /** Loads (creating with `firstTouch` if given and absent) the lead, applies `mutate` and saves it. */
  mutate(corpId: string, externalUserId: string, firstTouch: FirstTouch | null, mutate: (lead: LeadDoc) => void): Promise<LeadDoc | null> {
    return this.withLock(corpId, externalUserId, () => mutateLead(corpId, externalUserId, firstTouch, mutate));
  }
}
