import type { BotContext } from '../../context.js';
import { WecomApiError } from '../../errors.js';
import { attemptFenceId, releaseFences, takeFence } from '../../store/delivery-ledger.js';
import { Fence } from '../../store/models/fence.js';
import { takeWebhookSend } from '../alerts/webhook-window.js';
import { addDays } from '../commands/period.js';
import { localDay } from '../nurture/clock.js';
import { buildDailyReport } from './daily-report.js';

/** The report of a day is one delivery: its fence is taken once, whatever runs the job. */
const reportKey = (day: string) => `report|${day}`;

type Ctx = Pick<BotContext, 'config' | 'channels' | 'redis' | 'keys' | 'wecom' | 'log'>;

/**
 * Posts the daily report of the day before `slotMs` (in OPS_TIMEZONE) to the ops group's webhook, exactly once per
 * day: the scheduler makes one job per slot however many workers run, and a fence keyed by the date stops a re-run
 * (a re-registered schedule, a retry, a second slot the same day). The report shares the webhook's 20 a minute with
 * alerts: with no send free it waits (the job retries). Returns what happened.
 */
export async function postDailyReport(ctx: Ctx, slotMs: number): Promise<string> {
  const day = addDays(localDay(slotMs, ctx.config.OPS_TIMEZONE), -1);
  const fence = { id: attemptFenceId(reportKey(day), 1), kind: 'attempt' as const, for: reportKey(day) };
  // A re-run costs one read by _id, not a report.
  if (await Fence.exists({ _id: fence.id })) return 'already_sent';
  const markdown = await buildDailyReport(ctx, day, 'zh');
  const webhook = ctx.config.WECOM_OPS_WEBHOOK_KEY;
  if (!webhook) {
    if (await takeFence(fence)) ctx.log.info({ day }, 'daily report not posted: WECOM_OPS_WEBHOOK_KEY is not set');
    return 'off';
  }
  const slot = await takeWebhookSend(ctx.redis, ctx.keys, webhook);
  if (!slot.ok) throw new Error(`the ops webhook has no send free for ${Math.ceil(slot.waitMs / 1000)} s; the report waits`);
  if (!(await takeFence(fence))) return 'already_sent';
  try {
    await ctx.wecom.webhookSend(webhook, { msgtype: 'markdown', markdown: { content: markdown } });
  } catch (err) {
    // WeCom clearly did not post it (a refusal for now, or an error that is not WeCom's answer: the client makes every
    // failure of the request a WecomApiError, so that one came before it was sent, e.g. Redis failing in the client's
    // rate limiter): give the day back, so the job's retry posts it.
    if (!(err instanceof WecomApiError) || (!err.ambiguous && (err.retryable || err.errcode === 45009))) {
      await releaseFences([fence.id], fence.for);
      throw err;
    }
    ctx.log.error({ day, errcode: err.errcode, reason: err.errmsg }, err.ambiguous ? 'daily report may or may not have been posted; not sent again' : 'daily report not posted');
    return err.ambiguous ? 'unknown' : 'failed';
  }
  ctx.log.info({ day, bytes: Buffer.byteLength(markdown) }, 'daily report posted');
  return 'sent';
}
