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

const APP_MSG_TYPES = ['text', 'markdown', 'image', 'voice', 'video', 'file', 'textcard', 'news', 'mpnews', 'miniprogram_notice', 'template_card'];

/** App messages to staff (message/send) [D:90236]. */
export class AppMessagesArea implements SandboxArea {
  /** App messages accepted by message/send. */
  readonly sent: AppMessageSent[] = [];

  constructor(
    private readonly core: SandboxCore,
    /** userids message/send accepts; absent = every userid is a valid member. */
    private readonly members: ReadonlySet<string> | undefined,
  ) {}

  readonly routes: Record<string, ApiRoute> = {
    'message/send': { body: true, run: (_q, b) => this.apiSendMessage(b) },
  };

  reset(): void {
    this.sent.length = 0;
  }

  /** POST message/send -> {invaliduser, msgid}; text/markdown content over 2048 bytes is truncated, as WeCom does. */
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
    this.sent.push({ msgid, touser: valid, toparty, totag, msgtype, agentid, content, body, at: this.core.now() });
    return { invaliduser: invalid.join('|'), msgid };
  }
}
