import type { Json } from '../json-input.js';

// The shapes and the numbers of the sandbox's 微信客服: its state is in kf.ts, its API answers in kf-api.ts.

/** A 微信客服 message accepted by kf/send_msg or kf/send_msg_on_event. */
export interface KfMessageSent {
  msgid: string;
  touser: string;
  openKfid: string;
  msgtype: string;
  /** The text, or a menu's head, items and tail as one text. */
  content: string | undefined;
  body: Json;
  at: number;
  /** send_msg, or send_msg_on_event (with the code's kind). */
  via: 'send_msg' | 'welcome' | 'event';
}

/** A 微信客服 account of the corp, its servicers and whether each is on duty (status 0 接待中, 1 停止接待). */
export interface KfAccountOptions {
  openKfid: string;
  name?: string;
  servicers?: Array<string | { userid: string; status?: 0 | 1 }>;
}

/** One entry of an account's message log: what kf/sync_msg returns, in WeCom's shape [D:94670]. */
export interface LogEntry {
  seq: number;
  at: number;
  msg: Json & { msgid: string; send_time: number; origin: number; msgtype: string };
}

/** A session between an account and a customer [D:94669]: its state (0–4), servicer and 48 h window. */
export interface KfSession {
  state: 0 | 1 | 2 | 3 | 4;
  servicer: string | null;
  /** When the session began (a customer message in state 4 / no session): it lasts 48 h [D:94669]. */
  startedAt: number;
  lastCustomerMsgAt: number | null;
  /** API messages sent since the customer's last message (5 at most [D:94677]). */
  sentInWindow: number;
  lastWelcomeAt: number | null;
}

export interface EventCode {
  code: string;
  kind: 'welcome' | 'queue' | 'pick' | 'end';
  openKfid: string;
  externalUserId: string;
  expiresAt: number;
  used: boolean;
}

export const KF_WINDOW_MS = 48 * 3600 * 1000;
export const KF_MAX_PER_WINDOW = 5;
export const TOKEN_TTL_MS = 10 * 60_000;
export const HISTORY_MS = 3 * 86_400_000;
export const WELCOME_CODE_MS = 20_000;
/** Moves service_state/trans allows, from each state [D:94669]; others are refused (95016, UNCONFIRMED code). */
export const MOVES: Record<number, number[]> = { 0: [1, 2, 3], 1: [2, 3], 2: [3], 3: [3, 4], 4: [] };
export const MSGID_RE = /^[0-9a-zA-Z_-]{1,32}$/;
