import mongoose, { Schema, type InferSchemaType, type HydratedDocument } from 'mongoose';
import { STAGES } from '../../domain/vocabulary.js';

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

/** A touch as stored before the touch log (src/store/touch-log.ts): read, and folded into the log at the next save. */
const legacyTouchSchema = new Schema(
  {
    eventKey: String,
    kind: String,
    channelKey: String,
    userId: String,
    at: Date,
    /** What the touch was about, when it matters (the case study opened, the intent matched). */
    ref: { type: String, default: null },
  },
  { _id: false },
);

/** When the lead first reached each funnel stage: reaching a later stage counts as reaching the earlier ones. */
const reachedSchema = new Schema(
  { added: Date, engaged: Date, qualified: Date, opportunity: Date, customer: Date },
  { _id: false },
);

/** A running service clock (src/domain/kf/clock.ts): from the first unanswered customer message to a person's reply. */
const kfClockSchema = new Schema(
  {
    id: { type: String, required: true },
    msgid: { type: String, required: true },
    /** The start of the message it waits on, for the alerts. */
    excerpt: { type: String, default: '' },
    startedAt: { type: Date, required: true },
    targetSeconds: { type: Number, required: true },
    /** When the servicer or owner is told (target), and the ops group (twice the target), counted in service hours. */
    firstDue: { type: Date, required: true },
    secondDue: { type: Date, required: true },
    /** Alerts already due and handled (0, 1, 2). */
    level: { type: Number, default: 0 },
  },
  { _id: false },
);

const scoreReasonSchema = new Schema({ reason: String, points: Number }, { _id: false });

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
    reached: { type: reachedSchema, default: () => ({}) },
    /** The funnel stage a lead had when it left or opted out: a return (or re-subscribe) brings it back there. */
    stageBeforeExit: { type: String, enum: [...STAGES, null], default: null },
    /** decision-maker | manager | user, from the role tag group (templates/scoring.yaml). */
    role: { type: String, default: null },
    /** The score (fit + decaying intent) and the grade it gives; a pinned grade wins until unpinned. */
    score: { type: Number, default: 0 },
    grade: { type: String, enum: ['S', 'A', 'B', 'C'], default: 'C' },
    gradePin: { type: String, enum: ['S', 'A', 'B', 'C', null], default: null },
    /** The largest contributions to the score, largest first. */
    scoreReasons: { type: [scoreReasonSchema], default: [] },
    scoredAt: { type: Date, default: null },
    /** Upgrades into S or A so far: each one tells the owner once. */
    gradeUpgrades: { type: Number, default: 0 },
    /** The latest touch (any kind). */
    lastTouchAt: { type: Date, default: null },
    firstTouch: {
      channelKey: { type: String, required: true },
      userId: { type: String, required: true },
      at: { type: Date, required: true },
    },
    /** The lead's touches, oldest first, a line each (src/store/touch-log.ts: read with touchesOf, added with addTouch). */
    touchLog: { type: String, default: '' },
    /** Touches stored before the log; absent once folded into it. */
    touches: { type: [legacyTouchSchema], default: undefined },
    owners: { type: [ownerSchema], default: [] },
    /** Union of the owners' corp tags, as last read from WeCom (plus what we marked). */
    tags: { type: [tagSchema], default: [] },
    /** The same tags as `group/name` strings: what filters match (every MongoDB-wire database matches array members). */
    tagKeys: { type: [String], default: [] },
    profileSyncedAt: { type: Date, default: null },
    /**
     * 微信客服 conversation: kf/send_msg is allowed within 48 h of the customer's last message, 5 messages at most
     * [D:94677], and only while the session is new or the bot's (states 0/1 [D:94669]). Our view of the session, its
     * servicer and the open service clock live here too, so a customer message costs one lead save.
     */
    kf: {
      openKfid: { type: String, default: null },
      lastInboundAt: { type: Date, default: null },
      sentSinceInbound: { type: Number, default: 0 },
      /** The session state as we know it: 0 new, 1 the bot's, 2 queued, 3 a person's, 4 ended (null: none yet). */
      state: { type: Number, default: null },
      servicer: { type: String, default: null },
      sessionStartedAt: { type: Date, default: null },
      /** The last reply of a person (origin 5). */
      lastServicerAt: { type: Date, default: null },
      /** The service clock running for the oldest message no person has answered yet (null: none). */
      clock: { type: kfClockSchema, default: null },
      /** A hand-off waiting for the service hours to open. */
      handoffAt: { type: Date, default: null },
    },
    /**
     * The member who last interacted with the customer, as far as WeCom tells us (an add, a remark or tag edit in the
     * client, a confirmed mass message): only that member receives a mass-message task for the customer [D:92135].
     */
    lastInteraction: {
      userId: { type: String, default: null },
      at: { type: Date, default: null },
    },
    /**
     * When staff last followed the customer up (moved its stage, edited it in the client, answered it): an S or A lead
     * whose latest touch came after this (or that nobody followed up yet) waits for follow-up.
     */
    followedUpAt: { type: Date, default: null },
    unsubscribedAt: { type: Date, default: null },
    lostAt: { type: Date, default: null },
  },
  { timestamps: true, optimisticConcurrency: true },
);
leadSchema.index({ corpId: 1, externalUserId: 1 }, { unique: true });
leadSchema.index({ 'firstTouch.channelKey': 1, 'firstTouch.at': 1 });
leadSchema.index({ stage: 1, lastTouchAt: -1 });
leadSchema.index({ grade: 1, lastTouchAt: -1 });
leadSchema.index({ lastTouchAt: -1 });
leadSchema.index({ tagKeys: 1 });

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

/** Who a lead is: its corp and external user id. */
export interface LeadRef {
  corpId: string;
  externalUserId: string;
}

/** The corp and external user id inside a lead id (corp ids contain no ':'). */
export function splitLeadId(id: string): LeadRef | null {
  const at = id.indexOf(':');
  return at > 0 ? { corpId: id.slice(0, at), externalUserId: id.slice(at + 1) } : null;
}
