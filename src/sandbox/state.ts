/**
 * In-memory state of the sandbox WeCom and the platform's domain rules (tokens, customers, tags, welcome codes,
 * 联系我, messages). API methods take WeCom's JSON shapes and return the reply fields, throwing SandboxApiError
 * for an errcode; the server adds `errcode: 0, errmsg: 'ok'`.
 */
import { randomInt } from 'node:crypto';
import { buildEncryptedCallback, toQueryString } from '../wecom/callback/crypto.js';
import { buildContactEventXml, type ContactEvent } from './callback-xml.js';
import { SandboxApiError } from './errcodes.js';
import {
  charLength,
  isJsonObject,
  optArray,
  optBool,
  optNumber,
  optObject,
  optString,
  optStringArray,
  utf8Length,
  type Json,
} from './json-input.js';

/** Where and how the sandbox POSTs encrypted callbacks (the bot's 客户联系 callback URL and its secrets). */
export interface SandboxCallbackTarget {
  url: string;
  token: string;
  encodingAesKey: string;
}

/** Options of the in-memory WeCom; see SandboxOptions in server.ts for the HTTP ones. */
export interface SandboxStateOptions {
  corpId: string;
  /** corpsecrets accepted by gettoken (one token per secret). */
  secrets: string[];
  /** default 7200 [D:91039]. */
  tokenTtlSeconds?: number;
  /** default 20000: a WelcomeCode is valid 20 s, once [D:92137]. */
  welcomeCodeTtlMs?: number;
  callback?: SandboxCallbackTarget;
  /** api path (e.g. 'externalcontact/mark_tag') -> max calls per fixed 1-second window; over -> 45009. */
  rateLimits?: Record<string, number>;
  /** Clock (ms), default Date.now. Drives tokens, welcome codes, rate windows, CreateTime and callback timestamps. */
  now?: () => number;
  /** userids message/send accepts; absent = every userid is a valid member. */
  members?: string[];
  /** open_kfids kf/send_msg accepts; absent = any non-empty open_kfid. */
  kfAccounts?: string[];
  /** Corp mass messages one customer can receive per calendar month, default 4 (UNCONFIRMED: 4/month vs 1/day) [D:92135]. */
  massMsgMonthlyCap?: number;
  /** How long scan()/postContactEvent() wait for the bot; WeCom drops the connection after 5 s [D:90930]. */
  callbackTimeoutMs?: number;
}

/** One request the sandbox received (failed ones included). */
export interface CallRecord {
  /** Path after /cgi-bin/, e.g. 'externalcontact/send_welcome_msg'; the raw path for unknown routes. */
  api: string;
  /** Clock time the request arrived (ms). */
  at: number;
  query: Record<string, string>;
  /** Parsed JSON body; the raw text when it was not JSON; undefined when empty. */
  body: unknown;
  /** errcode answered; -1 when an injected httpStatus fault answered with no JSON; NaN while still in flight. */
  errcode: number;
  /** HTTP status answered (200 for every errcode reply); 0 while still in flight. */
  httpStatus: number;
}

/** A fault for the next `times` calls to `api`; errcode -> `{errcode, errmsg}` with HTTP 200, httpStatus -> non-JSON body. */
export interface SandboxFault {
  api: string;
  errcode?: number;
  httpStatus?: number;
  /** Delay before processing; alone, the call is then processed normally. */
  delayMs?: number;
  /** Process the call normally, then hold the answer this long: the call took effect but the client may time out. */
  delayAfterMs?: number;
  /** default 1; Infinity allowed. */
  times?: number;
}

/** An external contact (customer) [D:92114]. */
export interface ExternalContact {
  externalUserId: string;
  name: string;
  /** 1 WeChat user, 2 WeCom user. */
  type: 1 | 2;
  gender: 0 | 1 | 2;
  avatar: string;
  corpName?: string;
  unionid?: string;
}

/** A follow_user relationship between a member and a customer [D:92114]. */
export interface FollowUser {
  userId: string;
  externalUserId: string;
  remark: string;
  description: string;
  /** seconds */
  createtime: number;
  state?: string;
  addWay: number;
  operUserId: string;
  tagIds: string[];
}

/** A corp tag on a relationship, as in externalcontact/get's follow_user.tags [D:92114]. */
export interface FollowUserTag {
  group_name: string;
  tag_name: string;
  /** 1 = corp tag */
  type: 1;
  tag_id: string;
}

/** A WelcomeCode issued with an add_external_contact event. */
export interface WelcomeCodeGrant {
  code: string;
  userId: string;
  externalUserId: string;
  issuedAt: number;
  usedAt?: number;
}

/** A corp tag [D:92117]. */
export interface CorpTag {
  id: string;
  name: string;
  /** seconds */
  createTime: number;
  order: number;
}

/** A corp tag group with its tags [D:92117]. */
export interface CorpTagGroup {
  groupId: string;
  groupName: string;
  /** seconds */
  createTime: number;
  order: number;
  tags: CorpTag[];
}

