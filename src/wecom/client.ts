import type { Redis } from 'ioredis';
import { request as httpRequest, type Dispatcher } from 'undici';
import { QuotaWaitError, TOKEN_ERRCODES, WecomApiError } from '../errors.js';
import type { Logger } from '../logger.js';
import { wecomCalls, wecomLatency } from '../metrics.js';
import type { RedisKeys } from '../redis/keys.js';
import { RateLimiter, RecipientLimiter, type RateLimit } from './rate-limiter.js';
import { TokenCache } from './token-cache.js';
import type { CallOptions, WecomClientOptions } from './client-options.js';
import type * as T from './types.js';

export type { CallOptions, WecomClientOptions } from './client-options.js';

// Platform limits per API per corp: ~10,000 a minute and 150,000 an hour; stay a little under both.
// No per-second window: WeCom counts per minute, and a burst of adds at an expo needs the whole minute's quota.
const DEFAULT_LIMITS: RateLimit[] = [
  { limit: 9_500, windowMs: 60_000 },
  { limit: 140_000, windowMs: 3_600_000 },
];

/**
 * App messages per member, a little under WeCom's 30 a minute and 1,000 an hour per app and member: WeCom drops the
 * excess without an errcode (「超过部分会被丢弃不下发」) [D:90236] [D:90454].
 */
export const DEFAULT_MEMBER_MESSAGE_LIMITS: RateLimit[] = [
  { limit: 25, windowMs: 60_000 },
  { limit: 900, windowMs: 3_600_000 },
];

/** APIs that message members, each with the members a call's body names (limited per member). */
const TO_MEMBERS: Record<string, (body: unknown) => string[]> = {
  'message/send': (body) => String((body as { touser?: unknown } | undefined)?.touser ?? '').split('|').filter((u) => u && u !== '@all'),
};

/** Hears every errcode answer the client turns into an error (e.g. to alert a person); must not throw. */
export type WecomErrorListener = (err: WecomApiError) => void;

/**
 * WeCom server API client: shared token cache, per-API rate limits, token refresh on 40014/40082/42001/42009,
 * typed errors, bounded retries with backoff for retryable ones, and a metric and log line per call.
 */
export class WecomClient {
  private readonly tokens: TokenCache;
  private readonly listeners: WecomErrorListener[] = [];
  private readonly kfTokens: TokenCache;
  private readonly limiter: RateLimiter;
  private readonly memberLimiters: Record<string, RecipientLimiter>;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly retryBaseMs: number;

  constructor(private readonly opts: WecomClientOptions) {
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.retries = opts.retries ?? 2;
    this.retryBaseMs = opts.retryBaseMs ?? 250;
    const { default: fallback, ...limits } = opts.rateLimits ?? {};
    this.limiter = new RateLimiter(opts.redis, opts.keys, limits, fallback ?? DEFAULT_LIMITS);
    const perMember = opts.memberMessageLimits ?? DEFAULT_MEMBER_MESSAGE_LIMITS;
    this.memberLimiters = Object.fromEntries(Object.keys(TO_MEMBERS).map((api) => [api, new RecipientLimiter(opts.redis, opts.keys, api, perMember)]));
    this.tokens = new TokenCache(opts.redis, opts.keys, opts.corpId, opts.secret, () => this.fetchToken(opts.secret));
    const kfSecret = opts.kfSecret ?? opts.secret;
    this.kfTokens = kfSecret === opts.secret ? this.tokens : new TokenCache(opts.redis, opts.keys, opts.corpId, kfSecret, () => this.fetchToken(kfSecret));
  }

  /**
   * Adds a listener of errcode answers (gettoken's included). The client knows nothing of what they mean to the
   * business: the app wires the listener that alerts ops staff.
   */
  onError(listener: WecomErrorListener): void {
    this.listeners.push(listener);
  }

  private failed(api: string, errcode: number, errmsg: string): WecomApiError {
    const err = WecomApiError.fromErrcode(api, errcode, errmsg);
    for (const l of this.listeners) {
      try {
        l(err);
      } catch (e) {
        this.opts.logger.warn({ api, errcode, err: (e as Error).message }, 'wecom error listener failed');
      }
    }
    return err;
  }

