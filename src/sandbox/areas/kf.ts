import type { ApiRoute, SandboxArea } from '../area.js';
import { buildKfEventXml } from '../callback-xml.js';
import type { SandboxCore } from '../core.js';
import { SandboxApiError } from '../errcodes.js';
import { pairKey, randomId } from '../ids.js';
import { isJsonObject, optArray, optNumber, optObject, optString, optStringArray, textContent, utf8Length, type Json } from '../json-input.js';

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
interface LogEntry {
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

interface EventCode {
  code: string;
  kind: 'welcome' | 'queue' | 'pick' | 'end';
  openKfid: string;
  externalUserId: string;
  expiresAt: number;
  used: boolean;
}

const KF_WINDOW_MS = 48 * 3600 * 1000;
const KF_MAX_PER_WINDOW = 5;
const TOKEN_TTL_MS = 10 * 60_000;
const HISTORY_MS = 3 * 86_400_000;
const WELCOME_CODE_MS = 20_000;
/** Moves service_state/trans allows, from each state [D:94669]; others are refused (95016, UNCONFIRMED code). */
const MOVES: Record<number, number[]> = { 0: [1, 2, 3], 1: [2, 3], 2: [3], 3: [3, 4], 4: [] };
const MSGID_RE = /^[0-9a-zA-Z_-]{1,32}$/;

/**
 * 微信客服 (WeChat customer service) [D:94670, D:94677, D:94669, D:95122, D:95159]: accounts and servicers, sessions
 * and their states, the message log kf/sync_msg pages through (cursor, has_more as an int, the callback token valid
 * 10 min, 3 days of history), sending in states 0/1 within 48 h and 5 messages, event codes, and the customer and
 * servicers played by tests and `npm run simulate:say` (each of their messages is POSTed as an encrypted
 * kf_msg_or_event callback, as WeCom does).
 */
export class KfArea implements SandboxArea {
  /** Messages accepted by kf/send_msg and kf/send_msg_on_event. */
  readonly sent: KfMessageSent[] = [];
  /** service_state/trans calls that took effect. */
  readonly transfers: Array<{ openKfid: string; externalUserId: string; from: number; to: number; servicer: string | null; at: number }> = [];
  readonly accounts = new Map<string, { openKfid: string; name: string; servicers: Map<string, { status: 0 | 1 }> }>();
  /** Customers who wrote to a 客服 account: id → nickname (and the reverse for simulate:say). */
  readonly customers = new Map<string, { nickname: string; unionid?: string; scene?: string; sceneParam?: string; enteredAt?: number }>();
  /** Calls kf/sync_msg may make without a token per account per minute (the strict limit [D:94670]; UNCONFIRMED number). */
  noTokenPerMinute = 6;
  private readonly logs = new Map<string, LogEntry[]>();
  private readonly sessions = new Map<string, KfSession>();
  private readonly tokens = new Map<string, { openKfid: string; expiresAt: number }>();
  private readonly codes = new Map<string, EventCode>();
  private readonly noTokenCalls = new Map<string, number[]>();
  private readonly usedMsgids = new Set<string>();
  private emptyPages = new Map<string, number>();
  private seq = 0;
  private readonly open: boolean;

  constructor(
    private readonly core: SandboxCore,
    /** The corp's kf accounts; absent = any non-empty open_kfid is an account (created on first use). */
    accounts: ReadonlyArray<string | KfAccountOptions> | undefined,
  ) {
    this.open = accounts === undefined;
    for (const a of accounts ?? []) this.addAccount(typeof a === 'string' ? { openKfid: a } : a);
  }

  readonly routes: Record<string, ApiRoute> = {
    'kf/send_msg': { body: true, run: (_q, b) => this.apiSendMsg(b) },
    'kf/send_msg_on_event': { body: true, run: (_q, b) => this.apiSendMsgOnEvent(b) },
    'kf/sync_msg': { body: true, run: (_q, b) => this.apiSyncMsg(b) },
    'kf/service_state/get': { body: true, run: (_q, b) => this.apiServiceStateGet(b) },
    'kf/service_state/trans': { body: true, run: (_q, b) => this.apiServiceStateTrans(b) },
    'kf/customer/batchget': { body: true, run: (_q, b) => this.apiCustomerBatchget(b) },
    'kf/servicer/list': { body: false, run: (q) => this.apiServicerList(q) },
    'kf/account/list': { body: true, run: (_q, b) => this.apiAccountList(b) },
    'kf/add_contact_way': { body: true, run: (_q, b) => this.apiAddContactWay(b) },
  };

