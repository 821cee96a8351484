import type { ApiRoute, SandboxArea } from '../area.js';
import { buildKfEventXml } from '../callback-xml.js';
import type { SandboxCore } from '../core.js';
import { SandboxApiError } from '../errcodes.js';
import { pairKey, randomId } from '../ids.js';
import { optString, type Json } from '../json-input.js';
import { kfRoutes } from './kf-api.js';
import { KF_WINDOW_MS, TOKEN_TTL_MS, WELCOME_CODE_MS, type EventCode, type KfAccountOptions, type KfMessageSent, type KfSession, type LogEntry } from './kf-model.js';

/**
 * 微信客服 (WeChat customer service) [D:94670, D:94677, D:94669, D:95122, D:95159]: accounts and servicers, sessions
 * and their states, the message log kf/sync_msg pages through, event codes, and the customer and servicers played by
 * tests and `npm run simulate:say` (each of their messages is POSTed as an encrypted kf_msg_or_event callback, as
 * WeCom does). The APIs' answers — sync_msg's paging (cursor, has_more as an int, the callback token valid 10 min,
 * 3 days of history), sending in states 0/1 within 48 h and 5 messages — are in kf-api.ts. Members not marked
 * readonly for tests are this area's own, shared with kf-api.ts only.
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
  readonly logs = new Map<string, LogEntry[]>();
  readonly sessions = new Map<string, KfSession>();
  readonly tokens = new Map<string, { openKfid: string; expiresAt: number }>();
  readonly codes = new Map<string, EventCode>();
  readonly noTokenCalls = new Map<string, number[]>();
  readonly usedMsgids = new Set<string>();
  readonly emptyPages = new Map<string, number>();
  private seq = 0;
  readonly open: boolean;

  constructor(
    readonly core: SandboxCore,
    /** The corp's kf accounts; absent = any non-empty open_kfid is an account (created on first use). */
    accounts: ReadonlyArray<string | KfAccountOptions> | undefined,
  ) {
    this.open = accounts === undefined;
    for (const a of accounts ?? []) this.addAccount(typeof a === 'string' ? { openKfid: a } : a);
  }

  readonly routes: Record<string, ApiRoute> = kfRoutes(this);

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

  /**
   * A servicer who serves the session (state 3) writes in the WeCom client: origin 5 in the log, and, unless `post` is
   * false (a callback late or lost), a callback.
   */
  async servicerSays(openKfid: string, externalUserId: string, userid: string, text: string, opts: { post?: boolean } = {}): Promise<{ msgid: string; status: number }> {
    const s = this.session(openKfid, externalUserId);
    if (!s || s.state !== 3 || s.servicer !== userid) throw new Error(`sandbox kf: ${userid} does not serve ${externalUserId} (state ${s?.state ?? 'none'}, servicer ${s?.servicer ?? 'none'})`);
    const msgid = this.append(openKfid, { open_kfid: openKfid, external_userid: externalUserId, servicer_userid: userid, origin: 5, msgtype: 'text', text: { content: text } });
    return { msgid, status: opts.post === false ? 0 : await this.postCallback(openKfid) };
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

  // --- helpers (also used by kf-api.ts) ---

  account(openKfid: string) {
    let a = this.accounts.get(openKfid);
    if (!a) {
      if (!this.open) throw new SandboxApiError(95000);
      this.addAccount({ openKfid });
      a = this.accounts.get(openKfid)!;
    }
    return a;
  }

  accountOf(body: Json): string {
    const openKfid = optString(body, 'open_kfid');
    if (!openKfid || (!this.open && !this.accounts.has(openKfid))) throw new SandboxApiError(95000);
    this.account(openKfid);
    return openKfid;
  }

  /** A session past its 48 h (or never answered) counts as ended [D:94669]. */
  currentState(s: KfSession): KfSession['state'] {
    if (s.state !== 4 && this.core.now() - s.startedAt > KF_WINDOW_MS) s.state = 4;
    return s.state;
  }

  requireSession(openKfid: string, ext: string): KfSession {
    const s = this.session(openKfid, ext);
    if (!s) throw new Error(`sandbox kf: no session of ${ext} with ${openKfid}`);
    return s;
  }

  touchSession(openKfid: string, ext: string): void {
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

  append(openKfid: string, fields: Json): string {
    const msgid = randomId('', 44);
    const now = this.core.now();
    const entry: LogEntry = { seq: ++this.seq, at: now, msg: { msgid, send_time: Math.floor(now / 1000), ...fields } as LogEntry['msg'] };
    const log = this.logs.get(openKfid) ?? [];
    log.push(entry);
    this.logs.set(openKfid, log);
    return msgid;
  }

  appendEvent(openKfid: string, event: Json): string {
    // Events carry their ids inside `event`, not at the top level [D:94670].
    return this.append(openKfid, { origin: 4, msgtype: 'event', event });
  }

  issueCode(kind: EventCode['kind'], openKfid: string, externalUserId: string, ttlMs: number): string {
    const code = randomId('', 43);
    this.codes.set(code, { code, kind, openKfid, externalUserId, expiresAt: this.core.now() + ttlMs, used: false });
    return code;
  }
}