/** A 联系我 configuration, stored in WeCom's own shape so get_contact_way can echo it [D:92228]. */
export interface ContactWay {
  config_id: string;
  type: 1 | 2;
  scene: 1 | 2;
  style?: number;
  remark?: string;
  skip_verify: boolean;
  state?: string;
  user: string[];
  party: number[];
  is_temp: boolean;
  expires_in?: number;
  chat_expires_in?: number;
  unionid?: string;
  conclusions?: unknown;
  qr_code?: string;
}

/** A welcome message accepted by send_welcome_msg. */
export interface WelcomeSent {
  welcomeCode: string;
  userId: string;
  externalUserId: string;
  /** text.content, if any. */
  text: string | undefined;
  attachments: unknown[];
  at: number;
}

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
}

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

/** Input of addCustomer. */
export interface AddCustomerOptions {
  externalUserId?: string;
  name: string;
  /** 1 WeChat (default), 2 WeCom. */
  type?: 1 | 2;
  gender?: 0 | 1 | 2;
  corpName?: string;
  /** The member (owner) the customer adds. */
  userId: string;
  /** The 联系我 `state` of the QR code scanned. */
  state?: string;
  /** Only used by scan(): the event becomes add_half_external_contact [D:92130]. */
  skipVerify?: boolean;
  /** follow_user.add_way, default 1 (scanned a QR code). */
  addWay?: number;
}

/** Result of scan(). */
export interface ScanResult {
  externalUserId: string;
  welcomeCode: string;
  /** HTTP status the bot answered the callback with. */
  status: number;
}

interface IssuedToken {
  token: string;
  secret: string;
  expiresAt: number;
  revoked: boolean;
}

interface QueuedFault extends SandboxFault {
  remaining: number;
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const ATTACHMENT_TYPES = ['image', 'link', 'miniprogram', 'video', 'file'];
const APP_MSG_TYPES = ['text', 'markdown', 'image', 'voice', 'video', 'file', 'textcard', 'news', 'mpnews', 'miniprogram_notice', 'template_card'];
/** The corp tag quota; 40126 says 3000 [D:90313] (wecom-api.md: UNCONFIRMED 3000 or 10000). */
const CORP_TAG_LIMIT = 3000;
const KF_WINDOW_MS = 48 * 3600 * 1000;
const KF_MAX_PER_WINDOW = 5;

/** A random id in WeCom's style: prefix + alphanumerics. */
function randomId(prefix: string, length: number): string {
  let s = prefix;
  for (let i = 0; i < length; i++) s += ALNUM[randomInt(ALNUM.length)];
  return s;
}

/** Map key of a (member, customer) relationship. */
function relKey(userId: string, externalUserId: string): string {
  return `${userId}\u0000${externalUserId}`;
}

/** Truncates to at most `max` UTF-8 bytes without splitting a character. */
function truncateUtf8(s: string, max: number): string {
  if (utf8Length(s) <= max) return s;
  return Buffer.from(s, 'utf8').subarray(0, max).toString('utf8').replace(/\uFFFD+$/, '');
}

/** Validates a message `attachments` list (≤ 9, each `{msgtype, <msgtype>: {...}}`) [D:92137]. */
function checkAttachments(list: unknown[] | undefined): unknown[] {
  const attachments = list ?? [];
  if (attachments.length > 9) throw new SandboxApiError(40058, 'at most 9 attachments');
  for (const a of attachments) {
    // UNCONFIRMED: WeCom may answer 41065 (invalid attachment type) rather than 40058 here.
    if (!isJsonObject(a) || typeof a.msgtype !== 'string' || !ATTACHMENT_TYPES.includes(a.msgtype) || !isJsonObject(a[a.msgtype])) {
      throw new SandboxApiError(40058, 'invalid attachment');
    }
  }
  return attachments;
}

/** Reads `text.content` of a message body. */
function textContent(body: Json): string | undefined {
  const text = optObject(body, 'text');
  return text ? optString(text, 'content') : undefined;
}

/** Reads an offset cursor ('' or absent = start). */
function cursorOffset(body: Json): number {
  const cursor = optString(body, 'cursor');
  if (cursor === undefined) return 0;
  const n = Number(cursor);
  if (!Number.isInteger(n) || n < 0) throw new SandboxApiError(40058, 'invalid cursor');
  return n;
}

/** The in-memory WeCom corp: data, the calls it received, injected faults and the domain rules. */
export class SandboxState {
  readonly corpId: string;
  readonly now: () => number;
  /** Mutable so a dev CLI can point the sandbox at the bot once the bot is up. */
  callback: SandboxCallbackTarget | undefined;
  /** Mutable: api path -> max calls per second. */
  rateLimits: Record<string, number>;

  /** Every request received, in arrival order (recorded on arrival, completed when answered). */
  readonly calls: CallRecord[] = [];
  readonly customers = new Map<string, ExternalContact>();
  /** follow_user relationships keyed by member + customer. */
  readonly relationships = new Map<string, FollowUser>();
  readonly welcomeCodes = new Map<string, WelcomeCodeGrant>();
  readonly corpTags: CorpTagGroup[] = [];
  /** 联系我 configurations keyed by config_id. */
  readonly contactWays = new Map<string, ContactWay>();
  readonly welcomesSent: WelcomeSent[] = [];
  readonly messagesSent: AppMessageSent[] = [];
  /** Mass messages keyed by msgid. */
  readonly groupMsgs = new Map<string, GroupMsg>();
  readonly kfMessagesSent: KfMessageSent[] = [];