  reset(all: boolean): void {
    this.sent.length = 0;
    this.transfers.length = 0;
    if (!all) return;
    this.sessions.clear();
    this.logs.clear();
    this.tokens.clear();
    this.codes.clear();
    this.customers.clear();
    this.noTokenCalls.clear();
    this.usedMsgids.clear();
    this.emptyPages.clear();
  }

  /** Adds (or replaces) an account and its servicers (all on duty unless said). */
  addAccount(a: KfAccountOptions): void {
    const servicers = new Map<string, { status: 0 | 1 }>();
    for (const s of a.servicers ?? []) servicers.set(typeof s === 'string' ? s : s.userid, { status: typeof s === 'string' ? 0 : (s.status ?? 0) });
    this.accounts.set(a.openKfid, { openKfid: a.openKfid, name: a.name ?? `客服${this.accounts.size + 1}`, servicers });
  }

  /** Puts a servicer on duty (0) or off duty (1). */
  setServicerStatus(openKfid: string, userid: string, status: 0 | 1): void {
    this.account(openKfid).servicers.set(userid, { status });
  }

  /** The session of a customer with an account, if any. */
  session(openKfid: string, externalUserId: string): KfSession | undefined {
    return this.sessions.get(pairKey(openKfid, externalUserId));
  }

  /** Opens a new 48 h window of 5 messages for kf/send_msg, as a customer message does, without logging or posting it. */
  customerMessage(openKfid: string, externalUserId: string): void {
    this.touchSession(openKfid, externalUserId);
  }

  /** The next `n` kf/sync_msg calls for the account that would return messages return an empty page with has_more 1. */
  injectEmptyPages(openKfid: string, n: number): void {
    this.emptyPages.set(openKfid, n);
  }

  /**
   * The customer writes: the message goes to the account's log (a new session if none is open: state 0; the window
   * reopens) and, unless `post` is false, a kf_msg_or_event callback is POSTed. Returns WeCom's msgid of it and the
   * bot's HTTP status.
   */
  async customerSays(openKfid: string, externalUserId: string, text: string, opts: { menuId?: string; post?: boolean; nickname?: string } = {}): Promise<{ msgid: string; status: number }> {
    this.account(openKfid);
    if (!this.customers.has(externalUserId)) this.customers.set(externalUserId, { nickname: opts.nickname ?? externalUserId.slice(-6) });
    this.touchSession(openKfid, externalUserId);
    const msgid = this.append(openKfid, {
      open_kfid: openKfid,
      external_userid: externalUserId,
      origin: 3,
      msgtype: 'text',
      text: { content: text, ...(opts.menuId ? { menu_id: opts.menuId } : {}) },
    });
    return { msgid, status: opts.post === false ? 0 : await this.postCallback(openKfid) };
  }

  /**
   * The customer opens the account's link (enter_session): a welcome_code comes with it when the customer got no
   * welcome and sent no message in the last 48 h [D:94670]. Returns the code, if any, and the bot's HTTP status.
   */
  async customerEnters(openKfid: string, externalUserId: string, opts: { scene?: string; sceneParam?: string; nickname?: string; post?: boolean } = {}): Promise<{ welcomeCode: string | null; status: number }> {
    this.account(openKfid);
    const now = this.core.now();
    this.customers.set(externalUserId, { ...this.customers.get(externalUserId), nickname: opts.nickname ?? this.customers.get(externalUserId)?.nickname ?? externalUserId.slice(-6), scene: opts.scene, sceneParam: opts.sceneParam, enteredAt: now });
    const s = this.session(openKfid, externalUserId);
    const recent = (t: number | null | undefined) => t !== null && t !== undefined && now - t < KF_WINDOW_MS;
    let welcomeCode: string | null = null;
    if (!recent(s?.lastCustomerMsgAt) && !recent(s?.lastWelcomeAt)) {
      welcomeCode = randomId('', 43);
      this.codes.set(welcomeCode, { code: welcomeCode, kind: 'welcome', openKfid, externalUserId, expiresAt: now + WELCOME_CODE_MS, used: false });
    }
    this.appendEvent(openKfid, { event_type: 'enter_session', open_kfid: openKfid, external_userid: externalUserId, scene: opts.scene ?? '', scene_param: opts.sceneParam ?? '', ...(welcomeCode ? { welcome_code: welcomeCode } : {}) });
    return { welcomeCode, status: opts.post === false ? 0 : await this.postCallback(openKfid) };
  }

