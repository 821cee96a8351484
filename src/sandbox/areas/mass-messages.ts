import type { ApiRoute, SandboxArea } from '../area.js';
import type { SandboxCore } from '../core.js';
import { SandboxApiError } from '../errcodes.js';
import { massQuotaPeriod, type MassQuotaRule } from '../../domain/delivery/mass-quota.js';
import { randomId } from '../ids.js';
import { checkAttachments, cursorOffset, optArray, optNumber, optString, optStringArray, textContent, utf8Length, type Json } from '../json-input.js';
import type { ContactsArea } from './contacts.js';

/** One recipient of a mass message; status 0 unsent, 1 sent, 2 not a friend, 3 already got a mass message [D:92135]. */
export interface GroupMsgTarget {
  userId: string;
  externalUserId: string;
  status: 0 | 1 | 2 | 3;
  /** seconds, when status is 1 */
  sendTime?: number;
}

/** A mass message created by add_msg_template; nothing is sent until the member confirms (confirmGroupMsg). */
export interface GroupMsg {
  msgid: string;
  chatType: 'single' | 'group';
  sender?: string;
  text: string | undefined;
  attachments: unknown[];
  /** seconds */
  createTime: number;
  targets: GroupMsgTarget[];
  /** Withdrawn by cancel_groupmsg_send: members who had not sent it can no longer. */
  cancelled?: boolean;
}

/** Mass messages (群发) to customers: created by the API, sent when the member confirms [D:92135]. */
export class MassMessagesArea implements SandboxArea {
  /** Mass messages keyed by msgid. */
  readonly msgs = new Map<string, GroupMsg>();

  constructor(
    private readonly core: SandboxCore,
    private readonly contacts: ContactsArea,
    /** WeCom's per-customer quota (default: as many per month as the month has days) [D:92135]. */
    private readonly quota: MassQuotaRule,
  ) {}

  readonly routes: Record<string, ApiRoute> = {
    'externalcontact/add_msg_template': { body: true, run: (_q, b) => this.apiAddMsgTemplate(b) },
    'externalcontact/get_groupmsg_send_result': { body: true, run: (_q, b) => this.apiGetGroupMsgSendResult(b) },
    'externalcontact/cancel_groupmsg_send': { body: true, run: (_q, b) => this.apiCancelGroupMsgSend(b) },
  };

  reset(): void {
    this.msgs.clear();
  }

  /** POST externalcontact/add_msg_template -> {msgid, fail_list}; creates unsent targets (status 0). */
  apiAddMsgTemplate(body: Json): Json {
    const chatType = optString(body, 'chat_type') ?? 'single';
    if (chatType !== 'single' && chatType !== 'group') throw new SandboxApiError(40058, 'invalid chat_type');
    const sender = optString(body, 'sender');
    const externalIds = optStringArray(body, 'external_userid') ?? [];
    if (externalIds.length > 10000) throw new SandboxApiError(40058, 'external_userid exceeds 10000');
    const text = textContent(body);
    const attachments = checkAttachments(optArray(body, 'attachments'));
    if (text !== undefined && utf8Length(text) > 4000) throw new SandboxApiError(40058, 'text.content exceeds 4000 bytes');
    if (text === undefined && attachments.length === 0) throw new SandboxApiError(40058, 'text and attachments are both empty');
    const targets: GroupMsgTarget[] = [];
    const failList: string[] = [];
    if (chatType === 'group') {
      // Customer groups are not modelled: the template is recorded with no targets.
      if (!sender) throw new SandboxApiError(41009);
    } else {
      if (externalIds.length === 0 && !sender) throw new SandboxApiError(40058, 'external_userid and sender are both empty');
      const ids = externalIds.length > 0 ? externalIds : [...this.contacts.relationships.values()].filter((r) => r.userId === sender).map((r) => r.externalUserId);
      // With a sender, one lookup per customer; without, one pass over the relationships for the whole list (a
      // campaign sends up to 10,000 at once).
      let follows: Map<string, string[]> | null = null;
      if (sender === undefined) {
        follows = new Map();
        for (const r of this.contacts.relationships.values()) {
          const list = follows.get(r.externalUserId);
          if (list) list.push(r.userId);
          else follows.set(r.externalUserId, [r.userId]);
        }
      }
      for (const ext of ids) {
        const owners = (follows ? (follows.get(ext) ?? []) : this.contacts.relationship(sender!, ext) ? [sender!] : []).map((userId) => ({ userId }));
        if (owners.length === 0) failList.push(ext);
        for (const r of owners) targets.push({ userId: r.userId, externalUserId: ext, status: 0 });
      }
      if (targets.length === 0) throw new SandboxApiError(41048);
    }
    const msgid = randomId('msg', 28);
    this.msgs.set(msgid, { msgid, chatType, sender, text, attachments, createTime: Math.floor(this.core.now() / 1000), targets });
    return { fail_list: failList, msgid };
  }

