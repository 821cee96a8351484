import type { ApiRoute, SandboxArea } from '../area.js';
import type { SandboxCore } from '../core.js';
import { SandboxApiError } from '../errcodes.js';
import { optObject, optString, utf8Length, type Json } from '../json-input.js';

/** A message a group's 消息推送 webhook accepted. */
export interface WebhookMessage {
  key: string;
  msgtype: string;
  content: string | undefined;
  body: Json;
  at: number;
}

const MSGTYPES = ['text', 'markdown', 'markdown_v2', 'image', 'news', 'file', 'voice', 'template_card'];
/** Content limits in bytes: text 2048, markdown and markdown_v2 4096 [D:99110]. */
const LIMIT: Record<string, number> = { text: 2048, markdown: 4096, markdown_v2: 4096 };
/** Messages per minute per webhook [D:99110]. */
const PER_MINUTE = 20;

/**
 * A group's 消息推送 webhook (formerly 群机器人) [D:99110]: `POST /cgi-bin/webhook/send?key=KEY` with no access token;
 * 20 messages a minute per webhook (45009 beyond, UNCONFIRMED code), 93000 for a key it does not know.
 */
export class WebhookArea implements SandboxArea {
  /** Messages accepted, in order. */
  readonly sent: WebhookMessage[] = [];
  private readonly recent = new Map<string, number[]>();

  constructor(
    private readonly core: SandboxCore,
    /** Webhook keys that exist; absent = any key. */
    private readonly keys: ReadonlySet<string> | undefined,
  ) {}

  readonly routes: Record<string, ApiRoute> = {
    'webhook/send': { body: true, noToken: true, run: (q, b) => this.apiSend(q, b) },
  };

  reset(): void {
    this.sent.length = 0;
    this.recent.clear();
  }

  /** POST webhook/send?key= {msgtype, <msgtype>: {...}}. */
  apiSend(query: Record<string, string>, body: Json): Json {
    const key = query.key;
    if (!key || (this.keys && !this.keys.has(key))) throw new SandboxApiError(93000, 'invalid webhook url');
    const msgtype = optString(body, 'msgtype');
    if (!msgtype || !MSGTYPES.includes(msgtype)) throw new SandboxApiError(40008);
    let content: string | undefined;
    if (LIMIT[msgtype]) {
      content = optString(optObject(body, msgtype) ?? {}, 'content');
      if (!content) throw new SandboxApiError(44004);
      // UNCONFIRMED: the errcode for content over the limit.
      if (utf8Length(content) > LIMIT[msgtype]!) throw new SandboxApiError(40058, `${msgtype}.content exceeds ${LIMIT[msgtype]} bytes`);
    }
    const now = this.core.now();
    const times = (this.recent.get(key) ?? []).filter((t) => now - t < 60_000);
    if (times.length >= PER_MINUTE) throw new SandboxApiError(45009, 'webhook sends more than 20 messages a minute');
    times.push(now);
    this.recent.set(key, times);
    this.sent.push({ key, msgtype, content, body, at: now });
    return {};
  }
}
