import type { BotContext } from '../../context.js';
import { WELCOME_TEXT_BYTES } from '../../content/channels.js';
import { renderWithin } from '../../content/render.js';
import { WecomApiError } from '../../errors.js';
import { welcomeLatency } from '../../metrics.js';
import { jobIds } from '../../queues/job-ids.js';
import type { DeliveryStatus } from '../../store/models/delivery.js';
import type { ExternalContactResponse, WelcomeMessage } from '../../wecom/types.js';
import { cachedProfile, keepProfile } from '../leads/profile-cache.js';
import type { WelcomeJob } from './plan-welcome.js';

/** 41051: the customer already chatted / the code was already used — never retry [D:92137]. */
const ALREADY_STARTED = 41051;
/** 41096: another app is delivering this code right now — a retry is allowed [D:92599]. */
const OTHER_APP_DELIVERING = 41096;
/** How long the name lookup may hold up a welcome before we send without a name. */
const PROFILE_BUDGET_MS = 2_000;
/** How long a fetched profile is kept for the contact-sync job (which then needs no externalcontact/get). */

type Ctx = Pick<BotContext, 'channels' | 'wecom' | 'redis' | 'keys' | 'queues' | 'log'>;

/**
 * Sends a channel's welcome with the event's WelcomeCode, once, inside the 20 s window, touching the database only
 * after WeCom has answered: the window is too short to wait on a busy database, and a WelcomeCode is single-use, so
 * WeCom itself refuses a second send (41051). Calls are counted in Redis before each attempt and answers that prove
 * nothing was sent are counted too: after a call that may have reached WeCom (a worker died mid-call, or the call
 * timed out), 41051 means "sent", otherwise "chat already started". Past the deadline nothing is sent; the miss is
 * recorded instead, as `unknown` when a call that may have reached WeCom came before it. The outcome goes to the
 * records queue (first writer wins). Throws a retryable error while a retry can still make the window.
 */
export async function sendWelcome(ctx: Ctx, d: WelcomeJob, run: { lastAttempt: boolean }): Promise<DeliveryStatus> {
  const lead = { corpId: d.corpId, externalUserId: d.externalUserId };
  const key = jobIds.welcome(d.dedupeKey);
  const remaining = () => d.deadline - Date.now();
  const channel = ctx.channels.get(d.channelKey);

  let sentText: { content: string } | null = null;
  const finish = async (status: DeliveryStatus, type: `welcome_${DeliveryStatus}`, detail: Record<string, unknown>) => {
    const at = new Date();
    const delivery = {
      key, kind: 'welcome', via: 'welcome' as const, ...lead, userId: d.userId, status, content: sentText,
      attempts: (detail.attempts as number) ?? 0, errcode: (detail.errcode as number) ?? null, reason: (detail.reason as string) ?? null,
      ...(status === 'sent' ? { sentAt: at } : {}),
    };
    await ctx.queues.add('records', { delivery, step: { type, detail, at } }, { jobId: jobIds.record(key) });
    if (status === 'sent') ctx.log.info({ externalUserId: d.externalUserId, channel: d.channelKey }, 'welcome sent');
    return status;
  };

  if (!channel?.welcome) return finish('skipped', 'welcome_skipped', { reason: 'channel_has_no_welcome' });
  const msg: WelcomeMessage = { welcome_code: d.welcomeCode };
  if (remaining() > 0) {
    const name = await customerName(ctx, d, Math.min(PROFILE_BUDGET_MS, remaining() - 1_000));
    // Within WeCom's 4000 bytes [D:92137] whatever the name: a long one is cut, the welcome is still sent.
    const content = channel.welcome.text && renderWithin(channel.welcome.text, { name, channel: channel.name }, WELCOME_TEXT_BYTES);
    if (content) msg.text = sentText = { content };
    if (channel.welcome.link) msg.attachments = [{ msgtype: 'link', link: channel.welcome.link }];
  }
  const calls = ctx.keys.welcomeCalls(d.dedupeKey);
  // Checked again right before the call: the name lookup took time. An earlier call may still have delivered it.
  if (remaining() <= 200) {
    const [made, clear] = await ctx.redis.hmget(calls, 'calls', 'clear');
    return Number(made ?? 0) > Number(clear ?? 0)
      ? finish('unknown', 'welcome_unknown', { reason: 'deadline_passed_after_a_call_that_may_have_sent', attempts: Number(made) })
      : finish('expired', 'welcome_expired', { reason: 'deadline_passed_before_send' });
  }

  const counted = await ctx.redis.multi().hincrby(calls, 'calls', 1).hget(calls, 'clear').expire(calls, 86_400).exec();
  const attempt = Number(counted?.[0]?.[1] ?? 1);
  // Every earlier call that got a clear refusal is counted in `clear`; any other earlier call may have sent.
  const earlierMayHaveSent = attempt - 1 > Number(counted?.[1]?.[1] ?? 0);
  try {
    await ctx.wecom.sendWelcomeMsg(msg, { timeoutMs: Math.min(5_000, remaining()), quotaWaitMs: Math.max(0, remaining() - 500) });
  } catch (err) {
    if (!(err instanceof WecomApiError)) throw err;
    if (!err.ambiguous) await ctx.redis.hincrby(calls, 'clear', 1);
    if (err.errcode === ALREADY_STARTED) {
      return earlierMayHaveSent
        ? finish('sent', 'welcome_sent', { confirmedBy: ALREADY_STARTED, attempts: attempt })
        : finish('skipped', 'welcome_skipped', { reason: 'chat_already_started', errcode: err.errcode, attempts: attempt });
    }
    const retryable = err.retryable || err.errcode === OTHER_APP_DELIVERING;
    if (retryable && !run.lastAttempt && remaining() > 500) throw err; // BullMQ backs off and tries again
    // No retry left. A call that may have reached WeCom (this one timed out, or an earlier one) makes it unknown.
    if (err.ambiguous || earlierMayHaveSent) {
      return finish('unknown', 'welcome_unknown', { reason: 'no_clear_answer_within_window', errcode: err.errcode, attempts: attempt });
    }
    return retryable
      ? finish('expired', 'welcome_expired', { reason: 'not_sent_within_window', errcode: err.errcode, attempts: attempt })
      : finish('failed', 'welcome_failed', { errcode: err.errcode, reason: err.errmsg, attempts: attempt });
  }
  welcomeLatency.observe((Date.now() - d.receivedAt) / 1000);
  return finish('sent', 'welcome_sent', { channel: d.channelKey, attempts: attempt });
}

/**
 * The customer's name for {{name}}: from the profile another job fetched moments ago, else a quick
 * externalcontact/get (best effort), never from the database (a new contact has no stored name yet).
 */
async function customerName(ctx: Ctx, d: WelcomeJob, budgetMs: number): Promise<string> {
  const lead = { corpId: d.corpId, externalUserId: d.externalUserId };
  const cached = await cachedProfile(ctx, lead);
  if (cached) return cached.external_contact?.name ?? '';
  if (budgetMs < 200) return '';
  let res: ExternalContactResponse;
  try {
    res = await ctx.wecom.getExternalContact(d.externalUserId, { retries: 0, timeoutMs: budgetMs, quotaWaitMs: budgetMs });
  } catch (err) {
    ctx.log.warn({ err: (err as Error).message, externalUserId: d.externalUserId }, 'name lookup failed; welcoming without a name');
    return '';
  }
  // Kept briefly for the contact-sync job, so a new contact costs one externalcontact/get, not two.
  await keepProfile(ctx, lead, res);
  return res.external_contact.name ?? '';
}
