import { randomBytes } from 'node:crypto';
import { getSignature } from '@wecom/crypto';
import { decryptPayload } from '../../wecom/callback/crypto.js';
import type { ApiRoute, SandboxArea } from '../area.js';
import type { SandboxCallbackTarget, SandboxCore } from '../core.js';
import { SandboxApiError } from '../errcodes.js';
import { randomId } from '../ids.js';
import { isJsonObject, optObject, optString, utf8Length, type Json } from '../json-input.js';

/** An answer the robot posted to a response_url. */
export interface RobotResponse {
  code: string;
  /** The message whose response_url it was. */
  msgid: string;
  msgtype: string;
  content: string | undefined;
  body: Json;
  at: number;
}

/** One callback the sandbox sent the robot's URL, and what the bot answered. */
export interface RobotExchange {
  msgid: string;
  status: number;
  /** The decrypted passive reply (null for an empty body). */
  reply: Json | null;
  /** The raw body the bot answered with. */
  raw: string;
  /** The response_url's code, for a person's message. */
  responseCode: string | null;
  /** The message that was sent. */
  message: Json;
}

/** What a person writes to the robot. */
export interface RobotSay {
  text: string;
  userid?: string;
  /** Group chat id (default a sandbox group); null for a single chat with the robot. */
  chatid?: string | null;
  msgid?: string;
}

/** The stream content limit [D:101031] and the response_url's [D:101138], in bytes. */
const MARKDOWN_LIMIT = 20_480;
/** A response_url works once within an hour [D:101138]. */
const RESPONSE_URL_TTL_MS = 3_600_000;
export const SANDBOX_GROUP_CHAT = 'wrsandboxopsgroup';

/**
 * The 智能机器人 (intelligent robot) in API mode [D:100719, D:101031, D:101138]: people write to it in a group (the
 * content keeps "@运营助手 "), WeCom POSTs the signed, encrypted JSON callback to the bot's URL (receiveid "") and reads
 * the encrypted passive reply; each message carries a response_url that takes one POST (plain JSON) within an hour.
 * The errcode for a used or expired response_url is UNCONFIRMED: 40058 here.
 */
export class RobotArea implements SandboxArea {
  /** Where the robot's callbacks go: the bot's /wecom/robot and its Token and EncodingAESKey. */
  target: SandboxCallbackTarget | undefined;
  readonly aibotid = 'aibsandbox0001';
  readonly name = '运营助手';
  /** Answers accepted through response_urls, in order. */
  readonly responses: RobotResponse[] = [];
  /** Every callback sent and its reply. */
  readonly exchanges: RobotExchange[] = [];
  private readonly codes = new Map<string, { msgid: string; issuedAt: number; used: boolean }>();

  constructor(private readonly core: SandboxCore) {}

  readonly routes: Record<string, ApiRoute> = {
    'aibot/response': { body: true, noToken: true, run: (q, b) => this.apiRespond(q, b) },
  };

  reset(all: boolean): void {
    this.responses.length = 0;
    this.exchanges.length = 0;
    if (all) this.codes.clear();
  }

  /** POST aibot/response?response_code= {msgtype: markdown | template_card, ...}: once per code, within an hour. */
  apiRespond(query: Record<string, string>, body: Json): Json {
    const code = this.codes.get(query.response_code ?? '');
    if (!code) throw new SandboxApiError(40058, 'invalid response_code');
    if (code.used) throw new SandboxApiError(40058, 'response_url already used');
    if (this.core.now() - code.issuedAt > RESPONSE_URL_TTL_MS) throw new SandboxApiError(40058, 'response_url expired');
    const msgtype = optString(body, 'msgtype');
    let content: string | undefined;
    if (msgtype === 'markdown') {
      content = optString(optObject(body, 'markdown') ?? {}, 'content');
      if (!content) throw new SandboxApiError(44004);
      if (utf8Length(content) > MARKDOWN_LIMIT) throw new SandboxApiError(40058, `markdown.content exceeds ${MARKDOWN_LIMIT} bytes`);
    } else if (msgtype !== 'template_card' || !isJsonObject(body.template_card)) {
      throw new SandboxApiError(40008);
    }
    code.used = true;
    this.responses.push({ code: query.response_code!, msgid: code.msgid, msgtype, content, body, at: this.core.now() });
    return {};
  }

  /** The answer posted to a message's response_url, if any yet. */
  responseTo(msgid: string): RobotResponse | undefined {
    return this.responses.find((r) => r.msgid === msgid);
  }

  /** A person @mentions the robot in a group (or writes to it alone) [D:100719]. */
  async say(s: RobotSay): Promise<RobotExchange> {
    const msgid = s.msgid ?? randomBytes(18).toString('base64');
    const group = s.chatid !== null;
    return this.deliver({
      ...this.head(msgid, s.userid ?? 'zhangsan', group ? (s.chatid ?? SANDBOX_GROUP_CHAT) : null),
      response_url: this.issueResponseUrl(msgid),
      msgtype: 'text',
      text: { content: group ? `@${this.name} ${s.text}` : s.text },
    });
  }

  /** WeCom asking for the current content of a stream (a refresh callback: its own msgid, no response_url). */
  async refresh(streamId: string, userid = 'zhangsan'): Promise<RobotExchange> {
    return this.deliver({ ...this.head(randomBytes(18).toString('base64'), userid, SANDBOX_GROUP_CHAT), msgtype: 'stream', stream: { id: streamId } });
  }

  /** A response_url for a message (WeCom's shape: .../cgi-bin/aibot/response?response_code=...). */
  issueResponseUrl(msgid: string): string {
    const code = randomId('', 32);
    this.codes.set(code, { msgid, issuedAt: this.core.now(), used: false });
    return `${this.core.url}/cgi-bin/aibot/response?response_code=${code}`;
  }

  /**
   * POSTs a robot callback (signed, encrypted, receiveid "") to the bot and reads its reply as WeCom would: the
   * signature over the reply's `encrypt` is checked and the reply decrypted. Also for repeating a message (same msgid).
   */
  async deliver(message: Json): Promise<RobotExchange> {
    const target = this.target;
    if (!target) throw new Error('sandbox: the robot has no callback URL (set state.robot.target)');
    const { status, body } = await this.core.postCallbackJson(target, message);
    let reply: Json | null = null;
    if (status === 200 && body) {
      const env = JSON.parse(body) as { encrypt: string; msgsignature: string; timestamp: number; nonce: string };
      if (getSignature(target.token, String(env.timestamp), env.nonce, env.encrypt) !== env.msgsignature) throw new Error('sandbox: the passive reply is not signed with the robot token');
      reply = JSON.parse(decryptPayload({ token: target.token, encodingAesKey: target.encodingAesKey, receiveId: '' }, env.encrypt)) as Json;
    }
    const responseUrl = typeof message.response_url === 'string' ? message.response_url : null;
    const exchange: RobotExchange = { msgid: String(message.msgid), status, reply, raw: body, responseCode: responseUrl ? new URL(responseUrl).searchParams.get('response_code') : null, message };
    this.exchanges.push(exchange);
    return exchange;
  }

  private head(msgid: string, userid: string, chatid: string | null): Json {
    return { msgid, aibotid: this.aibotid, ...(chatid ? { chatid } : {}), chattype: chatid ? 'group' : 'single', from: { userid } };
  }
}
