/** Coded errors used across the bot: one place so callers branch on codes, never on message text. */

export enum ErrorCode {
  ConfigInvalid = 'config_invalid',
  TemplateInvalid = 'template_invalid',
  SignatureInvalid = 'signature_invalid',
  TimestampStale = 'timestamp_stale',
  ReceiveIdMismatch = 'receive_id_mismatch',
  DecryptFailed = 'decrypt_failed',
  PayloadMalformed = 'payload_malformed',
  WecomApi = 'wecom_api',
  WecomNetwork = 'wecom_network',
  PortInUse = 'port_in_use',
}

/** An error with a stable code; `status` is the HTTP status a receiver answers with. */
export class CodedError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly status = 500,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Start-up configuration problems: every issue is listed, no secret value is ever included. */
export class ConfigError extends CodedError {
  constructor(readonly problems: string[]) {
    super(ErrorCode.ConfigInvalid, `invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

/** Invalid ops-staff templates (channels, sequences, cases), each problem naming file and field. */
export class TemplateError extends CodedError {
  constructor(readonly problems: string[]) {
    super(ErrorCode.TemplateInvalid, `invalid templates:\n  - ${problems.join('\n  - ')}`);
  }
}

/** A callback that failed verification or parsing; `status` is the 4xx to answer. */
export class CallbackError extends CodedError {}

/** errcodes after which the access token must be refreshed and the call retried once [D:91039]. */
export const TOKEN_ERRCODES: ReadonlySet<number> = new Set([40014, 40082, 42001, 42009]);
/** errcodes worth retrying with backoff: system busy, frequency limit, too many concurrent calls. */
export const RETRYABLE_ERRCODES: ReadonlySet<number> = new Set([-1, 45009, 45033]);

/** A WeCom API call that answered with errcode != 0, or failed on the network / with a 5xx. */
export class WecomApiError extends CodedError {
  constructor(
    readonly api: string,
    readonly errcode: number,
    readonly errmsg: string,
    readonly retryable: boolean,
    readonly httpStatus?: number,
    /**
     * WeCom may have acted on the call (a timeout, a connection lost mid-request, a 5xx): safe to retry only for
     * idempotent calls. An errcode answer is never ambiguous.
     */
    readonly ambiguous = false,
  ) {
    super(
      httpStatus === undefined && errcode === 0 ? ErrorCode.WecomNetwork : ErrorCode.WecomApi,
      `WeCom ${api} failed: errcode ${errcode} (${errmsg})`,
    );
  }

  /** Builds the error for an errcode response, classifying it as retryable or permanent. */
  static fromErrcode(api: string, errcode: number, errmsg: string): WecomApiError {
    return new WecomApiError(api, errcode, errmsg, RETRYABLE_ERRCODES.has(errcode));
  }

  /** Builds the (retryable) error for a network failure, timeout or 5xx answer. */
  static transport(api: string, reason: string, httpStatus?: number, ambiguous = true): WecomApiError {
    return new WecomApiError(api, 0, reason, true, httpStatus, ambiguous);
  }
}

/**
 * A call the bot's own per-recipient limit held back (src/wecom/rate-limiter.ts, RecipientLimiter): nothing was sent,
 * and the wait for room would have gone past what the caller allows. Retryable, never ambiguous; `retryAt` (ms epoch)
 * is when there may be room, for the caller's job to wait until then instead of backing off blindly.
 */
export class QuotaWaitError extends WecomApiError {
  constructor(
    api: string,
    reason: string,
    readonly retryAt: number,
  ) {
    super(api, 0, reason, true, undefined, false);
  }
}
