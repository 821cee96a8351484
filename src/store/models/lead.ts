import mongoose, { Schema, type InferSchemaType, type HydratedDocument, type Model } from 'mongoose';

/** Funnel stages (domain.md §2). */
export const STAGES = ['added', 'engaged', 'qualified', 'opportunity', 'customer', 'lost', 'unsubscribed'] as const;
export type Stage = (typeof STAGES)[number];

const tagSchema = new Schema({ group: String, name: String, id: String }, { _id: false });

const ownerSchema = new Schema(
  {
    userId: { type: String, required: true },
    channelKey: { type: String, required: true },
    state: { type: String, default: null },
    addedAt: { type: Date, required: true },
    /** active; removed = the owner deleted the customer; left = the customer deleted the owner (churn). */
    status: { type: String, enum: ['active', 'removed', 'left'], default: 'active' },
    /** add_half_external_contact: the member had not confirmed yet. */
    pending: { type: Boolean, default: false },
    endedAt: { type: Date, default: null },
    /** CreateTime of the newest add/delete event applied to this owner: an older event never overrides it. */
    lastEventAt: { type: Date, default: null },
    remark: { type: String, default: null },
    tags: { type: [tagSchema], default: [] },
  },
  { _id: false },
);

const touchSchema = new Schema(
  { eventKey: String, kind: String, channelKey: String, userId: String, at: Date },
  { _id: false },
);

const leadSchema = new Schema(
  {
    /** leadId(corpId, externalUserId): lookups by primary key stay fast on every MongoDB-wire database. */
    _id: { type: String, required: true },
    corpId: { type: String, required: true },
    externalUserId: { type: String, required: true },
    name: { type: String, default: null },
    avatar: { type: String, default: null },
    /** 1 = WeChat user, 2 = WeCom user. */
    type: { type: Number, default: null },
    corpName: { type: String, default: null },
    industry: { type: String, default: null },
    stage: { type: String, enum: STAGES, default: 'added' },
    firstTouch: {
      channelKey: { type: String, required: true },
      userId: { type: String, required: true },
      at: { type: Date, required: true },
    },
    touches: { type: [touchSchema], default: [] },
    owners: { type: [ownerSchema], default: [] },
    /** Union of the owners' corp tags, as last read from WeCom (plus what we marked). */
    tags: { type: [tagSchema], default: [] },
    profileSyncedAt: { type: Date, default: null },
    /** 微信客服 session: kf/send_msg is allowed within 48 h of the customer's last message, 5 messages at most. */
    kf: {
      openKfid: { type: String, default: null },
      lastInboundAt: { type: Date, default: null },
      sentSinceInbound: { type: Number, default: 0 },
    },
    unsubscribedAt: { type: Date, default: null },
    lostAt: { type: Date, default: null },
  },
  { timestamps: true, optimisticConcurrency: true },
);
leadSchema.index({ corpId: 1, externalUserId: 1 }, { unique: true });
leadSchema.index({ 'firstTouch.channelKey': 1, stage: 1 });

/**
 * The primary key of a lead. FerretDB 1.x (SQLite) answers queries on other fields by scanning, so every hot lookup
 * of a lead goes through its _id; the unique (corpId, externalUserId) index stays as the rule.
 */
export function leadId(corpId: string, externalUserId: string): string {
  return `${corpId}:${externalUserId}`;
}

export type LeadFields = InferSchemaType<typeof leadSchema>;
export type LeadDoc = HydratedDocument<LeadFields>;
export const Lead = mongoose.model('Lead', leadSchema, 'leads');

/** The first touch a lead is created with when it does not exist yet. */
export interface FirstTouch {
  channelKey: string;
  userId: string;
  at: Date;
}

/**
 * Loads (creating if absent) the lead keyed by (corp id, external user id), applies `mutate` and saves with
 * optimistic concurrency, retrying on a concurrent write. No positional or arrayFilters updates, no transactions.
 * Call it through LeadStore, which also serialises writers per lead (needed on FerretDB).
 */
export async function mutateLead(
  corpId: string,
  externalUserId: string,
  firstTouch: FirstTouch | null,
  mutate: (lead: LeadDoc) => void,
): Promise<LeadDoc | null> {
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
    mutate(lead);
    try {
      await lead.save();
      return lead;
    } catch (err) {
      if (isNew && isDuplicateKey(err) && attempt < 6) continue;
      if (err instanceof mongoose.Error.VersionError && attempt < 10) continue;
      throw err;
    }
  }
}

/** True for MongoDB's E11000 duplicate key error (also what FerretDB answers). */
export function isDuplicateKey(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 11000;
}

/**
 * Inserts `doc` unless a document with the same unique key exists: the created document, or null when one did.
 * A unique insert is atomic on MongoDB and FerretDB alike, which is what every "once" in the bot stands on.
 */
export async function createOnce<T>(model: Model<T>, doc: Record<string, unknown>): Promise<HydratedDocument<T> | null> {
  try {
    return (await model.create(doc)) as HydratedDocument<T>;
  } catch (err) {
    if (isDuplicateKey(err)) return null;
    throw err;
  }
}