  /**
   * The member confirms a mass message in the client (all members when userId is absent): each unsent target becomes
   * 1 sent, 2 not a friend any more, or 3 over the customer's quota for the period [D:92135].
   */
  confirm(msgid: string, userId?: string): GroupMsgTarget[] {
    const msg = this.msgs.get(msgid);
    if (!msg) throw new Error(`sandbox: unknown group msgid ${msgid}`);
    // Withdrawn: what was not sent stays unsent.
    if (msg.cancelled) return [];
    const nowSec = Math.floor(this.core.now() / 1000);
    const period = massQuotaPeriod(this.quota, nowSec * 1000);
    const inPeriod = (sec: number) => massQuotaPeriod(this.quota, sec * 1000).key === period.key;
    const changed: GroupMsgTarget[] = [];
    for (const t of msg.targets) {
      if (t.status !== 0 || (userId !== undefined && t.userId !== userId)) continue;
      if (!this.contacts.relationship(t.userId, t.externalUserId)) {
        t.status = 2;
      } else {
        const received = [...this.msgs.values()]
          .flatMap((m) => m.targets)
          .filter((x) => x.externalUserId === t.externalUserId && x.status === 1 && x.sendTime !== undefined && inPeriod(x.sendTime)).length;
        if (received >= period.cap) {
          t.status = 3;
        } else {
          t.status = 1;
          t.sendTime = nowSec;
        }
      }
      changed.push(t);
    }
    return changed;
  }

  /** POST externalcontact/cancel_groupmsg_send {msgid} -> {}: the members who have not sent it yet no longer can [D:97611]. */
  apiCancelGroupMsgSend(body: Json): Json {
    const msgid = optString(body, 'msgid');
    if (!msgid) throw new SandboxApiError(41046);
    const msg = this.msgs.get(msgid);
    if (!msg) throw new SandboxApiError(41047);
    msg.cancelled = true;
    return {};
  }

  /** POST externalcontact/get_groupmsg_send_result {msgid, userid, limit ≤ 1000, cursor} -> {send_list, next_cursor}. */
  apiGetGroupMsgSendResult(body: Json): Json {
    const msgid = optString(body, 'msgid');
    if (!msgid) throw new SandboxApiError(41046);
    const msg = this.msgs.get(msgid);
    if (!msg) throw new SandboxApiError(41047);
    const userId = optString(body, 'userid');
    if (!userId) throw new SandboxApiError(41009);
    const limit = optNumber(body, 'limit') ?? 500;
    if (limit < 1 || limit > 1000) throw new SandboxApiError(40058, 'limit must be 1..1000');
    const offset = cursorOffset(body);
    const mine = msg.targets.filter((t) => t.userId === userId);
    return {
      send_list: mine.slice(offset, offset + limit).map((t) => ({
        external_userid: t.externalUserId,
        userid: t.userId,
        status: t.status,
        ...(t.sendTime !== undefined ? { send_time: t.sendTime } : {}),
      })),
      next_cursor: offset + limit < mine.length ? String(offset + limit) : '',
    };
  }
}
