import type { Redis } from 'ioredis';
import mongoose from 'mongoose';
import { withLock } from '../redis/lock.js';
import type { RedisKeys } from '../redis/keys.js';
import { isDuplicateKey } from './create-once.js';
import { Lead, leadId, type LeadDoc, type LeadFields, type LeadRef } from './models/lead.js';

/** The first touch a lead is created with when it does not exist yet. */
export interface FirstTouch {
  channelKey: string;
  userId: string;
  at: Date;
}

/** A lead as it was before a change (a plain copy). */
export type LeadSnapshot = LeadFields & { _id: string };

/** What the domain does around every change of a lead (wired by the app: scoring, grades, the funnel). */
export interface LeadHooks {
  /** After the change is applied, before it is saved: derived fields (score, grade, role, last touch). */
  beforeSave?(doc: LeadDoc, before: LeadSnapshot | null): Promise<void> | void;
  /** After the save, with what the lead was (null when new): what follows from the change (funnel counters). */
  afterSave?(before: LeadSnapshot | null, after: LeadDoc): Promise<void>;
  /** After an update that bypassed load-modify-save (update, setLocked), with the fields it set. */
  afterUpdate?(lead: LeadRef, fields: string[]): Promise<void>;
}

/**
 * Every change to a lead goes through here: one writer per lead at a time (a Redis lock), then a load-modify-save
 * with optimistic concurrency. The lock is what makes this correct on FerretDB 1.x, whose SQLite handler does not
 * apply a filtered update atomically (concurrent `updateOne({_id, __v: n})` can all match — measured: 3 of 40 —
 * so version checks alone lose writes there). On MongoDB the version check alone would suffice.
 */
export class LeadRepository {
  private hooks: LeadHooks = {};

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  /** Sets what runs around every change (see LeadHooks). */
  useHooks(hooks: LeadHooks): void {
    this.hooks = hooks;
  }

  /** Runs `fn` as the only writer of this lead (its document, its enrollments and its nurture deliveries). */
  withLock<T>(lead: LeadRef, fn: () => Promise<T>): Promise<T> {
    return withLock(this.redis, this.keys.leadLock(lead.corpId, lead.externalUserId), fn);
  }

  /** Loads (creating with `firstTouch` if given and absent) the lead, applies `mutate` and saves it, under the lock. */
  mutate(lead: LeadRef, firstTouch: FirstTouch | null, mutate: (doc: LeadDoc) => void): Promise<LeadDoc | null> {
    return this.withLock(lead, () => mutateUnlocked(lead, firstTouch, mutate, this.hooks));
  }

  /** `mutate` for a caller that already holds the lead's lock. */
  mutateLocked(lead: LeadRef, firstTouch: FirstTouch | null, mutate: (doc: LeadDoc) => void): Promise<LeadDoc | null> {
    return mutateUnlocked(lead, firstTouch, mutate, this.hooks);
  }

  /**
   * For a caller that holds the lead's lock: loads the lead and applies `mutate` now, and writes it when the caller
   * calls `save`, so what it learns meanwhile goes in the same write (a 客服 run's sent replies: docs/architecture.md,
   * "One 客服 message"). Until then the caller must write nothing else of the lead (else save first). Null when the lead
   * does not exist.
   */
  async prepareLocked(lead: LeadRef, mutate: (doc: LeadDoc) => void): Promise<PendingChange | null> {
    const doc = await Lead.findById(leadId(lead.corpId, lead.externalUserId));
    if (!doc) return null;
    const before = doc.toObject() as LeadSnapshot;
    mutate(doc);
    return new PreparedChange(lead, doc, before, mutate, this.hooks);
  }

  /**
   * One update of a lead, by _id plus `filter` (the update applies only while it holds), under the lead's lock. __v
   * moves on, so a load-modify-save that read the lead before this write retries instead of overwriting it.
   */
  async update(lead: LeadRef, filter: Record<string, unknown>, update: { $set?: Record<string, unknown>; $inc?: Record<string, number> }): Promise<boolean> {
    return this.withLock(lead, async () => {
      const res = await Lead.updateOne({ _id: leadId(lead.corpId, lead.externalUserId), ...filter }, { ...update, $inc: { ...update.$inc, __v: 1 } });
      if (res.modifiedCount > 0) await this.hooks.afterUpdate?.(lead, [...Object.keys(update.$set ?? {}), ...Object.keys(update.$inc ?? {})]);
      return res.modifiedCount > 0;
    });
  }