  /** A servicer who serves the session (state 3) writes in the WeCom client: origin 5 in the log, and a callback. */
  async servicerSays(openKfid: string, externalUserId: string, userid: string, text: string): Promise<{ msgid: string; status: number }> {
    const s = this.session(openKfid, externalUserId);
    if (!s || s.state !== 3 || s.servicer !== userid) throw new Error(`sandbox kf: ${userid} does not serve ${externalUserId} (state ${s?.state ?? 'none'}, servicer ${s?.servicer ?? 'none'})`);
    const msgid = this.append(openKfid, { open_kfid: openKfid, external_userid: externalUserId, servicer_userid: userid, origin: 5, msgtype: 'text', text: { content: text } });
    return { msgid, status: await this.postCallback(openKfid) };
  }

  /**
   * A servicer takes the session in the client (from the queue, or from the bot): state 3, and session_status_change
   * (change_type 1) in the log; `end` closes it (change_type 3, state 4). Both are client operations [D:94670].
   */
  async servicerPicks(openKfid: string, externalUserId: string, userid: string): Promise<number> {
    const s = this.requireSession(openKfid, externalUserId);
    if (s.state === 4) throw new Error('sandbox kf: the session has ended');
    s.state = 3;
    s.servicer = userid;
    this.appendEvent(openKfid, { event_type: 'session_status_change', open_kfid: openKfid, external_userid: externalUserId, change_type: 1, new_servicer_userid: userid, msg_code: this.issueCode('pick', openKfid, externalUserId, KF_WINDOW_MS) });
    return this.postCallback(openKfid);
  }

  /** The servicer ends the session in the client: state 4, session_status_change change_type 3. */
  async servicerEnds(openKfid: string, externalUserId: string): Promise<number> {
    const s = this.requireSession(openKfid, externalUserId);
    const old = s.servicer;
    s.state = 4;
    s.servicer = null;
    this.appendEvent(openKfid, { event_type: 'session_status_change', open_kfid: openKfid, external_userid: externalUserId, change_type: 3, old_servicer_userid: old ?? '', msg_code: this.issueCode('end', openKfid, externalUserId, WELCOME_CODE_MS) });
    return this.postCallback(openKfid);
  }

  /** WeCom reports later that a message it accepted was not delivered (msg_send_fail, e.g. 4 expired, 6 over 5, 10 rejected). */
  async failLater(msgid: string, failType: number): Promise<number> {
    const m = this.sent.find((x) => x.msgid === msgid);
    if (!m) throw new Error(`sandbox kf: no sent message ${msgid}`);
    this.appendEvent(m.openKfid, { event_type: 'msg_send_fail', open_kfid: m.openKfid, external_userid: m.touser, fail_msgid: msgid, fail_type: failType });
    return this.postCallback(m.openKfid);
  }

  /** POSTs a kf_msg_or_event callback for the account with a fresh token (valid 10 min); the bot's HTTP status. */
  async postCallback(openKfid: string): Promise<number> {
    const token = `ENC${randomId('', 40)}`;
    this.tokens.set(token, { openKfid, expiresAt: this.core.now() + TOKEN_TTL_MS });
    return this.core.postCallbackXml(buildKfEventXml({ toUserName: this.core.corpId, createTime: Math.floor(this.core.now() / 1000), token, openKfid }));
  }

