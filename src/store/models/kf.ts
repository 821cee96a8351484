import mongoose, { Schema } from 'mongoose';

const kfCursorSchema = new Schema(
  {
    /** `<corp>:<open_kfid>`. */
    _id: { type: String, required: true },
    cursor: { type: String, default: null },
    at: { type: Date, default: null },
    /**
     * When the sync under way started; null once it ended with every page it fetched handled. Still set long after:
     * its process died with messages stored but maybe not handled, and the reconciler asks for a sync again.
     */
    syncing: { type: Date, default: null },
  },
  { versionKey: false },
);

/**
 * Where kf/sync_msg goes on for an account: `next_cursor`, stored after every page [D:94670], and whether a sync is
 * under way. Only the sync that holds the account's lock writes it (src/domain/kf/sync.ts), by _id.
 */
export const KfCursor = mongoose.model('KfCursor', kfCursorSchema, 'kf_cursors');

const kfMessageSchema = new Schema(
  {
    /** `<open_kfid>|<msgid>`: the unique insert that fences a message (one document per message, kept KF_MESSAGE_RETENTION_DAYS: src/domain/kf/retention.ts). */
    _id: { type: String, required: true },
    openKfid: { type: String, required: true },
    externalUserId: { type: String, default: null },
    origin: { type: Number, required: true },
    msgtype: { type: String, required: true },
    sendTime: { type: Date, required: true },
    /** The message as kf/sync_msg gave it: what the reconciler queues again when Redis lost its job. */
    raw: { type: Schema.Types.Mixed, default: null },
    /**
     * Set while the message waits set aside (its customer's handling failed, or it queued behind what did:
     * src/domain/kf/set-aside.ts), until their `kf-inbound` job has handled it: what a sync or the reconciler sets aside
     * again after Redis lost the queue (a message handled meanwhile is only unmarked then). A sync does not set it on
     * the messages it stores: its account is marked `syncing`.
     */
    pending: { type: Boolean, default: undefined },
    storedAt: { type: Date, required: true },
    /** Until 2026-12-06 a message was marked handled here; now in `kf_handled`. Read only for messages stored before. */
    handledAt: { type: Date, default: undefined },
    outcome: { type: String, default: undefined },
  },
  { versionKey: false },
);
kfMessageSchema.index({ pending: 1 }, { sparse: true });

/** The `_id` of a 客服 message's documents (`kf_messages`, `kf_handled`): `<open_kfid>|<msgid>`. */
export const kfMessageId = (openKfid: string, msgid: string) => `${openKfid}|${msgid}`;

/** Every 微信客服 message and event synced, by msgid: stored once (docs/architecture.md, "Exactly once"). */
export const KfMessage = mongoose.model('KfMessage', kfMessageSchema, 'kf_messages');

const kfHandledSchema = new Schema(
  {
    /** `<open_kfid>|<msgid>`, as the message's `kf_messages` document. */
    _id: { type: String, required: true },
    at: { type: Date, required: true },
    /** What its handling did (intent:<name>:replied, silent:person, welcome:sent, ...). */
    outcome: { type: String, required: true },
  },
  { versionKey: false },
);

/**
 * The 客服 messages whose handling has finished, one document each (src/store/kf-handled.ts): a message with one is
 * never handled again. An insert, many to a command, where a mark on the message's own document was an update each.
 */
export const KfHandled = mongoose.model('KfHandled', kfHandledSchema, 'kf_handled');

const kfResponseSchema = new Schema(
  {
    /** The clock's id: `<conversation>|<msgid of the first unanswered message>`. */
    _id: { type: String, required: true },
    /** `<corp>:<open_kfid>:<external_userid>`. */
    conversation: { type: String, required: true },
    corpId: { type: String, required: true },
    openKfid: { type: String, required: true },
    externalUserId: { type: String, required: true },
    channelKey: { type: String, default: null },
    servicer: { type: String, default: null },
    grade: { type: String, default: null },
    startedAt: { type: Date, required: true },
    repliedAt: { type: Date, required: true },
    /** Wall-clock seconds, and seconds counted within SERVICE_HOURS (what the target is measured in). */
    seconds: { type: Number, required: true },
    serviceSeconds: { type: Number, required: true },
    targetSeconds: { type: Number, required: true },
    /** Alerts that went out before the reply (1: the servicer or owner, 2: also the ops group). */
    level: { type: Number, default: 0 },
  },
  { versionKey: false },
);
kfResponseSchema.index({ startedAt: 1 });

/** One first-response time of a conversation: a customer's first unanswered message to a person's reply. */
export const KfResponse = mongoose.model('KfResponse', kfResponseSchema, 'kf_responses');

const kfResponseDaySchema = new Schema(
  {
    /** `<time zone>|<YYYY-MM-DD>`: the responses whose clock started that day there. */
    _id: { type: String, required: true },
    /**
     * One string per response record (src/domain/kf/service-days.ts encodes them): a list of short strings is read
     * about four times faster than a list of objects on FerretDB 1.x, and a string is its own key for the write that
     * skips one already there.
     */
    rows: { type: [String], default: [] },
  },
  { versionKey: false },
);

/**
 * The response records of one day (src/domain/kf/service-days.ts): the service page reads a period as one
 * primary-key read per day, where a date-range filter over every record is a scan on some MongoDB-wire servers.
 */
export const KfResponseDay = mongoose.model('KfResponseDay', kfResponseDaySchema, 'kf_response_days');
