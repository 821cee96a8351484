import type { BotContext } from '../../context.js';
import { WecomApiError } from '../../errors.js';
import { jobIds } from '../../queues/job-ids.js';
import { withLock } from '../../redis/lock.js';
import { createOnce } from '../../store/create-once.js';
import { attemptFenceId, releaseTakenFences, takeFence } from '../../store/delivery-ledger.js';
import { Alert } from '../../store/models/alert.js';
import { bytes, clipBytes } from '../../text-bytes.js';
import { upgradeNews, type UpgradeCheck } from '../leads/upgrade-news.js';
import { ALERT_SENDS_PER_MINUTE, takeWebhookSend } from './webhook-window.js';

/** An alert for the ops group. */
export interface OpsAlert {
  /** Its dedupe key: an alert with a key already raised is not raised again. */
  key: string;
  /** What kind: grade_upgrade, churn, service_breach, campaign_finished, platform_error, ... */
  kind: string;
  title: string;
  /** Markdown, short. */
  text: string;
  /** When it was raised (ms). */
  at: number;
  /**
   * A lead's grade upgrade: not posted unless its news still holds (src/domain/leads/upgrade-news.ts: no later upgrade,
   * no lower grade pinned, no opt-out meanwhile). Recorded `superseded`, with why.
   */
  check?: UpgradeCheck & { lead: string };
}

type Ctx = Pick<BotContext, 'config' | 'queues' | 'redis' | 'keys' | 'wecom' | 'log'>;

/** The markdown of a 消息推送 message: at most 4096 bytes [D:99110]. */
const MAX_BYTES = 4096;

/**
 * Raises an alert to the ops group (the group's 消息推送 webhook, WECOM_OPS_WEBHOOK_KEY): once per key, ever. With no
 * webhook configured the alert is kept (and logged) but not posted.
 */
export async function raiseAlert(ctx: Ctx, alert: Omit<OpsAlert, 'at'> & { at?: number }, opts: { delayMs?: number } = {}): Promise<'queued' | 'duplicate' | 'off'> {
  const at = alert.at ?? Date.now();
  const off = !ctx.config.WECOM_OPS_WEBHOOK_KEY;
  const created = await createOnce(Alert, { _id: alert.key, kind: alert.kind, title: alert.title, text: alert.text, status: off ? 'off' : 'queued', raisedAt: new Date(at) });
  if (!created) return 'duplicate';
  if (off) {
    ctx.log.info({ alert: alert.key, kind: alert.kind, title: alert.title }, 'ops alert kept, not posted: WECOM_OPS_WEBHOOK_KEY is not set');
    return 'off';
  }
  try {
    await ctx.queues.add('ops-alert', { ...alert, at }, { jobId: jobIds.alert(alert.key), ...(opts.delayMs ? { delay: opts.delayMs } : {}) });
  } catch (err) {
    // Not queued: the record goes too, so the caller's retry raises the alert again instead of taking it for a duplicate.
    await Alert.deleteOne({ _id: alert.key }).catch(() => undefined);
    throw err;
  }
  return 'queued';
}

/**
 * Posts one alert, at most once (its fence), if the webhook has a send free in the last minute; otherwise it joins
 * the digest, which goes out as one message as soon as a send frees: alerts are merged, never dropped.
 */
export async function deliverAlert(ctx: Ctx, a: OpsAlert): Promise<string> {
  const webhook = ctx.config.WECOM_OPS_WEBHOOK_KEY!;
  const news = a.check ? await upgradeNews(a.check.lead, a.check, a.text) : null;
  if (news?.stale) {
    await Alert.updateOne({ _id: a.key, status: 'queued' }, { $set: { status: 'superseded', reason: news.stale } });
    return 'superseded';
  }
  // The lead's score as it is now, not as the save that raised the grade left it (the same message may have moved it).
  if (news?.text && news.text !== a.text) {
    a = { ...a, text: news.text };
    await Alert.updateOne({ _id: a.key }, { $set: { text: a.text } });
  }
  const fence = attemptFenceId(`alert|${a.key}`, 1);
  if (!(await takeFence({ id: fence, kind: 'attempt', for: `alert|${a.key}` }))) return 'already_handled';
  let slot: Awaited<ReturnType<typeof takeWebhookSend>>;
  try {
    slot = await takeWebhookSend(ctx.redis, ctx.keys, webhook, ALERT_SENDS_PER_MINUTE);
    if (!slot.ok) return await toDigest(ctx, [a], slot.waitMs);
  } catch (err) {
    // Neither posted nor in the digest (Redis failed): the fence goes back, so the job's retry delivers it.
    await releaseTakenFences([fence]).catch(() => undefined);
    throw err;
  }
  try {
    await ctx.wecom.webhookSend(webhook, { msgtype: 'markdown', markdown: { content: clipBytes(`**${a.title}**\n${a.text}`, MAX_BYTES) } });
  } catch (err) {
    // Not WeCom's answer: the client makes every failure of the request a WecomApiError, so this one came before it
    // was sent (e.g. Redis failing in the client's rate limiter). Nothing was posted: the fence goes back, so the job's
    // retry delivers it instead of finding it handled.
    if (!(err instanceof WecomApiError)) {
      await releaseTakenFences([fence]).catch(() => undefined);
      throw err;
    }
    return settleFailure(ctx, [a], err);
  }
  await Alert.updateOne({ _id: a.key }, { $set: { status: 'sent', sentAt: new Date() } });
  ctx.log.info({ alert: a.key, kind: a.kind }, 'ops alert posted');
  return 'sent';
}