  /** The conversation of a customer with an account as the customer sees it: their messages, the bot's and the servicers'. */
  conversation(openKfid: string, externalUserId: string): Array<{ at: number; from: 'customer' | 'bot' | 'servicer' | 'event'; who?: string; text: string }> {
    const out: Array<{ at: number; from: 'customer' | 'bot' | 'servicer' | 'event'; who?: string; text: string }> = [];
    for (const e of this.logs.get(openKfid) ?? []) {
      const m = e.msg as Json & { external_userid?: string; servicer_userid?: string; text?: { content: string }; event?: Json };
      const ev = m.event as (Json & { external_userid?: string; event_type?: string }) | undefined;
      if ((m.external_userid ?? ev?.external_userid) !== externalUserId) continue;
      if (m.origin === 3) out.push({ at: e.at, from: 'customer', text: m.text?.content ?? `[${m.msgtype}]` });
      else if (m.origin === 5) out.push({ at: e.at, from: 'servicer', who: m.servicer_userid, text: m.text?.content ?? `[${m.msgtype}]` });
      else if (ev) out.push({ at: e.at, from: 'event', text: String(ev.event_type) });
    }
    for (const s of this.sent) if (s.openKfid === openKfid && s.touser === externalUserId) out.push({ at: s.at, from: 'bot', text: s.content ?? `[${s.msgtype}]` });
    return out.sort((a, b) => a.at - b.at);
  }

  // --- the APIs ---

  /** POST kf/send_msg -> {msgid}: 95000 bad account, 95002 outside 48 h, 95018 not state 0/1, 95001 over 5 per window. */
  apiSendMsg(body: Json): Json {
    const touser = optString(body, 'touser');
    if (!touser) throw new SandboxApiError(40096);
    const openKfid = this.accountOf(body);
    const { msgtype, content } = this.messageOf(body, ['text', 'msgmenu', 'link']);
    const msgid = this.ownMsgid(openKfid, body);
    const session = this.session(openKfid, touser);
    const now = this.core.now();
    if (!session || session.lastCustomerMsgAt === null || now - session.lastCustomerMsgAt > KF_WINDOW_MS) throw new SandboxApiError(95002);
    // Only a new session or the bot's may be sent to by API [D:94677]; a person's (3), the queue (2) or an ended one not.
    if (session.state !== 0 && session.state !== 1) throw new SandboxApiError(95018);
    if (session.sentInWindow >= KF_MAX_PER_WINDOW) throw new SandboxApiError(95001);
    session.sentInWindow += 1;
    if (session.state === 0) session.state = 1;
    this.usedMsgids.add(pairKey(openKfid, msgid));
    this.sent.push({ msgid, touser, openKfid, msgtype, content, body, at: now, via: 'send_msg' });
    return { msgid };
  }

  /** POST kf/send_msg_on_event -> {msgid}: one message per code, within its validity (a welcome_code: 20 s). */
  apiSendMsgOnEvent(body: Json): Json {
    const codeText = optString(body, 'code');
    // UNCONFIRMED: the errcodes of a missing, unknown, used or expired code; 40058 (invalid parameter) stands in.
    if (!codeText) throw new SandboxApiError(40058, 'code is required');
    const code = this.codes.get(codeText);
    if (!code) throw new SandboxApiError(40058, 'invalid code');
    if (code.used) throw new SandboxApiError(40058, 'code already used');
    if (this.core.now() > code.expiresAt) throw new SandboxApiError(40058, 'code expired');
    const { msgtype, content } = this.messageOf(body, code.kind === 'welcome' || code.kind === 'end' ? ['text', 'msgmenu'] : ['text']);
    const msgid = this.ownMsgid(code.openKfid, body);
    code.used = true;
    const s = this.session(code.openKfid, code.externalUserId);
    if (code.kind === 'welcome') {
      if (s) s.lastWelcomeAt = this.core.now();
      else this.sessions.set(pairKey(code.openKfid, code.externalUserId), { state: 4, servicer: null, startedAt: this.core.now(), lastCustomerMsgAt: null, sentInWindow: 0, lastWelcomeAt: this.core.now() });
    }
    this.usedMsgids.add(pairKey(code.openKfid, msgid));
    this.sent.push({ msgid, touser: code.externalUserId, openKfid: code.openKfid, msgtype, content, body, at: this.core.now(), via: code.kind === 'welcome' ? 'welcome' : 'event' });
    return { msgid };
  }

