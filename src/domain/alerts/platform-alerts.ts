import type { BotContext } from '../../context.js';
import type { WecomApiError } from '../../errors.js';
import { localDay } from '../nurture/clock.js';
import { raiseAlert } from './ops-alerts.js';

/**
 * WeCom errors no retry fixes: a person must change a setting in the admin console or the bot's configuration
 * (docs/setup.md). What each one means, for the alert.
 */
export const NEEDS_A_PERSON: Readonly<Record<number, string>> = {
  48002: '接口无权限：应用不在「客户联系 → API → 可调用接口的应用」（微信客服另有同名列表）里',
  60020: '服务器出口 IP 不在应用的「企业可信 IP」里',
  60011: '无权限：成员或部门不在应用的可见范围内',
  40001: '获取 access_token 失败：Secret 不对（WECOM_SECRET）',
  40013: '获取 access_token 失败：企业 ID 不对（WECOM_CORP_ID）',
  40091: '获取 access_token 失败：Secret 已失效，请在管理后台重新获取（WECOM_SECRET）',
};

/** APIs whose errors are reported where they happen (an alert about the webhook cannot go through the webhook). */
const REPORTED_ELSEWHERE = new Set(['webhook/send', 'aibot/response']);

type Ctx = Pick<BotContext, 'config' | 'queues' | 'redis' | 'keys' | 'wecom' | 'log'>;

/**
 * The WeCom client's error listener (wired by the app): an error a person must fix (48002, 60020, invalid
 * credentials, a token that cannot be fetched) raises one ops alert per errcode per day (in OPS_TIMEZONE); everything
 * else is the caller's business. Fire and forget: the call that failed is not held up.
 */
export function platformErrorListener(ctx: Ctx): (err: WecomApiError) => void {
  const raised = new Set<string>();
  return (err) => {
    if (REPORTED_ELSEWHERE.has(err.api)) return;
    const meaning = NEEDS_A_PERSON[err.errcode] ?? (err.api === 'gettoken' ? `获取 access_token 失败（错误码 ${err.errcode}）` : null);
    if (!meaning) return;
    const key = `platform|${err.errcode}|${localDay(Date.now(), ctx.config.OPS_TIMEZONE)}`;
    // One insert per errcode and day from this process; the alert's key makes it once across processes.
    if (raised.has(key)) return;
    raised.add(key);
    raiseAlert(ctx, {
      key,
      kind: 'platform_error',
      title: `企业微信错误 ${err.errcode}，需要有人处理`,
      text: `${meaning}。接口 ${err.api}。处理前相关功能会一直失败；同一错误今天不再重复提醒。`,
    }).catch((e: Error) => {
      raised.delete(key);
      ctx.log.error({ errcode: err.errcode, err: e.message }, 'platform alert could not be raised');
    });
  };
}