  private readonly secrets: readonly string[];
  private readonly tokenTtlMs: number;
  private readonly welcomeCodeTtlMs: number;
  private readonly members: ReadonlySet<string> | undefined;
  private readonly kfAccounts: ReadonlySet<string> | undefined;
  private readonly massMsgMonthlyCap: number;
  private readonly callbackTimeoutMs: number;
  private readonly tokens = new Map<string, IssuedToken>();
  private readonly tokenBySecret = new Map<string, string>();
  private faults: QueuedFault[] = [];
  private readonly rateWindows = new Map<string, { window: number; count: number }>();
  private readonly kfSessions = new Map<string, { lastCustomerMsgAt: number; sent: number }>();

  constructor(opts: SandboxStateOptions) {
    this.corpId = opts.corpId;
    this.secrets = [...opts.secrets];
    this.tokenTtlMs = (opts.tokenTtlSeconds ?? 7200) * 1000;
    this.welcomeCodeTtlMs = opts.welcomeCodeTtlMs ?? 20_000;
    this.callback = opts.callback;
    this.rateLimits = { ...opts.rateLimits };
    this.now = opts.now ?? Date.now;
    this.members = opts.members ? new Set(opts.members) : undefined;
    this.kfAccounts = opts.kfAccounts ? new Set(opts.kfAccounts) : undefined;
    this.massMsgMonthlyCap = opts.massMsgMonthlyCap ?? 4;
    this.callbackTimeoutMs = opts.callbackTimeoutMs ?? 5000;
  }

  // ---------------------------------------------------------------- calls, faults, limits, reset

  /** Appends a call record (the server does this on arrival of every request). */
  record(call: CallRecord): void {
    this.calls.push(call);
  }

  /** Every call to `api` (path after /cgi-bin/). */
  callsTo(api: string): CallRecord[] {
    return this.calls.filter((c) => c.api === api);
  }

  /** Calls to `api` answered with errcode 0. */
  okCallsTo(api: string): CallRecord[] {
    return this.calls.filter((c) => c.api === api && c.errcode === 0);
  }

  /** Queues a fault for the next `times` (default 1) calls to `fault.api`; faults are consumed in order. */
  inject(fault: SandboxFault): void {
    const times = fault.times ?? 1;
    if (fault.errcode === undefined && fault.httpStatus === undefined && fault.delayMs === undefined && fault.delayAfterMs === undefined) {
      throw new Error('sandbox inject: give errcode, httpStatus, delayMs or delayAfterMs');
    }
    if (!(times > 0)) throw new Error('sandbox inject: times must be > 0');
    this.faults.push({ ...fault, remaining: times });
  }

  /** Takes the next queued fault for `api`, if any. */
  takeFault(api: string): SandboxFault | undefined {
    const i = this.faults.findIndex((f) => f.api === api);
    const fault = this.faults[i];
    if (!fault) return undefined;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.faults.splice(i, 1);
    return fault;
  }

  /** Counts a call against `api`'s fixed 1-second window; true when over the configured limit (-> 45009). */
  hitRateLimit(api: string): boolean {
    const limit = this.rateLimits[api];
    if (limit === undefined) return false;
    const window = Math.floor(this.now() / 1000);
    const w = this.rateWindows.get(api);
    if (!w || w.window !== window) {
      this.rateWindows.set(api, { window, count: 1 });
      return 1 > limit;
    }
    w.count += 1;
    return w.count > limit;
  }

  /**
   * Clears calls, faults, rate windows and the sent lists (welcomes, app, mass and kf messages). With `all`, also
   * tokens, customers, relationships, welcome codes, tags, contact ways and kf sessions: a brand-new corp.
   */
  reset(opts: { all?: boolean } = {}): void {
    this.calls.length = 0;
    this.faults = [];
    this.rateWindows.clear();
    this.welcomesSent.length = 0;
    this.messagesSent.length = 0;
    this.groupMsgs.clear();
    this.kfMessagesSent.length = 0;
    if (!opts.all) return;
    this.tokens.clear();
    this.tokenBySecret.clear();
    this.customers.clear();
    this.relationships.clear();
    this.welcomeCodes.clear();
    this.corpTags.length = 0;
    this.contactWays.clear();
    this.kfSessions.clear();
  }

  // ---------------------------------------------------------------- access tokens [D:91039]

  /** Makes every issued token invalid: calls with them get 42001, and gettoken issues new ones. */
  expireTokens(): void {
    for (const t of this.tokens.values()) t.revoked = true;
  }

  /** Throws 41001 (missing), 40014 (unknown) or 42001 (expired) unless `access_token` is valid. */
  checkAccessToken(query: Record<string, string>): void {
    const token = query.access_token;
    if (!token) throw new SandboxApiError(41001);
    const t = this.tokens.get(token);
    if (!t) throw new SandboxApiError(40014);
    if (t.revoked || this.now() >= t.expiresAt) throw new SandboxApiError(42001);
  }