  /**
   * POST kf/sync_msg -> {next_cursor, has_more (0|1), msg_list}: open_kfid required; the token must be a live one of
   * this account (10 min; else 95007); without a token only a few calls a minute (45009); the last 3 days only.
   * Messages sent through the API are not returned [D:94670].
   */
  apiSyncMsg(body: Json): Json {
    const openKfid = this.accountOf(body);
    const token = optString(body, 'token');
    const now = this.core.now();
    if (token !== undefined) {
      if (utf8Length(token) > 128) throw new SandboxApiError(40058, 'token exceeds 128 bytes');
      const t = this.tokens.get(token);
      if (!t || t.openKfid !== openKfid || now > t.expiresAt) throw new SandboxApiError(95007);
    } else {
      const calls = (this.noTokenCalls.get(openKfid) ?? []).filter((at) => now - at < 60_000);
      if (calls.length >= this.noTokenPerMinute) throw new SandboxApiError(45009, 'sync_msg without a token is limited');
      calls.push(now);
      this.noTokenCalls.set(openKfid, calls);
    }
    const limit = optNumber(body, 'limit') ?? 1000;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new SandboxApiError(40058, 'limit must be 1 to 1000');
    const cursor = optString(body, 'cursor');
    if (cursor !== undefined && utf8Length(cursor) > 64) throw new SandboxApiError(40058, 'cursor exceeds 64 bytes');
    let after = -1;
    if (cursor !== undefined) {
      const m = /^c([0-9]+)$/.exec(cursor);
      // UNCONFIRMED: the errcode of a cursor WeCom did not issue.
      if (!m) throw new SandboxApiError(40058, 'invalid cursor');
      after = Number(m[1]);
    }
    const log = (this.logs.get(openKfid) ?? []).filter((e) => e.seq > after && now - e.at <= HISTORY_MS);
    const empty = this.emptyPages.get(openKfid) ?? 0;
    if (log.length && empty > 0) {
      this.emptyPages.set(openKfid, empty - 1);
      return { next_cursor: `c${after}`, has_more: 1, msg_list: [] };
    }
    const page = log.slice(0, limit);
    const last = page.length ? page[page.length - 1]!.seq : after;
    return { next_cursor: `c${Math.max(last, 0)}`, has_more: log.length > limit ? 1 : 0, msg_list: page.map((e) => e.msg) };
  }

  /** POST kf/service_state/get -> {service_state, servicer_userid (state 3 only)} [D:94669]. */
  apiServiceStateGet(body: Json): Json {
    const openKfid = this.accountOf(body);
    const ext = optString(body, 'external_userid');
    if (!ext) throw new SandboxApiError(41035);
    const s = this.session(openKfid, ext);
    const state = s ? this.currentState(s) : 4;
    return { service_state: state, ...(state === 3 && s?.servicer ? { servicer_userid: s.servicer } : {}) };
  }

  /**
   * POST kf/service_state/trans -> {msg_code?}: only the moves of [D:94669] (else 95016, UNCONFIRMED code); state 3 needs
   * a servicer of the account who is on duty (95014). A msg_code comes back on the first move to 2 or 3 and on 4.
   */
  apiServiceStateTrans(body: Json): Json {
    const openKfid = this.accountOf(body);
    const ext = optString(body, 'external_userid');
    if (!ext) throw new SandboxApiError(41035);
    const to = optNumber(body, 'service_state');
    if (to === undefined || ![0, 1, 2, 3, 4].includes(to)) throw new SandboxApiError(40058, 'invalid service_state');
    const s = this.session(openKfid, ext);
    const from = s ? this.currentState(s) : 4;
    if (!s || !MOVES[from]!.includes(to)) throw new SandboxApiError(95016, `cannot move from ${from} to ${to}`);
    let servicer: string | null = null;
    if (to === 3) {
      servicer = optString(body, 'servicer_userid') ?? null;
      if (!servicer) throw new SandboxApiError(40058, 'servicer_userid is required for state 3');
      if (this.account(openKfid).servicers.get(servicer)?.status !== 0) throw new SandboxApiError(95014);
    }
    s.state = to as KfSession['state'];
    s.servicer = servicer;
    this.transfers.push({ openKfid, externalUserId: ext, from, to, servicer, at: this.core.now() });
    const kind = to === 2 ? 'queue' : to === 3 ? 'pick' : to === 4 ? 'end' : null;
    const msgCode = kind && from !== to ? this.issueCode(kind, openKfid, ext, kind === 'end' ? WELCOME_CODE_MS : KF_WINDOW_MS) : undefined;
    return msgCode ? { msg_code: msgCode } : {};
  }

