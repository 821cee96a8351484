import type { ApiRoute, SandboxArea } from '../area.js';
import type { SandboxCore } from '../core.js';
import { SandboxApiError } from '../errcodes.js';
import { randomId } from '../ids.js';
import { optObject, optNumber, optString, truncateUtf8, type Json } from '../json-input.js';

/** An app message accepted by message/send. */
export interface AppMessageSent {
  msgid: string;
  /** valid recipients ('@all' kept as is). */
  touser: string[];
  toparty?: string;
  totag?: string;
  msgtype: string;
  agentid: number;
  /** text/markdown content after WeCom's 2048-byte truncation. */
  content: string | undefined;
  body: Json;
  at: number;
}

/** An app message WeCom took (errcode 0) but did not deliver to these members: each was over its per-member limit. */
export interface AppMessageDropped {
  msgid: string;
  userids: string[];
  at: number;
}

/** One per-member limit of app messages: at most `limit` within any `windowMs`. */
export interface MemberMessageLimit {
  limit: number;
  windowMs: number;
}

/**
 * WeCom's limits of app messages per app and member: 30 a minute and 1,000 an hour; the excess is silently dropped
 * (「超过部分会被丢弃不下发」) [D:90236]. How WeCom counts its minute is not
 * documented: the sandbox counts any 60 s (and any hour), the strictest reading, so a bot that passes here passes there.
 */
export const WECOM_MEMBER_MESSAGE_LIMITS: readonly MemberMessageLimit[] = [
  { limit: 30, windowMs: 60_000 },
  { limit: 1000, windowMs: 3_600_000 },
];

const APP_MSG_TYPES = ['text', 'markdown', 'image', 'voice', 'video', 'file', 'textcard', 'news', 'mpnews', 'miniprogram_notice', 'template_card'];

/** App messages to staff (message/send) [D:90236]. */
export class AppMessagesArea implements SandboxArea {
  /** App messages accepted by message/send (`touser`: the members it reached). */
  readonly sent: AppMessageSent[] = [];
  /** Messages, or the part of a message, over a member's limit: answered errcode 0, delivered to nobody listed. */
  readonly dropped: AppMessageDropped[] = [];
  /** When each member was last delivered a message (ms, oldest first), for the per-member limits. */
  private readonly delivered = new Map<string, number[]>();

  constructor(
    private readonly core: SandboxCore,
    /** userids message/send accepts; absent = every userid is a valid member. */
    private readonly members: ReadonlySet<string> | undefined,
    /** Per-member limits (mutable for tests); [] = none. */
    public memberLimits: readonly MemberMessageLimit[] = WECOM_MEMBER_MESSAGE_LIMITS,
  ) {}

  readonly routes: Record<string, ApiRoute> = {
    'message/send': { body: true, run: (_q, b) => this.apiSendMessage(b) },
  };

  reset(): void {
    this.sent.length = 0;
    this.dropped.length = 0;
    this.delivered.clear();
  }

  /** Messages delivered to `userid` (alone or with others), in arrival order. */
  sentTo(userid: string): AppMessageSent[] {
    return this.sent.filter((m) => m.touser.includes(userid));
  }

  /** Whether `userid` may be delivered one more message now; if so, it is counted. */
  private deliver(userid: string, now: number): boolean {
    const longest = Math.max(0, ...this.memberLimits.map((l) => l.windowMs));
    const times = (this.delivered.get(userid) ?? []).filter((t) => t > now - longest);
    const full = this.memberLimits.some((l) => times.filter((t) => t > now - l.windowMs).length >= l.limit);
    if (!full) times.push(now);
    this.delivered.set(userid, times);
    return !full;
  }

  /**
   * POST message/send -> {invaliduser, msgid}; text/markdown content over 2048 bytes is truncated, as WeCom does. A
   * member over a per-member limit does not get it, and nothing in the answer says so [D:90236].
   */
  apiSendMessage(body: Json): Json {
    const msgtype = optString(body, 'msgtype');
    if (!msgtype || !APP_MSG_TYPES.includes(msgtype)) throw new SandboxApiError(40008);
    const agentid = optNumber(body, 'agentid');
    if (agentid === undefined) throw new SandboxApiError(41011);
    const touser = optString(body, 'touser');
    const toparty = optString(body, 'toparty');
    const totag = optString(body, 'totag');
    if (!touser && !toparty && !totag) throw new SandboxApiError(82001);
    let content: string | undefined;
    if (msgtype === 'text' || msgtype === 'markdown') {
      const raw = optString(optObject(body, msgtype) ?? {}, 'content');
      if (!raw) throw new SandboxApiError(44004);
      // UNCONFIRMED for markdown: the docs say text over 2048 bytes is truncated; markdown is assumed the same.
      content = truncateUtf8(raw, 2048);
    }
    const users = touser === '@all' ? ['@all'] : (touser?.split('|').filter(Boolean) ?? []);
    const invalid = this.members && touser !== '@all' ? users.filter((u) => !this.members?.has(u)) : [];
    const valid = users.filter((u) => !invalid.includes(u));
    if (valid.length === 0 && !toparty && !totag) throw new SandboxApiError(81013);
    const msgid = randomId('', 40);
    const at = this.core.now();
    const over = valid.filter((u) => u !== '@all' && !this.deliver(u, at));
    if (over.length) this.dropped.push({ msgid, userids: over, at });
    const reached = valid.filter((u) => !over.includes(u));
    if (reached.length || toparty || totag) this.sent.push({ msgid, touser: reached, toparty, totag, msgtype, agentid, content, body, at });
    return { invaliduser: invalid.join('|'), msgid };
  }
}
