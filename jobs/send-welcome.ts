import type { Job } from 'bullmq';
import type { BotContext } from '../src/context.js';
import { profileCacheKey, PROFILE_CACHE_SECONDS } from '../src/contacts/profile.js';
import { WecomApiError } from '../src/errors.js';
import { welcomeLatency } from '../src/metrics.js';
import { claimDelivery, Delivery } from '../src/models/delivery.js';
import { Lead, leadId } from '../src/models/lead.js';
import { recordStep } from '../src/models/timeline.js';
import type { WelcomeJobData } from '../src/queues/index.js';
import { render } from '../src/templates/render.js';
import type { ExternalContactResponse, WelcomeMessage } from '../src/wecom/types.js';

/** 41051: the customer already chatted / the code was already used — never retry [D:92137]. */
const ALREADY_STARTED = 41051;
/** 41096: another app is delivering this code right now — a retry is allowed [D:92599]. */
const OTHER_APP_DELIVERING = 41096;
/** How long the name lookup may hold up a welcome before we send without a name. */
const PROFILE_BUDGET_MS = 2_000;

/**
 * Sends a channel's welcome with the event's WelcomeCode, once, inside the 20 s window. The delivery record is
 * written before calling WeCom and marked in flight during the call. A run that finds it pending (a worker died
 * mid-send, or the call timed out) may send again: a WelcomeCode is single-use, so if the earlier call went
 * through WeCom answers 41051, which is then recorded as sent — and as "chat already started" when no earlier call
 * can have reached WeCom. Past the deadline nothing is sent; the miss is recorded instead.
 */
export async function sendWelcome(job: Job<WelcomeJobData>, ctx: BotContext): Promise<string> {
  const d = job.data;
  const lead = { corpId: d.corpId, externalUserId: d.externalUserId };
  const remaining = () => d.deadline - Date.now();
  const channel = ctx.channels.get(d.channelKey);

  // The message is prepared first, so the delivery is claimed (as in flight) only right before WeCom is called.
  const msg: WelcomeMessage = { welcome_code: d.welcomeCode };
  let sentText: { content: string } | null = null;
  if (channel?.welcome && remaining() > 0) {
    const name = await customerName(ctx, d, Math.min(PROFILE_BUDGET_MS, remaining() - 1_000));
    const content = channel.welcome.text && render(channel.welcome.text, { name, channel: channel.name });
    if (content) msg.text = sentText = { content };
    if (channel.welcome.link) msg.attachments = [{ msgtype: 'link', link: channel.welcome.link }];
  }

  const claimedAt = new Date();
  const delivery = await claimDelivery({ key: `welcome|${d.eventKey}`, kind: 'welcome', ...lead, userId: d.userId, inFlightAt: claimedAt, attempts: 1 });
  if (delivery.status !== 'pending') return `already ${delivery.status}`;
  // Created by this run (already marked in flight, attempt 1), or found from an earlier run.
  const fresh = delivery.inFlightAt?.getTime() === claimedAt.getTime();

  const finish = async (status: 'sent' | 'failed' | 'expired' | 'skipped', step: string, detail: Record<string, unknown>) => {
    await Delivery.updateOne(
      { _id: delivery._id, status: 'pending' },
      { $set: { status, inFlightAt: null, content: sentText, errcode: (detail.errcode as number) ?? null, reason: (detail.reason as string) ?? null, ...(status === 'sent' ? { sentAt: new Date() } : {}) } },
    );
    await recordStep(lead, `welcome|${d.eventKey}`, step, detail);
    return status;
  };

  if (!channel?.welcome) return finish('skipped', 'welcome_skipped', { reason: 'channel_has_no_welcome' });
  // Checked again right before the call: the name lookup took time.
  if (remaining() <= 200) return finish('expired', 'welcome_expired', { reason: 'deadline_passed_before_send' });
  const previous = fresh ? 0 : delivery.attempts;
  // Set by an earlier call that may have reached WeCom (crash mid-call, timeout); cleared after a clear answer.
  const earlierMayHaveSent = !fresh && delivery.inFlightAt !== null;
  if (!fresh) await Delivery.updateOne({ _id: delivery._id }, { $inc: { attempts: 1 }, $set: { inFlightAt: new Date() } });
  try {
    await ctx.wecom.sendWelcomeMsg(msg, { timeoutMs: Math.min(5_000, remaining()), quotaWaitMs: Math.max(0, remaining() - 500) });
  } catch (err) {
    if (!(err instanceof WecomApiError)) throw err;
    if (!err.ambiguous) await Delivery.updateOne({ _id: delivery._id }, { $set: { inFlightAt: null } });
    if (err.errcode === ALREADY_STARTED) {
      return earlierMayHaveSent
        ? finish('sent', 'welcome_sent', { confirmedBy: ALREADY_STARTED, attempts: previous + 1 })
        : finish('skipped', 'welcome_skipped', { reason: 'chat_already_started', errcode: err.errcode });
    }
    const retryable = err.retryable || err.errcode === OTHER_APP_DELIVERING;
    const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    if (retryable && !lastAttempt && remaining() > 500) throw err; // BullMQ backs off and tries again
    return retryable
      ? finish('expired', 'welcome_expired', { reason: 'not_sent_within_window', errcode: err.errcode })
      : finish('failed', 'welcome_failed', { errcode: err.errcode, reason: err.errmsg });
  }
  welcomeLatency.observe((Date.now() - d.receivedAt) / 1000);
  return finish('sent', 'welcome_sent', { channel: channel.key, attempts: previous + 1 });
}

/** The customer's name for {{name}}: from the lead if known, else a quick externalcontact/get (best effort). */
async function customerName(ctx: BotContext, d: WelcomeJobData, budgetMs: number): Promise<string> {
  const known = await Lead.findById(leadId(d.corpId, d.externalUserId), { name: 1 }).lean();
  if (known?.name) return known.name;
  if (budgetMs < 200) return '';
  let res: ExternalContactResponse;
  try {
    res = await ctx.wecom.getExternalContact(d.externalUserId, { retries: 0, timeoutMs: budgetMs, quotaWaitMs: budgetMs });
  } catch (err) {
    ctx.log.warn({ err: (err as Error).message, externalUserId: d.externalUserId }, 'name lookup failed; welcoming without a name');
    return '';
  }
  // Kept briefly for the contact-sync job, so a new contact costs one externalcontact/get, not two.
  await ctx.redis.set(profileCacheKey(ctx.config.QUEUE_PREFIX, d.corpId, d.externalUserId), JSON.stringify(res), 'EX', PROFILE_CACHE_SECONDS);
  return res.external_contact.name ?? '';
}