  /** POST kf/customer/batchget -> {customer_list, invalid_external_userid} [D:95159]: 1 to 100 ids. */
  apiCustomerBatchget(body: Json): Json {
    const ids = optStringArray(body, 'external_userid_list');
    if (!ids?.length) throw new SandboxApiError(41035);
    if (ids.length > 100) throw new SandboxApiError(40058, 'at most 100 external_userid');
    const withContext = optNumber(body, 'need_enter_session_context') === 1;
    const list: Json[] = [];
    const invalid: string[] = [];
    const now = this.core.now();
    for (const id of ids) {
      const c = this.customers.get(id);
      if (!c) {
        invalid.push(id);
        continue;
      }
      const recent = c.enteredAt !== undefined && now - c.enteredAt < KF_WINDOW_MS;
      list.push({
        external_userid: id,
        nickname: c.nickname,
        avatar: `https://wx.qlogo.cn/sandbox/${id}.png`,
        gender: 0,
        ...(c.unionid ? { unionid: c.unionid } : {}),
        ...(withContext ? { enter_session_context: recent ? { scene: c.scene ?? '', scene_param: c.sceneParam ?? '' } : {} } : {}),
      });
    }
    return { customer_list: list, invalid_external_userid: invalid };
  }

  /** GET kf/servicer/list?open_kfid= -> {servicer_list: [{userid, status, stop_type}]}. */
  apiServicerList(query: Record<string, string>): Json {
    const openKfid = query.open_kfid;
    if (!openKfid || (!this.open && !this.accounts.has(openKfid))) throw new SandboxApiError(95000);
    return { servicer_list: [...this.account(openKfid).servicers].map(([userid, s]) => ({ userid, status: s.status, ...(s.status === 1 ? { stop_type: 0 } : {}) })) };
  }

  /** POST kf/account/list -> {account_list} (offset, limit 1–100). */
  apiAccountList(body: Json): Json {
    const offset = optNumber(body, 'offset') ?? 0;
    const limit = optNumber(body, 'limit') ?? 100;
    if (limit < 1 || limit > 100) throw new SandboxApiError(40058, 'limit must be 1 to 100');
    const list = [...this.accounts.values()].slice(offset, offset + limit);
    return { account_list: list.map((a) => ({ open_kfid: a.openKfid, name: a.name, avatar: `https://wework.qpic.cn/sandbox/kf/${a.openKfid}.png`, manage_privilege: true })) };
  }

  /** POST kf/add_contact_way -> {url}; scene ≤ 32 bytes of [0-9a-zA-Z_-] [D:94665]. */
  apiAddContactWay(body: Json): Json {
    const openKfid = this.accountOf(body);
    const scene = optString(body, 'scene');
    if (scene !== undefined && !MSGID_RE.test(scene)) throw new SandboxApiError(40058, 'scene must be at most 32 bytes of [0-9a-zA-Z_-]');
    return { url: `https://work.weixin.qq.com/kfid/${openKfid}${scene ? `?enc_scene=${encodeURIComponent(Buffer.from(scene).toString('base64url'))}` : ''}` };
  }

  // --- helpers ---

  private account(openKfid: string) {
    let a = this.accounts.get(openKfid);
    if (!a) {
      if (!this.open) throw new SandboxApiError(95000);
      this.addAccount({ openKfid });
      a = this.accounts.get(openKfid)!;
    }
    return a;
  }

  private accountOf(body: Json): string {
    const openKfid = optString(body, 'open_kfid');
    if (!openKfid || (!this.open && !this.accounts.has(openKfid))) throw new SandboxApiError(95000);
    this.account(openKfid);
    return openKfid;
  }

  /** A session past its 48 h (or never answered) counts as ended [D:94669]. */
  private currentState(s: KfSession): KfSession['state'] {
    if (s.state !== 4 && this.core.now() - s.startedAt > KF_WINDOW_MS) s.state = 4;
    return s.state;
  }

  private requireSession(openKfid: string, ext: string): KfSession {
    const s = this.session(openKfid, ext);
    if (!s) throw new Error(`sandbox kf: no session of ${ext} with ${openKfid}`);
    return s;
  }

