import type { ApiRoute, SandboxArea } from '../area.js';
import type { SandboxCore } from '../core.js';
import { SandboxApiError } from '../errcodes.js';
import { pairKey, randomId } from '../ids.js';
import { optString, textContent, utf8Length, type Json } from '../json-input.js';

/** A 微信客服 message accepted by kf/send_msg. */
export interface KfMessageSent {
  msgid: string;
  touser: string;
  openKfid: string;
  msgtype: string;
  content: string | undefined;
  body: Json;
  at: number;
}

const KF_WINDOW_MS = 48 * 3600 * 1000;
const KF_MAX_PER_WINDOW = 5;

/** 微信客服 (WeChat customer service) [D:94670, D:94677]. */
export class KfArea implements SandboxArea {
  /** Messages accepted by kf/send_msg. */
  readonly sent: KfMessageSent[] = [];
  private readonly sessions = new Map<string, { lastCustomerMsgAt: number; sent: number }>();

  constructor(
    private readonly core: SandboxCore,
    /** open_kfids kf/send_msg accepts; absent = any non-empty open_kfid. */
    private readonly accounts: ReadonlySet<string> | undefined,
  ) {}

  readonly routes: Record<string, ApiRoute> = {
    'kf/send_msg': { body: true, run: (_q, b) => this.apiKfSendMsg(b) },
  };

  reset(all: boolean): void {
    this.sent.length = 0;
    if (all) this.sessions.clear();
  }

  /** A customer writes to a 客服 account: opens a new 48 h window of 5 messages for kf/send_msg. */
  customerMessage(openKfid: string, externalUserId: string): void {
    this.sessions.set(pairKey(openKfid, externalUserId), { lastCustomerMsgAt: this.core.now(), sent: 0 });
  }

  /** POST kf/send_msg -> {msgid}: 95000 bad open_kfid, 95002 outside 48 h, 95001 over 5 messages per window. */
  apiKfSendMsg(body: Json): Json {
    const touser = optString(body, 'touser');
    if (!touser) throw new SandboxApiError(40096);
    const openKfid = optString(body, 'open_kfid');
    if (!openKfid || (this.accounts && !this.accounts.has(openKfid))) throw new SandboxApiError(95000);
    const msgtype = optString(body, 'msgtype');
    if (!msgtype) throw new SandboxApiError(40008);
    let content: string | undefined;
    if (msgtype === 'text') {
      content = textContent(body);
      if (!content) throw new SandboxApiError(44004);
      // UNCONFIRMED: the errcode for text over 2048 bytes.
      if (utf8Length(content) > 2048) throw new SandboxApiError(40058, 'text.content exceeds 2048 bytes');
    }
    const session = this.sessions.get(pairKey(openKfid, touser));
    if (!session || this.core.now() - session.lastCustomerMsgAt > KF_WINDOW_MS) throw new SandboxApiError(95002);
    if (session.sent >= KF_MAX_PER_WINDOW) throw new SandboxApiError(95001);
    session.sent += 1;
    const msgid = optString(body, 'msgid') ?? randomId('', 32);
    this.sent.push({ msgid, touser, openKfid, msgtype, content, body, at: this.core.now() });
    return { msgid };
  }
}
