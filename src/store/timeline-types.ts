/**
 * Every kind of entry the bot writes on a lead's timeline. `recordStep` and `recordSteps` take only these, so a new
 * kind is added here first, and the dashboard's words (src/http/admin/dashboard/i18n.js, `tl.*`) and the API's
 * (src/domain/leads/timeline-words.ts) are checked against this list by the tests: no entry reaches staff as its
 * type key.
 */
import { DELIVERY_STATUSES } from './models/delivery.js';

/** What happened to the lead, its chat or its enrollments. */
export const EVENT_TYPES = [
  // Contact events [D:92130]
  'added',
  'added_half',
  'churned',
  'removed_by_owner',
  'transfer_failed',
  // Its profile and tags
  'profile_synced',
  'profile_failed',
  'tags_marked',
  'tags_failed',
  'tags_changed',
  // Stage, grade, links, pauses
  'stage_changed',
  'grade_pinned',
  'grade_unpinned',
  'link_clicked',
  'paused',
  'resumed',
  // Nurture
  'enrolled',
  'enroll_skipped',
  'enrollment_stopped',
  'enrollment_owner_changed',
  // 微信客服 [D:94670]
  'kf_arrived',
  'kf_entered',
  'kf_message',
  'kf_servicer_replied',
  'kf_handed_off',
  'kf_handoff_failed',
  'kf_send_failed',
  'kf_session_changed',
  'kf_user_recall_msg',
  'kf_servicer_recall_msg',
  'kf_reject_customer_msg_switch_change',
  'kf_other_event',
  'kf_clock_alert',
  'kf_clock_closed',
  'kf_clock_unassigned',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** What the bot sends, each recorded as `<kind>_<outcome>`: welcome_sent, campaign_capped, kf_reply_skipped, … */
export const SENT_KINDS = ['welcome', 'nurture', 'campaign', 'mass', 'kf_reply', 'kf_welcome', 'kf_clock_notice', 'kf_intent_notice', 'grade_upgrade_notice'] as const;
export type SentKind = (typeof SENT_KINDS)[number];

/** What became of a send: a delivery's status, `reminded` (its owner was asked to send it) or `withdrawn` (a mass message taken back). */
export const SEND_OUTCOMES = [...DELIVERY_STATUSES, 'reminded', 'withdrawn'] as const;
export type SendOutcome = (typeof SEND_OUTCOMES)[number];

export type TimelineType = EventType | `${SentKind}_${SendOutcome}`;

/** Every timeline type, spelled out. */
export const TIMELINE_TYPES: readonly TimelineType[] = [...EVENT_TYPES, ...SENT_KINDS.flatMap((k) => SEND_OUTCOMES.map((o) => `${k}_${o}` as const))];

const KNOWN = new Set<string>(TIMELINE_TYPES);
/** Whether a string is a timeline type (a step read back from the store, a 客服 event named by WeCom). */
export const isTimelineType = (s: string): s is TimelineType => KNOWN.has(s);