  /** GET gettoken: within validity the same token comes back (with the remaining expires_in) [D:91039]. */
  apiGetToken(query: Record<string, string>): Json {
    const corpid = query.corpid;
    if (!corpid) throw new SandboxApiError(41002);
    if (corpid !== this.corpId) throw new SandboxApiError(40013);
    const secret = query.corpsecret;
    if (!secret) throw new SandboxApiError(41004);
    if (!this.secrets.includes(secret)) throw new SandboxApiError(40001);
    const now = this.now();
    const current = this.tokens.get(this.tokenBySecret.get(secret) ?? '');
    if (current && !current.revoked && now < current.expiresAt) {
      return { access_token: current.token, expires_in: Math.ceil((current.expiresAt - now) / 1000) };
    }
    const token = randomId('', 64);
    this.tokens.set(token, { token, secret, expiresAt: now + this.tokenTtlMs, revoked: false });
    this.tokenBySecret.set(secret, token);
    return { access_token: token, expires_in: Math.round(this.tokenTtlMs / 1000) };
  }

  // ---------------------------------------------------------------- customers and callbacks

  /** Creates the customer (if new) and the follow_user relationship, and issues a fresh WelcomeCode for them. */
  addCustomer(opts: AddCustomerOptions): { externalUserId: string; welcomeCode: string } {
    const externalUserId = opts.externalUserId ?? randomId('wm', 30);
    const existing = this.customers.get(externalUserId);
    this.customers.set(externalUserId, {
      externalUserId,
      name: opts.name,
      type: opts.type ?? existing?.type ?? 1,
      gender: opts.gender ?? existing?.gender ?? 0,
      avatar: existing?.avatar ?? `https://wework.qpic.cn/sandbox/avatar/${externalUserId}.png`,
      corpName: opts.corpName ?? existing?.corpName,
      unionid: existing?.unionid,
    });
    this.relationships.set(relKey(opts.userId, externalUserId), {
      userId: opts.userId,
      externalUserId,
      remark: '',
      description: '',
      createtime: Math.floor(this.now() / 1000),
      state: opts.state,
      addWay: opts.addWay ?? 1,
      // The customer initiated the add, so oper_userid is the customer's id [D:92114].
      operUserId: externalUserId,
      tagIds: [],
    });
    return { externalUserId, welcomeCode: this.issueWelcomeCode(opts.userId, externalUserId) };
  }

  /** Issues a WelcomeCode for (userId, externalUserId), valid welcomeCodeTtlMs from now, once [D:92137]. */
  issueWelcomeCode(userId: string, externalUserId: string): string {
    const code = randomId('', 43);
    this.welcomeCodes.set(code, { code, userId, externalUserId, issuedAt: this.now() });
    return code;
  }

  /** Deletes the relationship silently (no callback); true if it existed. */
  removeRelationship(userId: string, externalUserId: string): boolean {
    return this.relationships.delete(relKey(userId, externalUserId));
  }

  /** The relationship of a member and a customer, if any. */
  relationship(userId: string, externalUserId: string): FollowUser | undefined {
    return this.relationships.get(relKey(userId, externalUserId));
  }

  /** Tags on the relationship, shaped like externalcontact/get's follow_user.tags ([] when there is none). */
  tagsOf(userId: string, externalUserId: string): FollowUserTag[] {
    return (this.relationship(userId, externalUserId)?.tagIds ?? []).flatMap((tagId) => {
      const group = this.corpTags.find((g) => g.tags.some((t) => t.id === tagId));
      const tag = group?.tags.find((t) => t.id === tagId);
      return group && tag ? [{ group_name: group.groupName, tag_name: tag.name, type: 1 as const, tag_id: tag.id }] : [];
    });
  }

  /** Finds a corp tag by group name and tag name. */
  findTag(groupName: string, tagName: string): CorpTag | undefined {
    return this.corpTags.find((g) => g.groupName === groupName)?.tags.find((t) => t.name === tagName);
  }

  /** A customer scans a 联系我 QR code: addCustomer, then POST the encrypted add_external_contact callback. */
  async scan(opts: AddCustomerOptions): Promise<ScanResult> {
    const { externalUserId, welcomeCode } = this.addCustomer(opts);
    const status = await this.postContactEvent({
      changeType: opts.skipVerify ? 'add_half_external_contact' : 'add_external_contact',
      userId: opts.userId,
      externalUserId,
      state: opts.state,
      welcomeCode,
    });
    return { externalUserId, welcomeCode, status };
  }

  /** The customer deletes the member (churn): drops the relationship and posts del_follow_user. */
  async customerDeletesMember(userId: string, externalUserId: string): Promise<number> {
    this.removeRelationship(userId, externalUserId);
    return this.postContactEvent({ changeType: 'del_follow_user', userId, externalUserId });
  }

  /** POSTs a change_external_contact event to the callback URL; CreateTime defaults to the clock. Returns the HTTP status. */
  async postContactEvent(e: Omit<ContactEvent, 'toUserName' | 'createTime'> & { createTime?: number }): Promise<number> {
    const xml = buildContactEventXml({ ...e, toUserName: this.corpId, createTime: e.createTime ?? Math.floor(this.now() / 1000) });
    return this.postCallbackXml(xml);
  }