  /** Calls `api` (the path after /cgi-bin/), returning the JSON body of a successful (errcode 0) answer. */
  async call<R extends T.WecomResponse>(api: string, opts: CallOptions = {}): Promise<R> {
    const retries = opts.retries ?? this.retries;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.callWithToken<R>(api, opts);
      } catch (err) {
        // A call held back by a member's limit has its own time to try again (QuotaWaitError.retryAt).
        if (!(err instanceof WecomApiError) || !err.retryable || err instanceof QuotaWaitError || attempt >= retries) throw err;
        const delay = this.retryBaseMs * 2 ** attempt * (0.75 + Math.random() / 2);
        this.opts.logger.warn({ api, errcode: err.errcode, attempt, delay: Math.round(delay) }, 'wecom call retrying');
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private async callWithToken<R extends T.WecomResponse>(api: string, opts: CallOptions): Promise<R> {
    await this.takeMemberQuota(api, opts);
    if (opts.noToken) {
      const res = await this.request<R>(api, null, opts);
      if (res.errcode !== 0) throw this.failed(api, res.errcode, res.errmsg);
      return res;
    }
    // 微信客服 APIs go with the kf app's token, everything else with the main app's.
    const tokens = api.startsWith('kf/') ? this.kfTokens : this.tokens;
    let token = await tokens.get();
    let res = await this.request<R>(api, token, opts);
    if (TOKEN_ERRCODES.has(res.errcode)) {
      // WeCom may invalidate a token before expires_in: refresh once and retry once [D:91039].
      await tokens.invalidate(token);
      token = await tokens.get();
      res = await this.request<R>(api, token, opts);
    }
    if (res.errcode !== 0) throw this.failed(api, res.errcode, res.errmsg);
    return res;
  }

  /**
   * A call that messages members takes a place in each member's per-member windows first (every attempt, whoever
   * calls): over WeCom's limit a message would be dropped silently [D:90236], so it waits for room — at most
   * `quotaWaitMs` in all; by default as long as room is expected within the shortest window (a minute's limit is
   * waited out, an hour's is not) — or fails with QuotaWaitError (nothing sent) for the caller's job to try again at
   * its `retryAt`. A place taken by a call that then fails stays taken: it may have reached WeCom, and counting one
   * too many only makes a later message wait.
   */
  private async takeMemberQuota(api: string, opts: CallOptions): Promise<void> {
    const limiter = this.memberLimiters[api];
    if (!limiter) return;
    const members = TO_MEMBERS[api]!(opts.body);
    const retryAt = await limiter.acquire(members, opts.quotaWaitMs === undefined ? { longestWait: limiter.shortestSpanMs } : { deadline: Date.now() + opts.quotaWaitMs });
    if (!retryAt) return;
    wecomCalls.inc({ api, errcode: 'member_rate_limit' });
    this.opts.logger.warn({ api, members, retryAt: new Date(retryAt) }, 'wecom call held back: a member is at the per-member limit');
    throw new QuotaWaitError(api, 'a member is at the per-member message limit', retryAt);
  }

  private async request<R extends T.WecomResponse>(api: string, token: string | null, opts: CallOptions): Promise<R> {
    if (!(await this.limiter.acquire(api, Date.now() + (opts.quotaWaitMs ?? Infinity)))) {
      wecomCalls.inc({ api, errcode: 'local_rate_limit' });
      throw WecomApiError.transport(api, 'no rate-limit quota within the wait allowed', undefined, false);
    }
    // Under the base URL's own path, if it has one (a gateway such as https://gw.example.com/qyapi).
    const url = opts.url ? new URL(opts.url) : new URL(`cgi-bin/${api}`, this.opts.baseUrl.endsWith('/') ? this.opts.baseUrl : `${this.opts.baseUrl}/`);
    for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v);
    if (token) url.searchParams.set('access_token', token);
    const started = performance.now();
    let label = 'network';
    try {
      // undici's own request API rather than fetch: the same client underneath without the WHATWG streams and
      // objects fetch builds per call, which cost a busy worker about a tenth of its CPU.
      const timeout = opts.timeoutMs ?? this.timeoutMs;
      let response: Dispatcher.ResponseData;
      try {
        response = await httpRequest(url, {
          method: opts.body === undefined ? 'GET' : 'POST',
          headers: opts.body === undefined ? undefined : { 'content-type': 'application/json' },
          body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
          headersTimeout: timeout,
          bodyTimeout: timeout,
        });
      } catch (err) {
        throw transportError(api, err);
      }
      const status = response.statusCode;
      if (status >= 500) {
        label = 'http_5xx';
        await response.body.dump().catch(() => undefined);
        throw WecomApiError.transport(api, `HTTP ${status}`, status);
      }
      // WeCom answers its errors with errcode and HTTP 200; any other 4xx comes from what stands in between (a wrong
      // WECOM_API_BASE, a proxy refusing): the request was not served, and trying it again changes nothing, except
      // for a timeout or a rate limit (408, 429).
      if (status >= 400) {
        label = `http_${status}`;
        await response.body.dump().catch(() => undefined);
        throw new WecomApiError(api, 0, `HTTP ${status}`, status === 408 || status === 429, status, false);
      }
      let json: R;
      try {
        json = (await response.body.json()) as R;
      } catch (err) {
        if (isTimeout(err)) throw transportError(api, err);
        label = 'bad_json';
        throw WecomApiError.transport(api, `HTTP ${status} with a non-JSON body`, status);
      }
      if (typeof json?.errcode !== 'number') json = { ...json, errcode: 0, errmsg: 'ok' };
      label = String(json.errcode);
      return json;
    } finally {
      const seconds = (performance.now() - started) / 1000;
      wecomCalls.inc({ api, errcode: label });
      wecomLatency.observe({ api }, seconds);
      const level = label === '0' ? 'debug' : 'warn';
      this.opts.logger[level]({ api, errcode: label, ms: Math.round(seconds * 1000) }, 'wecom call');
    }
  }