/**
 * Posts the waiting alerts as one digest (as many as fit in one message; the rest in the next one, when a send is
 * free again). One digest at a time across processes: two would post the same alerts, and the second's trim would
 * drop newer ones. Items leave the list only once the message that carries them is settled: a worker that dies
 * before that leaves them for the next digest (posted twice at worst, never lost).
 */
export async function sendDigest(ctx: Ctx): Promise<string> {
  const webhook = ctx.config.WECOM_OPS_WEBHOOK_KEY;
  if (!webhook) return 'off';
  return withLock(ctx.redis, ctx.keys.alertDigestLock(), () => postDigest(ctx, webhook), { ttlMs: 15_000, waitMs: 60_000 });
}

async function postDigest(ctx: Ctx, webhook: string): Promise<string> {
  // Nothing waiting (another digest took it): no send of the minute is used up for nothing.
  if (!(await ctx.redis.llen(ctx.keys.alertDigest()))) return 'empty';
  const slot = await takeWebhookSend(ctx.redis, ctx.keys, webhook, ALERT_SENDS_PER_MINUTE);
  if (!slot.ok) {
    await scheduleDigest(ctx, slot.waitMs);
    return 'waiting';
  }
  const raw = await ctx.redis.lrange(ctx.keys.alertDigest(), 0, 99);
  const items: OpsAlert[] = [];
  let text = '';
  for (const r of raw) {
    const a = JSON.parse(r) as OpsAlert;
    const line = `- **${a.title}** ${a.text.replace(/\s*\n\s*/g, ' ')}\n`;
    const head = `**运营提醒汇总（${items.length + 1} 条）**\n`;
    if (items.length && bytes(head + text + line) > MAX_BYTES) break;
    items.push(a);
    text += line;
  }
  if (!items.length) return 'empty';
  const trim = () => ctx.redis.ltrim(ctx.keys.alertDigest(), items.length, -1);
  try {
    await ctx.wecom.webhookSend(webhook, { msgtype: 'markdown', markdown: { content: clipBytes(`**运营提醒汇总（${items.length} 条）**\n${text}`, MAX_BYTES) } });
  } catch (err) {
    if (later(err)) {
      // Still in the list: the digest after WeCom's minute carries them.
      await scheduleDigest(ctx, 60_000);
      return 'digest';
    }
    // Not WeCom's answer (e.g. the connection): the items stay, and the job's retry posts them.
    if (!(err instanceof WecomApiError)) throw err;
    await trim();
    return settleFailure(ctx, items, err);
  }
  await trim();
  await Alert.updateMany({ _id: { $in: items.map((a) => a.key) } }, { $set: { status: 'digested', sentAt: new Date() } });
  ctx.log.info({ alerts: items.length }, 'ops alerts posted as one digest');
  if ((await ctx.redis.llen(ctx.keys.alertDigest())) > 0) await scheduleDigest(ctx, 0);
  return `digested:${items.length}`;
}

async function toDigest(ctx: Ctx, alerts: OpsAlert[], waitMs: number): Promise<string> {
  await ctx.redis.rpush(ctx.keys.alertDigest(), ...alerts.map((a) => JSON.stringify(a)));
  await scheduleDigest(ctx, waitMs);
  return 'digest';
}

/**
 * One digest job per second of its due time, however many alerts wait for it. At least a second ahead: a digest job
 * is named by the second it was due in, so the next one asked for from inside it (more alerts wait than it carried)
 * must fall in a later second, or it would be taken for the job itself (a job id BullMQ has already) and never run.
 */
async function scheduleDigest(ctx: Pick<BotContext, 'queues'>, waitMs: number): Promise<void> {
  const wait = Math.max(1000, waitMs);
  await ctx.queues.add('ops-alert-digest', {}, { jobId: jobIds.alertDigest(Math.ceil((Date.now() + wait) / 1000)), delay: wait });
}

/** A post refused for now (WeCom's own count, 45009, or a retryable error that surely sent nothing): tried again later. */
const later = (err: unknown): boolean => err instanceof WecomApiError && (err.errcode === 45009 || (err.retryable && !err.ambiguous));

/** A post that failed: one refused for now waits in the digest; anything else is recorded, not retried. */
async function settleFailure(ctx: Ctx, alerts: OpsAlert[], err: unknown): Promise<string> {
  if (!(err instanceof WecomApiError)) throw err;
  if (later(err)) return toDigest(ctx, alerts, 60_000);
  const status = err.ambiguous ? 'unknown' : 'failed';
  await Alert.updateMany({ _id: { $in: alerts.map((a) => a.key) } }, { $set: { status, reason: `${err.errcode}: ${err.errmsg}` } });
  ctx.log.error({ alerts: alerts.map((a) => a.key), errcode: err.errcode, reason: err.errmsg }, err.errcode === 93000 ? 'ops alert not posted: the webhook key is wrong or was removed (WECOM_OPS_WEBHOOK_KEY)' : 'ops alert not posted');
  return status;
}
