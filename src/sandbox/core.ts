/** What every API area of the sandbox WeCom shares: the clock, the calls it received, injected faults, rate windows. */
import { buildEncryptedCallback, toQueryString } from '../wecom/callback/crypto.js';
import { buildEncryptedJsonCallback } from '../wecom/callback/json.js';

/** Where and how the sandbox POSTs encrypted callbacks (a bot's callback URL and its secrets). */
export interface SandboxCallbackTarget {
  url: string;
  token: string;
  encodingAesKey: string;
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

interface QueuedFault extends SandboxFault {
  remaining: number;
}

/** Options of the core. */
export interface SandboxCoreOptions {
  corpId: string;
  callback?: SandboxCallbackTarget;
  /** api path (e.g. 'externalcontact/mark_tag') -> max calls per fixed 1-second window; over -> 45009. */
  rateLimits?: Record<string, number>;
  /** Clock (ms), default Date.now. Drives tokens, welcome codes, rate windows, CreateTime and callback timestamps. */
  now?: () => number;
  /** How long a posted callback waits for the bot; WeCom drops the connection after 5 s [D:90930]. */
  callbackTimeoutMs?: number;
}

/** The calls, faults, rate windows and callback delivery every API area uses. */
export class SandboxCore {
  readonly corpId: string;
  readonly now: () => number;
  /** Mutable so a dev CLI can point the sandbox at the bot once the bot is up. */
  callback: SandboxCallbackTarget | undefined;
  /** Where the sandbox itself listens (set when its server starts): the base of URLs it hands out (response_url). */
  url = 'http://127.0.0.1';
  /** Mutable: api path -> max calls per second. */
  rateLimits: Record<string, number>;
  /** Every request received, in arrival order (recorded on arrival, completed when answered). */
  readonly calls: CallRecord[] = [];

  private readonly callbackTimeoutMs: number;
  private faults: QueuedFault[] = [];
  private readonly rateWindows = new Map<string, { window: number; count: number }>();

  constructor(opts: SandboxCoreOptions) {
    this.corpId = opts.corpId;
    this.callback = opts.callback;
    this.rateLimits = { ...opts.rateLimits };
    this.now = opts.now ?? Date.now;
    this.callbackTimeoutMs = opts.callbackTimeoutMs ?? 5000;
  }

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

  /** Clears calls, faults and rate windows. */
  protected resetCore(): void {
    this.calls.length = 0;
    this.faults = [];
    this.rateWindows.clear();
  }

  /** Encrypts, signs and POSTs plaintext callback XML as WeCom does [D:90968]; returns the HTTP status. */
  async postCallbackXml(xml: string): Promise<number> {
    const cb = this.target();
    const { query, body } = buildEncryptedCallback({ token: cb.token, encodingAesKey: cb.encodingAesKey, receiveId: this.corpId }, xml, { timestamp: Math.floor(this.now() / 1000) });
    return (await this.post(cb.url, query, body, 'text/xml')).status;
  }

  /**
   * Encrypts, signs and POSTs a JSON callback as the 智能机器人 does (receiveid "") to `target` [D:101033]; returns the
   * HTTP status and the raw reply body.
   */
  async postCallbackJson(target: SandboxCallbackTarget, message: unknown): Promise<{ status: number; body: string }> {
    const { query, body } = buildEncryptedJsonCallback({ token: target.token, encodingAesKey: target.encodingAesKey, receiveId: '' }, message, { timestamp: Math.floor(this.now() / 1000) });
    const res = await this.post(target.url, query, body, 'application/json');
    return { status: res.status, body: res.text };
  }

  private target(): SandboxCallbackTarget {
    if (!this.callback) throw new Error('sandbox: no callback configured (pass callback to startSandbox or set state.callback)');
    return this.callback;
  }

  private async post(url: string, query: Parameters<typeof toQueryString>[0], body: string, type: string): Promise<{ status: number; text: string }> {
    const full = `${url}${url.includes('?') ? '&' : '?'}${toQueryString(query)}`;
    // No retries: WeCom retries unanswered callbacks, but tests want one delivery per call; call again to retry.
    const res = await fetch(full, { method: 'POST', headers: { 'content-type': type }, body, signal: AbortSignal.timeout(this.callbackTimeoutMs) });
    return { status: res.status, text: await res.text() };
  }
}