  /** Encrypts, signs and POSTs any plaintext callback XML as WeCom does [D:90968]; returns the HTTP status. */
  async postCallbackXml(xml: string): Promise<number> {
    const cb = this.callback;
    if (!cb) throw new Error('sandbox: no callback configured (pass callback to startSandbox or set state.callback)');
    const { query, body } = buildEncryptedCallback(
      { token: cb.token, encodingAesKey: cb.encodingAesKey, receiveId: this.corpId },
      xml,
      { timestamp: Math.floor(this.now() / 1000) },
    );
    const url = `${cb.url}${cb.url.includes('?') ? '&' : '?'}${toQueryString(query)}`;
    // No retries: WeCom retries unanswered callbacks, but tests want one delivery per call; call again to retry.
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'text/xml' },
      body,
      signal: AbortSignal.timeout(this.callbackTimeoutMs),
    });
    await res.text();
    return res.status;
  }

  /** Shapes a customer as external_contact [D:92114]. */
  private externalContactJson(c: ExternalContact): Json {
    return {
      external_userid: c.externalUserId,
      name: c.name,
      avatar: c.avatar,
      type: c.type,
      gender: c.gender,
      ...(c.unionid !== undefined ? { unionid: c.unionid } : {}),
      ...(c.type === 2 && c.corpName !== undefined ? { corp_name: c.corpName } : {}),
    };
  }

  /** Relationships of a customer, in creation order. */
  private followUsersOf(externalUserId: string): FollowUser[] {
    return [...this.relationships.values()].filter((r) => r.externalUserId === externalUserId);
  }

  /** GET externalcontact/get [D:92114]. Unknown id -> 40096; known but followed by nobody -> 84061 (UNCONFIRMED). */
  apiGetExternalContact(query: Record<string, string>): Json {
    const id = query.external_userid;
    if (!id) throw new SandboxApiError(41035);
    const c = this.customers.get(id);
    if (!c) throw new SandboxApiError(40096);
    const follows = this.followUsersOf(id);
    if (follows.length === 0) throw new SandboxApiError(84061);
    return {
      external_contact: this.externalContactJson(c),
      follow_user: follows.map((r) => ({
        userid: r.userId,
        remark: r.remark,
        description: r.description,
        createtime: r.createtime,
        tags: this.tagsOf(r.userId, r.externalUserId),
        remark_mobiles: [],
        add_way: r.addWay,
        ...(r.state !== undefined ? { state: r.state } : {}),
        oper_userid: r.operUserId,
      })),
    };
  }

  /** GET externalcontact/list?userid= -> external_userid[]; a member with no customers -> 84061. */
  apiListExternalContacts(query: Record<string, string>): Json {
    const userId = query.userid;
    if (!userId) throw new SandboxApiError(41009);
    const ids = [...this.relationships.values()].filter((r) => r.userId === userId).map((r) => r.externalUserId);
    if (ids.length === 0) throw new SandboxApiError(84061);
    return { external_userid: ids };
  }

  /** POST externalcontact/batch/get_by_user {userid_list(≤100), cursor, limit(≤100)} [D:92114]. */
  apiBatchGetByUser(body: Json): Json {
    const users = optStringArray(body, 'userid_list') ?? [];
    if (users.length === 0) throw new SandboxApiError(41009);
    if (users.length > 100) throw new SandboxApiError(40058, 'userid_list exceeds 100');
    const limit = optNumber(body, 'limit') ?? 50;
    if (limit < 1 || limit > 100) throw new SandboxApiError(40058, 'limit must be 1..100');
    const offset = cursorOffset(body);
    const all = [...this.relationships.values()].filter((r) => users.includes(r.userId));
    const page = all.slice(offset, offset + limit);
    return {
      external_contact_list: page.flatMap((r) => {
        const c = this.customers.get(r.externalUserId);
        return c
          ? [
              {
                external_contact: this.externalContactJson(c),
                follow_info: {
                  userid: r.userId,
                  remark: r.remark,
                  description: r.description,
                  createtime: r.createtime,
                  tag_id: [...r.tagIds],
                  remark_mobiles: [],
                  oper_userid: r.operUserId,
                  add_way: r.addWay,
                  ...(r.state !== undefined ? { state: r.state } : {}),
                },
              },
            ]
          : [];
      }),
      next_cursor: offset + limit < all.length ? String(offset + limit) : '',
    };
  }

  // ---------------------------------------------------------------- tags [D:92117]

  /** POST externalcontact/mark_tag: 40096 unknown customer, 84061 no relationship, 40068 unknown tag; idempotent. */
  apiMarkTag(body: Json): Json {
    const userId = optString(body, 'userid');
    if (!userId) throw new SandboxApiError(41009);
    const externalUserId = optString(body, 'external_userid');
    if (!externalUserId) throw new SandboxApiError(41035);
    const add = optStringArray(body, 'add_tag') ?? [];
    const remove = optStringArray(body, 'remove_tag') ?? [];
    if (add.length === 0 && remove.length === 0) throw new SandboxApiError(40058, 'add_tag and remove_tag are both empty');
    if (!this.customers.has(externalUserId)) throw new SandboxApiError(40096);
    const rel = this.relationship(userId, externalUserId);
    if (!rel) throw new SandboxApiError(84061);
    const known = new Set(this.corpTags.flatMap((g) => g.tags.map((t) => t.id)));
    const unknown = [...add, ...remove].find((id) => !known.has(id));
    if (unknown !== undefined) throw new SandboxApiError(40068, `invalid tagid ${unknown}`);
    for (const id of add) if (!rel.tagIds.includes(id)) rel.tagIds.push(id);
    rel.tagIds = rel.tagIds.filter((id) => !remove.includes(id));
    return {};
  }

  /** POST externalcontact/get_corp_tag_list: group_id wins over tag_id; both empty = all [D:92117]. */
  apiGetCorpTagList(body: Json): Json {
    const tagIds = optStringArray(body, 'tag_id') ?? [];
    const groupIds = optStringArray(body, 'group_id') ?? [];
    let groups: CorpTagGroup[];
    if (groupIds.length > 0) {
      groups = this.corpTags.filter((g) => groupIds.includes(g.groupId));
    } else if (tagIds.length > 0) {
      groups = this.corpTags
        .map((g) => ({ ...g, tags: g.tags.filter((t) => tagIds.includes(t.id)) }))
        .filter((g) => g.tags.length > 0);
    } else {
      groups = this.corpTags;
    }
    return {
      tag_group: groups.map((g) => ({
        group_id: g.groupId,
        group_name: g.groupName,
        create_time: g.createTime,
        order: g.order,
        deleted: false,
        tag: g.tags.map((t) => ({ id: t.id, name: t.name, create_time: t.createTime, order: t.order, deleted: false })),
      })),
    };
  }

  /**
   * Adds tags into the group `groupId`, or into the group named `groupName` (created if new) [D:92117].
   * Also usable directly to seed tags. Throws 40058 / 40068 / 40071 / 40126 like add_corp_tag.
   */
  addCorpTags(input: { groupId?: string; groupName?: string; order?: number; tags: Array<{ name: string; order?: number }> }): {
    group: CorpTagGroup;
    added: CorpTag[];
  } {
    if (input.tags.length === 0) throw new SandboxApiError(40058, 'tag is empty');
    const createTime = Math.floor(this.now() / 1000);
    let group: CorpTagGroup | undefined;
    if (input.groupId !== undefined) {
      group = this.corpTags.find((g) => g.groupId === input.groupId);
      // UNCONFIRMED: the errcode for an unknown group_id; 40068 (invalid tag id) is the nearest documented one.
      if (!group) throw new SandboxApiError(40068, 'invalid group_id');
    } else {
      const name = input.groupName;
      if (!name) throw new SandboxApiError(40058, 'group_id or group_name is required');
      if (charLength(name) > 30) throw new SandboxApiError(40058, 'group_name exceeds 30 characters');
      group = this.corpTags.find((g) => g.groupName === name);
    }
    const seen = new Set(group?.tags.map((t) => t.name));
    for (const t of input.tags) {
      if (!t.name || charLength(t.name) > 30) throw new SandboxApiError(40058, 'tag name must be 1..30 characters');
      // UNCONFIRMED: 40071 is the global "tag name already exists" code; add_corp_tag's own code is not documented.
      if (seen.has(t.name)) throw new SandboxApiError(40071, `tag ${t.name} already exists`);
      seen.add(t.name);
    }
    const total = this.corpTags.reduce((n, g) => n + g.tags.length, 0);
    if (total + input.tags.length > CORP_TAG_LIMIT) throw new SandboxApiError(40126);
    if (!group) {
      group = { groupId: randomId('et', 30), groupName: input.groupName ?? '', createTime, order: input.order ?? 0, tags: [] };
      this.corpTags.push(group);
    }
    const added = input.tags.map((t) => ({ id: randomId('et', 30), name: t.name, createTime, order: t.order ?? 0 }));
    group.tags.push(...added);
    return { group, added };
  }

  /** POST externalcontact/add_corp_tag; the reply lists only the tags just created. */
  apiAddCorpTag(body: Json): Json {
    const tags = (optArray(body, 'tag') ?? []).map((t) => {
      if (!isJsonObject(t)) throw new SandboxApiError(40058, 'tag items must be objects');
      return { name: optString(t, 'name') ?? '', order: optNumber(t, 'order') };
    });
    const { group, added } = this.addCorpTags({
      groupId: optString(body, 'group_id'),
      groupName: optString(body, 'group_name'),
      order: optNumber(body, 'order'),
      tags,
    });
    return {
      tag_group: {
        group_id: group.groupId,
        group_name: group.groupName,
        create_time: group.createTime,
        order: group.order,
        tag: added.map((t) => ({ id: t.id, name: t.name, create_time: t.createTime, order: t.order })),
      },
    };
  }

  // ---------------------------------------------------------------- welcome message [D:92137]

  /** POST externalcontact/send_welcome_msg: 41049 missing, 41050 unknown or expired, 41051 used, 40058 bad content. */
  apiSendWelcomeMsg(body: Json): Json {
    const code = optString(body, 'welcome_code');
    if (!code) throw new SandboxApiError(41049);
    const text = textContent(body);
    const attachments = checkAttachments(optArray(body, 'attachments'));
    if (text !== undefined && utf8Length(text) > 4000) throw new SandboxApiError(40058, 'text.content exceeds 4000 bytes');
    if (text === undefined && attachments.length === 0) throw new SandboxApiError(40058, 'text and attachments are both empty');
    const grant = this.welcomeCodes.get(code);
    if (!grant) throw new SandboxApiError(41050);
    if (grant.usedAt !== undefined) throw new SandboxApiError(41051);
    // UNCONFIRMED: the code for an expired (> 20 s) welcome_code; the docs only say it is valid 20 s, so "invalid".
    if (this.now() - grant.issuedAt > this.welcomeCodeTtlMs) throw new SandboxApiError(41050, 'welcome_code expired');
    grant.usedAt = this.now();
    this.welcomesSent.push({ welcomeCode: code, userId: grant.userId, externalUserId: grant.externalUserId, text, attachments, at: grant.usedAt });
    return {};
  }

  // ---------------------------------------------------------------- 联系我 [D:92228]

  /** Validates the fields add_ and update_contact_way share, writing them into `way`. */
  private applyContactWayFields(way: ContactWay, body: Json): void {
    const state = optString(body, 'state');
    if (state !== undefined && charLength(state) > 30) throw new SandboxApiError(40058, 'state exceeds 30 characters');
    const remark = optString(body, 'remark');
    if (remark !== undefined && charLength(remark) > 30) throw new SandboxApiError(40058, 'remark exceeds 30 characters');
    const user = optStringArray(body, 'user');
    const partyRaw = optArray(body, 'party');
    if (partyRaw && !partyRaw.every((p) => Number.isInteger(p))) throw new SandboxApiError(40058, 'party must be integers');
    const party = partyRaw as number[] | undefined;
    if ((user ?? way.user).length > 100) throw new SandboxApiError(41041);
    const nextUser = user ?? way.user;
    const nextParty = party ?? way.party;
    // UNCONFIRMED: the errcode for a bad member list; 单人 (type 1) takes exactly one user, 多人 at least one user/party.
    if (way.type === 1 && (nextUser.length !== 1 || nextParty.length > 0)) throw new SandboxApiError(40058, 'type 1 takes exactly one user');
    if (way.type === 2 && nextUser.length + nextParty.length === 0) throw new SandboxApiError(40058, 'user or party is required');
    way.user = [...nextUser];
    way.party = [...nextParty];
    if (state !== undefined) way.state = state;
    if (remark !== undefined) way.remark = remark;
    const style = optNumber(body, 'style');
    if (style !== undefined) way.style = style;
    const skipVerify = optBool(body, 'skip_verify');
    if (skipVerify !== undefined) way.skip_verify = skipVerify;
    const expiresIn = optNumber(body, 'expires_in');
    if (expiresIn !== undefined) way.expires_in = expiresIn;
    const chatExpiresIn = optNumber(body, 'chat_expires_in');
    if (chatExpiresIn !== undefined) way.chat_expires_in = chatExpiresIn;
    const unionid = optString(body, 'unionid');
    if (unionid !== undefined) way.unionid = unionid;
    if (body.conclusions !== undefined) way.conclusions = body.conclusions;
  }

  /** POST externalcontact/add_contact_way -> {config_id, qr_code (scene 2 only)}. */
  apiAddContactWay(body: Json): Json {
    const type = optNumber(body, 'type');
    if (type === undefined) throw new SandboxApiError(41037);
    if (type !== 1 && type !== 2) throw new SandboxApiError(41039);
    const scene = optNumber(body, 'scene');
    if (scene === undefined) throw new SandboxApiError(41038);
    if (scene !== 1 && scene !== 2) throw new SandboxApiError(41040);
    const configId = randomId('', 32).toLowerCase();
    const isTemp = optBool(body, 'is_temp') ?? false;
    const way: ContactWay = { config_id: configId, type, scene, skip_verify: true, user: [], party: [], is_temp: isTemp };
    if (isTemp) {
      way.expires_in = 7 * 86400;
      way.chat_expires_in = 86400;
    }
    this.applyContactWayFields(way, body);
    if (scene === 2) way.qr_code = `https://wework.qpic.cn/sandbox/${configId}.png`;
    this.contactWays.set(configId, way);
    return { config_id: configId, ...(way.qr_code ? { qr_code: way.qr_code } : {}) };
  }

  /** Finds a contact way by body.config_id: 41043 missing, 41044 unknown. */
  private contactWayOf(body: Json): ContactWay {
    const configId = optString(body, 'config_id');
    if (!configId) throw new SandboxApiError(41043);
    const way = this.contactWays.get(configId);
    // 41044 means "invalid 联系我 config_id" in the global table [D:90313]; UNCONFIRMED that update/get answer it for unknown ids.
    if (!way) throw new SandboxApiError(41044);
    return way;
  }

  /** POST externalcontact/update_contact_way: only the fields given change; type and scene are fixed. */
  apiUpdateContactWay(body: Json): Json {
    const way = this.contactWayOf(body);
    const draft: ContactWay = { ...way, user: [...way.user], party: [...way.party] };
    this.applyContactWayFields(draft, body);
    this.contactWays.set(way.config_id, draft);
    return {};
  }

  /** POST externalcontact/get_contact_way -> {contact_way}. */
  apiGetContactWay(body: Json): Json {
    return { contact_way: structuredClone(this.contactWayOf(body)) };
  }

  /** POST externalcontact/del_contact_way. */
  apiDelContactWay(body: Json): Json {
    this.contactWays.delete(this.contactWayOf(body).config_id);
    return {};
  }

  /** POST externalcontact/list_contact_way {cursor, limit ≤ 1000} -> {contact_way:[{config_id}], next_cursor}. */
  apiListContactWay(body: Json): Json {
    const limit = optNumber(body, 'limit') ?? 100;
    if (limit < 1 || limit > 1000) throw new SandboxApiError(40058, 'limit must be 1..1000');
    const offset = cursorOffset(body);
    const ids = [...this.contactWays.keys()];
    return {
      contact_way: ids.slice(offset, offset + limit).map((id) => ({ config_id: id })),
      next_cursor: offset + limit < ids.length ? String(offset + limit) : '',
    };
  }

  // ---------------------------------------------------------------- app messages

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
    this.messagesSent.push({ msgid, touser: valid, toparty, totag, msgtype, agentid, content, body, at: this.now() });
    return { invaliduser: invalid.join('|'), msgid };
  }

  // ---------------------------------------------------------------- mass messages [D:92135]

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
      const ids = externalIds.length > 0 ? externalIds : [...this.relationships.values()].filter((r) => r.userId === sender).map((r) => r.externalUserId);
      for (const ext of ids) {
        const owners = this.followUsersOf(ext).filter((r) => sender === undefined || r.userId === sender);
        if (owners.length === 0) failList.push(ext);
        for (const r of owners) targets.push({ userId: r.userId, externalUserId: ext, status: 0 });
      }
      if (targets.length === 0) throw new SandboxApiError(41048);
    }
    const msgid = randomId('msg', 28);
    this.groupMsgs.set(msgid, { msgid, chatType, sender, text, attachments, createTime: Math.floor(this.now() / 1000), targets });
    return { fail_list: failList, msgid };
  }

  /**
   * The member confirms a mass message in the client (all members when userId is absent): each unsent target becomes
   * 1 sent, 2 not a friend any more, or 3 over the monthly per-customer cap [D:92135].
   */
  confirmGroupMsg(msgid: string, userId?: string): GroupMsgTarget[] {
    const msg = this.groupMsgs.get(msgid);
    if (!msg) throw new Error(`sandbox: unknown group msgid ${msgid}`);
    const nowSec = Math.floor(this.now() / 1000);
    // Calendar months in China time (UTC+8), where WeCom counts.
    const month = (sec: number): string => new Date((sec + 8 * 3600) * 1000).toISOString().slice(0, 7);
    const changed: GroupMsgTarget[] = [];
    for (const t of msg.targets) {
      if (t.status !== 0 || (userId !== undefined && t.userId !== userId)) continue;
      if (!this.relationship(t.userId, t.externalUserId)) {
        t.status = 2;
      } else {
        const received = [...this.groupMsgs.values()]
          .flatMap((m) => m.targets)
          .filter((x) => x.externalUserId === t.externalUserId && x.status === 1 && x.sendTime !== undefined && month(x.sendTime) === month(nowSec)).length;
        if (received >= this.massMsgMonthlyCap) {
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

  /** POST externalcontact/get_groupmsg_send_result {msgid, userid, limit ≤ 1000, cursor} -> {send_list, next_cursor}. */
  apiGetGroupMsgSendResult(body: Json): Json {
    const msgid = optString(body, 'msgid');
    if (!msgid) throw new SandboxApiError(41046);
    const msg = this.groupMsgs.get(msgid);
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

  // ---------------------------------------------------------------- 微信客服 [D:94670]

  /** A customer writes to a 客服 account: opens a new 48 h window of 5 messages for kf/send_msg. */
  kfCustomerMessage(openKfid: string, externalUserId: string): void {
    this.kfSessions.set(relKey(openKfid, externalUserId), { lastCustomerMsgAt: this.now(), sent: 0 });
  }

  /** POST kf/send_msg -> {msgid}: 95000 bad open_kfid, 95002 outside 48 h, 95001 over 5 messages per window. */
  apiKfSendMsg(body: Json): Json {
    const touser = optString(body, 'touser');
    if (!touser) throw new SandboxApiError(40096);
    const openKfid = optString(body, 'open_kfid');
    if (!openKfid || (this.kfAccounts && !this.kfAccounts.has(openKfid))) throw new SandboxApiError(95000);
    const msgtype = optString(body, 'msgtype');
    if (!msgtype) throw new SandboxApiError(40008);
    let content: string | undefined;
    if (msgtype === 'text') {
      content = textContent(body);
      if (!content) throw new SandboxApiError(44004);
      // UNCONFIRMED: the errcode for text over 2048 bytes.
      if (utf8Length(content) > 2048) throw new SandboxApiError(40058, 'text.content exceeds 2048 bytes');
    }
    const session = this.kfSessions.get(relKey(openKfid, touser));
    if (!session || this.now() - session.lastCustomerMsgAt > KF_WINDOW_MS) throw new SandboxApiError(95002);
    if (session.sent >= KF_MAX_PER_WINDOW) throw new SandboxApiError(95001);
    session.sent += 1;
    const msgid = optString(body, 'msgid') ?? randomId('', 32);
    this.kfMessagesSent.push({ msgid, touser, openKfid, msgtype, content, body, at: this.now() });
    return { msgid };
  }
}
