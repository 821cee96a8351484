/** WeCom errcodes the sandbox answers with, and the error type its domain rules throw. */
import { randomBytes } from 'node:crypto';

/** errmsg base texts; codes and meanings from the global error-code page [D:90313]. Clients must branch on errcode only. */
const ERRMSG: Readonly<Record<number, string>> = {
  [-1]: 'system busy',
  0: 'ok',
  404: 'not found',
  40001: 'invalid credential',
  40008: 'invalid message type',
  40013: 'invalid corpid',
  40014: 'invalid access_token',
  40058: 'invalid parameter',
  40068: 'invalid tagid',
  40071: 'invalid tag name, tag name already exists',
  40096: 'invalid external userid',
  40126: 'corp tag count reaches the limit',
  41001: 'access_token missing',
  41002: 'corpid missing',
  41004: 'corpsecret missing',
  41009: 'missing userid',
  41011: 'missing agentid',
  41035: 'missing external userid',
  41037: 'missing contact way type',
  41038: 'missing contact way scene',
  41039: 'invalid contact way type',
  41040: 'invalid contact way scene',
  41041: 'contact way user count exceeds the limit',
  41043: 'missing contact way config_id',
  41044: 'invalid contact way config_id',
  41046: 'missing msgid',
  41047: 'invalid msgid',
  41048: 'no customer to send to',
  41049: 'missing welcome_code',
  41050: 'invalid welcome_code',
  41051: 'customer has already started chatting',
  42001: 'access_token expired',
  44004: 'empty content',
  45009: 'api freq out of limit',
  47001: 'data format error',
  60111: 'userid not found',
  81013: 'user & party & tag all invalid',
  82001: 'all touser & toparty & totag invalid',
  84061: 'not external contact',
  93000: 'invalid webhook url',
  95000: 'invalid open_kfid',
  95001: 'send msg count reaches the limit',
  95002: 'send msg outside the time window',
  95004: 'open_kfid not exist',
  95007: 'invalid msg token',
  95014: 'servicer not activated or not on duty',
  95016: 'invalid service state transition',
  95018: 'send msg session status invalid',
};

/** A WeCom-style error raised by a sandbox domain rule; the server turns it into `{errcode, errmsg}`. */
export class SandboxApiError extends Error {
  constructor(
    readonly errcode: number,
    detail?: string,
  ) {
    super(detail ?? ERRMSG[errcode] ?? 'error');
    this.name = 'SandboxApiError';
  }
}

/** Formats an errmsg the way WeCom does (base text, hint, doc link), so nobody is tempted to match on it. */
export function errmsgFor(errcode: number, detail?: string): string {
  if (errcode === 0) return 'ok';
  const base = ERRMSG[errcode] ?? 'error';
  const hint = `${Math.floor(Date.now() / 1000)}_${randomBytes(4).toString('hex')}`;
  return (
    `${base}${detail && detail !== base ? `: ${detail}` : ''}, hint: [${hint}], ` +
    `more info at https://open.work.weixin.qq.com/devtool/query?e=${errcode}`
  );
}