  /**
   * gettoken [D:91039], before the call that needs the token. A gettoken that got no answer leaves that call unmade:
   * its error is never ambiguous (a send failing here was not sent, and is tried again rather than called unknown).
   */
  private async fetchToken(secret: string): Promise<{ token: string; expiresIn: number }> {
    let res: T.TokenResponse;
    try {
      res = await this.request<T.TokenResponse>('gettoken', null, {
        query: { corpid: this.opts.corpId, corpsecret: secret },
      });
    } catch (err) {
      if (err instanceof WecomApiError && err.ambiguous) throw WecomApiError.transport('gettoken', err.errmsg, err.httpStatus, false);
      throw err;
    }
    if (res.errcode !== 0) throw this.failed('gettoken', res.errcode, res.errmsg);
    return { token: res.access_token, expiresIn: res.expires_in };
  }

  /** externalcontact/get [D:92114]. */
  getExternalContact(externalUserId: string, opts: CallOptions = {}) {
    return this.call<T.ExternalContactResponse>('externalcontact/get', {
      ...opts,
      query: { external_userid: externalUserId },
    });
  }

  /** externalcontact/mark_tag [D:92117]: idempotent, safe to retry. */
  markTag(body: { userid: string; external_userid: string; add_tag?: string[]; remove_tag?: string[] }) {
    return this.call<T.WecomResponse>('externalcontact/mark_tag', { body });
  }

  /** externalcontact/get_corp_tag_list [D:92117]; both filters empty = every tag. */
  getCorpTagList(body: { tag_id?: string[]; group_id?: string[] } = {}) {
    return this.call<T.CorpTagListResponse>('externalcontact/get_corp_tag_list', { body });
  }

  /** externalcontact/add_corp_tag [D:92117]. */
  addCorpTag(body: { group_id?: string; group_name?: string; tag: Array<{ name: string }> }) {
    return this.call<T.AddCorpTagResponse>('externalcontact/add_corp_tag', { body });
  }

