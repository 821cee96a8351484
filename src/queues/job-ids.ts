import { createHash } from 'node:crypto';

/**
 * Deterministic BullMQ job ids: the same work always gets the same id, so adding it twice adds it once. ':' is
 * BullMQ's key separator, hence '|'.
 */
export const jobIds = {
  /** A callback's `events` job: its dedupe key, which refuses a retried callback. */
  event: (dedupeKey: string) => dedupeKey,
  /** The welcome of one add event. */
  welcome: (dedupeKey: string) => `welcome|${dedupeKey}`,
  /** Tagging and profile refresh after one event. */
  contactSync: (dedupeKey: string) => `sync|${dedupeKey}`,
  /** The current step of an enrollment, so a step is scheduled once. */
  nurtureStep: (enrollmentId: string, step: number) => `step|${noColon(enrollmentId)}|${step}`,
  /** One poll of a mass message's send result. */
  massPoll: (deliveryKey: string, attempt: number) => `poll|${noColon(deliveryKey)}|${attempt}`,
  /** The poll that settles a group's customers as withdrawn right after its task was withdrawn. */
  massPollWithdrawn: (deliveryKey: string) => `poll|${noColon(deliveryKey)}|withdrawn`,
  /** Writing one outcome to MongoDB. */
  record: (key: string) => `record|${noColon(key)}`,
  /** An alert to the ops group: each key once. */
  alert: (key: string) => `alert|${noColon(key)}`,
  /** The digest of alerts due in one second. */
  alertDigest: (second: number) => `alert-digest|${second}`,
  /** A chat command answered later through its response_url: once per robot message. */
  opsCommand: (msgid: string) => `command|${msgid.replace(/:/g, '_')}`,
  commandAudit: (msgid: string) => `audit|${msgid.replace(/:/g, '_')}`,
  /** The tick of a one-off campaign at its time (a changed time is another tick; the old one finds nothing to do). */
  campaignTick: (key: string, at: number) => `tick|${key}|${at}`,
  /** The job that runs (and resumes) one campaign run: one per run. */
  campaignRun: (runId: string) => `run|${runId}`,
  /** The n-th follow-up count of a finished campaign run (replies, clicks, stage moves in the 7 days after). */
  campaignFollowUp: (runId: string, n: number) => `followup|${runId}|${n}`,
  /** The notice of a lead's n-th upgrade into S or A (lead ids hold ':', which job ids may not). */
  gradeNotice: (leadId: string, n: number) => `notice|grade|${leadId.replace(/:/g, '_')}|${n}`,
  /** One sync of a 微信客服 account, asked for by its n-th callback. */
  kfSync: (openKfid: string, n: number) => `kf-sync|${safe(openKfid)}|${n}`,
  /**
   * The handling of one customer's set-aside messages, named by the first of them and when they were set aside (a
   * customer is set aside again after their earlier set-aside work is done: another job).
   */
  kfInbound: (openKfid: string, msgid: string, at: number) => `kf-in|${safe(openKfid)}|${safe(msgid)}|${at}`,
  /** The check of the corp tags asked for by the n-th change_external_tag callback. */
  corpTagCheck: (n: number) => `corp-tags|${n}`,
  /** A service clock's alert at `level` (1: the servicer or owner, 2: the ops group). */
  kfClock: (clockId: string, level: number) => `kf-clock|${digest(clockId)}|${level}`,
  /** A hand-off waiting for the service hours to open. */
  kfHandoff: (leadId: string, at: number) => `kf-handoff|${digest(leadId)}|${at}`,
};

/** A key with ':' replaced (lead ids are `corp:customer`): BullMQ refuses ':' in a job id. */
function noColon(s: string): string {
  return s.replace(/:/g, '_');
}

function safe(s: string): string {
  return s.replace(/[|:]/g, '_');
}

function digest(s: string): string {
  return createHash('sha1').update(s).digest('hex').slice(0, 24);
}