  private touchSession(openKfid: string, ext: string): void {
    const now = this.core.now();
    const key = pairKey(openKfid, ext);
    const s = this.sessions.get(key);
    // A customer message in an ended session (or none) starts a new one in state 0 [D:94669].
    if (!s || this.currentState(s) === 4) this.sessions.set(key, { state: 0, servicer: null, startedAt: now, lastCustomerMsgAt: now, sentInWindow: 0, lastWelcomeAt: s?.lastWelcomeAt ?? null });
    else {
      s.lastCustomerMsgAt = now;
      s.sentInWindow = 0;
    }
  }

  private append(openKfid: string, fields: Json): string {
    const msgid = randomId('', 44);
    const now = this.core.now();
    const entry: LogEntry = { seq: ++this.seq, at: now, msg: { msgid, send_time: Math.floor(now / 1000), ...fields } as LogEntry['msg'] };
    const log = this.logs.get(openKfid) ?? [];
    log.push(entry);
    this.logs.set(openKfid, log);
    return msgid;
  }

  private appendEvent(openKfid: string, event: Json): string {
    // Events carry their ids inside `event`, not at the top level [D:94670].
    return this.append(openKfid, { origin: 4, msgtype: 'event', event });
  }

  private issueCode(kind: EventCode['kind'], openKfid: string, externalUserId: string, ttlMs: number): string {
    const code = randomId('', 43);
    this.codes.set(code, { code, kind, openKfid, externalUserId, expiresAt: this.core.now() + ttlMs, used: false });
    return code;
  }

  /** Our own msgid, if given: ≤ 32 bytes of [0-9a-zA-Z_-] and unused on this account (40058 otherwise [D:94677]). */
  private ownMsgid(openKfid: string, body: Json): string {
    const msgid = optString(body, 'msgid');
    if (msgid === undefined) return randomId('', 32);
    if (!MSGID_RE.test(msgid)) throw new SandboxApiError(40058, 'msgid exceed max length or invalid');
    // UNCONFIRMED: the errcode of a msgid used before on the account.
    if (this.usedMsgids.has(pairKey(openKfid, msgid))) throw new SandboxApiError(40058, 'msgid already used');
    return msgid;
  }

  /** The message of a send: text ≤ 2048 bytes, a menu (head and tail ≤ 1024 bytes), or a link card. */
  private messageOf(body: Json, allowed: string[]): { msgtype: string; content: string | undefined } {
    const msgtype = optString(body, 'msgtype');
    if (!msgtype || !allowed.includes(msgtype)) throw new SandboxApiError(40008);
    if (msgtype === 'text') {
      const content = textContent(body);
      if (!content) throw new SandboxApiError(44004);
      // UNCONFIRMED: the errcode for text over 2048 bytes.
      if (utf8Length(content) > 2048) throw new SandboxApiError(40058, 'text.content exceeds 2048 bytes');
      return { msgtype, content };
    }
    if (msgtype === 'msgmenu') {
      const menu = optObject(body, 'msgmenu');
      if (!menu) throw new SandboxApiError(40058, 'msgmenu is required');
      const head = optString(menu, 'head_content') ?? '';
      const tail = optString(menu, 'tail_content') ?? '';
      if (utf8Length(head) > 1024 || utf8Length(tail) > 1024) throw new SandboxApiError(40058, 'head_content and tail_content are at most 1024 bytes');
      const items = optArray(menu, 'list') ?? [];
      const lines = items.map((it) => {
        if (!isJsonObject(it) || typeof it.type !== 'string' || !isJsonObject(it[it.type])) throw new SandboxApiError(40058, 'invalid msgmenu item');
        const item = it[it.type] as Json;
        return `[${String(item.content ?? '')}]`;
      });
      return { msgtype, content: [head, ...lines, tail].filter(Boolean).join('\n') };
    }
    const link = optObject(body, 'link');
    if (!link || !optString(link, 'title') || !optString(link, 'url') || !optString(link, 'thumb_media_id')) throw new SandboxApiError(40058, 'link needs title, url and thumb_media_id');
    return { msgtype, content: `${optString(link, 'title')} ${optString(link, 'url')}` };
  }
}