  /** externalcontact/send_welcome_msg [D:92137]; no in-call retries: the caller owns the 20 s deadline. */
  sendWelcomeMsg(body: T.WelcomeMessage, opts: CallOptions = {}) {
    return this.call<T.WecomResponse>('externalcontact/send_welcome_msg', { retries: 0, ...opts, body });
  }

  /**
   * externalcontact/add_contact_way [D:92228]. Each call that reaches WeCom makes a code: a caller that must not make
   * two passes `retries: 0` and settles an ambiguous failure itself (e.g. by listContactWay and the code's state).
   */
  addContactWay(body: T.ContactWay, opts: Pick<CallOptions, 'retries' | 'quotaWaitMs'> = {}) {
    return this.call<T.AddContactWayResponse>('externalcontact/add_contact_way', { ...opts, body });
  }

  /** externalcontact/update_contact_way [D:92228]. */
  updateContactWay(body: Partial<T.ContactWay> & { config_id: string }) {
    return this.call<T.WecomResponse>('externalcontact/update_contact_way', { body });
  }

  /** externalcontact/get_contact_way [D:92228]. */
  getContactWay(configId: string) {
    return this.call<T.GetContactWayResponse>('externalcontact/get_contact_way', { body: { config_id: configId } });
  }

  /**
   * externalcontact/list_contact_way [D:92228]: the config_ids of the codes made between start_time and end_time
   * (seconds; without them, the last 90 days), at most `limit` (≤ 1000) a page, `next_cursor` for the next one.
   */
  listContactWay(body: { start_time?: number; end_time?: number; cursor?: string; limit?: number }) {
    return this.call<T.ListContactWayResponse>('externalcontact/list_contact_way', { body });
  }

  /** externalcontact/get_follow_user_list [D:92571]: the members with 客户联系, for whom a 联系我 code can be made. */
  getFollowUserList() {
    return this.call<T.FollowUserListResponse>('externalcontact/get_follow_user_list');
  }

  /** externalcontact/add_msg_template [D:92135]: nothing reaches the customer until the sender confirms. */
  addMsgTemplate(body: T.MsgTemplate) {
    return this.call<T.AddMsgTemplateResponse>('externalcontact/add_msg_template', { body, retries: 0 });
  }

  /** externalcontact/cancel_groupmsg_send [D:97611]: members who have not sent the mass message yet no longer can. */
  cancelGroupMsgSend(msgid: string) {
    return this.call<T.WecomResponse>('externalcontact/cancel_groupmsg_send', { body: { msgid } });
  }

  /** externalcontact/get_groupmsg_send_result [D:92135]. */
  getGroupMsgSendResult(body: { msgid: string; userid: string; limit?: number; cursor?: string }) {
    return this.call<T.GroupMsgSendResultResponse>('externalcontact/get_groupmsg_send_result', { body });
  }

  /**
   * kf/send_msg [D:94677]: only inside the 48 h window after the customer's last message, 5 messages at most, and only
   * while the session is new or the bot's (states 0 and 1; 95018 once a person serves it). Never retried in the call.
   */
  kfSendMsg(body: T.KfOutboundMessage & { touser: string; open_kfid: string; msgid?: string }) {
    return this.call<T.WecomResponse & { msgid: string }>('kf/send_msg', { body, retries: 0 });
  }

  /** kf/send_msg_on_event [D:95122]: one message with an event's code (enter_session's welcome_code: 20 s, once). */
  kfSendMsgOnEvent(body: T.KfOutboundMessage & { code: string; msgid?: string }, opts: CallOptions = {}) {
    return this.call<T.WecomResponse & { msgid: string }>('kf/send_msg_on_event', { retries: 0, ...opts, body });
  }

  /**
   * kf/sync_msg [D:94670]: the next page after `cursor`. `token` is the callback's (valid 10 min); without it the call
   * is strictly rate limited. `has_more` is an int, and an empty page may still have more.
   */
  kfSyncMsg(body: { open_kfid: string; cursor?: string; token?: string; limit?: number }) {
    return this.call<T.KfSyncMsgResponse>('kf/sync_msg', { body });
  }