  /** Sets fields of a lead by _id alone (one cheap update), for a caller that holds the lead's lock. */
  async setLocked(lead: LeadRef, fields: Record<string, unknown>, inc: Record<string, number> = {}): Promise<void> {
    // __v moves on, so a load-modify-save that read the lead before this write retries instead of overwriting it.
    await Lead.updateOne({ _id: leadId(lead.corpId, lead.externalUserId) }, { ...(Object.keys(fields).length ? { $set: fields } : {}), $inc: { ...inc, __v: 1 } });
    await this.hooks.afterUpdate?.(lead, [...Object.keys(fields), ...Object.keys(inc)]);
  }
}

/** A change of a lead applied in memory and not written yet (LeadRepository.prepareLocked). */
export interface PendingChange {
  /** The lead with the change applied (after `save`: as saved). */
  readonly doc: LeadDoc;
  /** Whether `save` has run. */
  readonly saved: boolean;
  /** Writes the change, and `more` with it, in one save; once. */
  save(more?: (doc: LeadDoc) => void): Promise<LeadDoc>;
}

class PreparedChange implements PendingChange {
  saved = false;

  constructor(
    private readonly ref: LeadRef,
    public doc: LeadDoc,
    private readonly before: LeadSnapshot,
    private readonly mutate: (doc: LeadDoc) => void,
    private readonly hooks: LeadHooks,
  ) {}

  async save(more?: (doc: LeadDoc) => void): Promise<LeadDoc> {
    if (this.saved) throw new Error('a prepared change of a lead is saved once');
    this.saved = true;
    more?.(this.doc);
    try {
      await saveWithHooks(this.doc, this.before, this.hooks);
    } catch (err) {
      if (!(err instanceof mongoose.Error.VersionError)) throw err;
      // Written meanwhile (by a writer without the lock): start over from a fresh load, as mutate does.
      this.doc = (await mutateUnlocked(this.ref, null, (d) => (this.mutate(d), more?.(d)), this.hooks))!;
    }
    return this.doc;
  }
}

/**
 * Loads (creating if absent) the lead, applies `mutate` and saves with optimistic concurrency, retrying on a
 * concurrent write. No positional or arrayFilters updates, no transactions.
 */
async function mutateUnlocked(ref: LeadRef, firstTouch: FirstTouch | null, mutate: (lead: LeadDoc) => void, hooks: LeadHooks): Promise<LeadDoc | null> {
  const { corpId, externalUserId } = ref;
  for (let attempt = 0; ; attempt++) {
    // With a first touch the lead is usually new (an add): try the insert first, since a lookup that finds nothing
    // is the slowest read on some MongoDB-wire servers (FerretDB scans); a duplicate key sends us to load-and-update.
    let lead = firstTouch && attempt === 0 ? null : await Lead.findById(leadId(corpId, externalUserId));
    const isNew = !lead;
    if (!lead) {
      if (!firstTouch) return null;
      // A new lead is built with the change applied and inserted once (an insert is far cheaper than an update on
      // some MongoDB-wire servers); a concurrent creator makes it a duplicate key, and we start over.
      lead = new Lead({ _id: leadId(corpId, externalUserId), corpId, externalUserId, firstTouch });
    }
    const before = isNew ? null : (lead.toObject() as LeadSnapshot);
    mutate(lead);
    try {
      await saveWithHooks(lead, before, hooks);
      return lead;
    } catch (err) {
      if (isNew && isDuplicateKey(err) && attempt < 6) continue;
      if (err instanceof mongoose.Error.VersionError && attempt < 10) continue;
      throw err;
    }
  }
}

/** Saves a lead between its hooks (before: as it was loaded; null for a new one); afterSave only once it is saved. */
async function saveWithHooks(lead: LeadDoc, before: LeadSnapshot | null, hooks: LeadHooks): Promise<void> {
  await hooks.beforeSave?.(lead, before);
  await lead.save();
  await hooks.afterSave?.(before, lead);
}