  /** kf/service_state/get [D:94669]. */
  kfServiceStateGet(openKfid: string, externalUserId: string) {
    return this.call<T.KfServiceStateResponse>('kf/service_state/get', { body: { open_kfid: openKfid, external_userid: externalUserId } });
  }

  /** kf/service_state/trans [D:94669]: 2 = the queue, 3 = a servicer (required, on duty), 4 = end. */
  kfServiceStateTrans(body: { open_kfid: string; external_userid: string; service_state: number; servicer_userid?: string }) {
    return this.call<T.WecomResponse & { msg_code?: string }>('kf/service_state/trans', { body, retries: 0 });
  }

  /** kf/customer/batchget [D:95159]: 1 to 100 customers, with their last 48 h session context. */
  kfCustomerBatchget(externalUserIds: string[]) {
    return this.call<T.KfCustomerBatchgetResponse>('kf/customer/batchget', { body: { external_userid_list: externalUserIds, need_enter_session_context: 1 } });
  }

  /** kf/servicer/list (GET): the servicers of an account and whether each is on duty (status 0). */
  kfServicerList(openKfid: string) {
    return this.call<T.KfServicerListResponse>('kf/servicer/list', { query: { open_kfid: openKfid } });
  }

  /** kf/account/list [D:94661] (POST). */
  kfAccountList(body: { offset?: number; limit?: number } = {}) {
    return this.call<T.KfAccountListResponse>('kf/account/list', { body });
  }

  /** kf/add_contact_way [D:94665]: the account's link; `scene` (≤32 bytes of [0-9a-zA-Z_-]) comes back in enter_session. */
  kfAddContactWay(body: { open_kfid: string; scene?: string }) {
    return this.call<T.WecomResponse & { url: string }>('kf/add_contact_way', { body });
  }

  /**
   * webhook/send [D:99110]: a message into a group through its 消息推送 webhook (authorised by its key, no access
   * token; 20 messages a minute per webhook). Never retried in the call: a timeout may have posted it.
   */
  async webhookSend(key: string, body: { msgtype: 'markdown' | 'text'; markdown?: { content: string }; text?: { content: string } }) {
    return this.call<T.WecomResponse>('webhook/send', { body, query: { key }, retries: 0, noToken: true });
  }

  /**
   * A robot message's response_url [D:101138]: plain JSON (not encrypted), no access token, usable once within an
   * hour. Never retried in the call: a second POST is refused.
   */
  respond(responseUrl: string, body: { msgtype: 'markdown'; markdown: { content: string } }) {
    return this.call<T.WecomResponse>('aibot/response', { url: responseUrl, body, retries: 0, noToken: true });
  }

  /**
   * message/send [D:90236]: an app message to staff, within each member's per-member limits (memberMessageLimits):
   * waits for room up to `quotaWaitMs`, else throws QuotaWaitError (nothing sent).
   */
  sendAppText(touser: string[], content: string, opts: Pick<CallOptions, 'quotaWaitMs'> = {}) {
    return this.call<T.WecomResponse & { invaliduser?: string }>('message/send', {
      ...opts,
      body: { touser: touser.join('|'), msgtype: 'text', agentid: this.opts.agentId, text: { content } },
      retries: 0,
    });
  }
}

/** undici's codes for a call that outlived its timeout (waiting for the answer's head, or for its body). */
const isTimeout = (err: unknown) => ['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'].includes((err as { code?: string }).code ?? '');

/** A call that got no answer: refused before anything was sent (WeCom cannot have acted), or may have reached it. */
function transportError(api: string, err: unknown): WecomApiError {
  const code = (err as { code?: string }).code ?? (err as { cause?: { code?: string } }).cause?.code;
  const refused = code === 'ECONNREFUSED';
  return WecomApiError.transport(api, isTimeout(err) ? 'timeout' : refused ? 'connection refused' : 'network error', undefined, !refused);
}
