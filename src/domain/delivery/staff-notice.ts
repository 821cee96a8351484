import type { BotContext } from '../../context.js';
import { QuotaWaitError, WecomApiError } from '../../errors.js';
import { jobIds } from '../../queues/job-ids.js';
import { attemptFenceId, takeFence, type Outcome } from '../../store/delivery-ledger.js';
import { leadId } from '../../store/models/lead.js';
import { upgradeNews, type UpgradeCheck } from '../leads/upgrade-news.js';
import type { SentKind } from '../../store/timeline-types.js';

/** A message to staff (an app message, message/send [D:90236]), sent once. */
export interface StaffNotice {
  /** Its delivery key: one message per key, ever. */
  key: string;
  userIds: string[];
  text: string;
  /** The lead it is about (its timeline shows the notice). */
  lead?: { corpId: string; externalUserId: string };
  /**
   * Sent only once the lead holds this many grade upgrades (the change it announces was saved), and only while it holds
   * no more and still has the grade it announces: a later upgrade's notice tells the lead's newer grade instead (one
   * message that moves a lead B→A→S is one notice, of S), a grade pinned lower meanwhile is not announced as a rise,
   * and a lead that opted out meanwhile is not one to chase.
   */
  check?: UpgradeCheck;
  /** What it is; a notice about a lead goes on its timeline as `<type>_<outcome>`. */
  type: NoticeKind;
  /** Attempts that WeCom refused clearly (nothing went out): the next one takes the next fence. */
  refused?: number;
}

/** The kinds of staff notice: about a lead (src/store/timeline-types.ts), or a campaign's task note to its sender. */
export const NOTICE_KINDS = ['kf_clock_notice', 'kf_intent_notice', 'grade_upgrade_notice', 'campaign_task_notice'] as const satisfies ReadonlyArray<Extract<SentKind, `${string}_notice`> | 'campaign_task_notice'>;
export type NoticeKind = (typeof NOTICE_KINDS)[number];

/** How long a notice waits for room in a member's per-member limit before its job waits as a delayed job instead. */
const QUOTA_WAIT_MS = 5_000;

/**
 * Sends a notice to staff exactly once (docs/architecture.md, "Exactly once"): attempt n's fence, the call, the
 * outcome through the records queue. A fence without an outcome (a crash mid-call) makes it `unknown`, never resent.
 * Returns what happened, with `deferTo` (ms) when a member is at the per-member limit of app messages: nothing was
 * sent, and the job waits until then. Throws (after counting the refused attempt) for BullMQ to retry a retryable
 * failure.
 */
export async function sendStaffNotice(
  ctx: Pick<BotContext, 'wecom' | 'queues' | 'log'>,
  n: StaffNotice,
  run: { lastAttempt: boolean; countRefused(attempt: number): Promise<void> },
): Promise<{ result: string; deferTo?: number }> {
  const news = n.check && n.lead ? await upgradeNews(leadId(n.lead.corpId, n.lead.externalUserId), n.check, n.text) : null;
  const stale = news?.stale ?? null;
  // The score as it is now, not as the save that raised the grade left it (the same message may have moved it since).
  if (news?.text) n = { ...n, text: news.text };
  if (stale === 'not_saved') {
    // Queued just before the lead's save: wait for it; a save that never came means there is nothing to tell.
    if (!run.lastAttempt) throw new Error(`upgrade ${n.check!.gradeUpgrades} of the lead is not saved yet`);
    return { result: 'not_needed' };
  }
  if (stale) return { result: `superseded:${stale}` };
  const attempt = (n.refused ?? 0) + 1;
  if (!(await takeFence({ id: attemptFenceId(n.key, attempt), kind: 'attempt', for: n.key }))) {
    await record(ctx, n, 'unknown', { reason: 'left_in_flight', attempts: attempt });
    return { result: 'unknown' };
  }
  try {
    await ctx.wecom.sendAppText(n.userIds, n.text, { quotaWaitMs: QUOTA_WAIT_MS });
  } catch (err) {
    if (!(err instanceof WecomApiError)) throw err;
    if (err.ambiguous) {
      await record(ctx, n, 'unknown', { reason: err.errmsg, attempts: attempt });
      return { result: 'unknown' };
    }
    if (err instanceof QuotaWaitError) {
      // A member has had as many app messages as the per-member limit allows [D:90236]: nothing went out. The
      // attempt is counted (its fence stays) and the job waits for room, however many attempts it has made.
      await run.countRefused(attempt);
      return { result: 'deferred:member_limit', deferTo: err.retryAt };
    }
    if (err.retryable && !run.lastAttempt) {
      await run.countRefused(attempt);
      throw err;
    }
    await record(ctx, n, 'failed', { errcode: err.errcode, reason: err.errmsg, attempts: attempt });
    return { result: 'failed' };
  }
  await record(ctx, n, 'sent', { attempts: attempt });
  ctx.log.info({ key: n.key, to: n.userIds }, 'notice sent to staff');
  return { result: 'sent' };
}

async function record(ctx: Pick<BotContext, 'queues'>, n: StaffNotice, status: 'sent' | 'failed' | 'unknown', detail: { reason?: string; errcode?: number; attempts: number }): Promise<void> {
  if (!n.lead || n.type === 'campaign_task_notice') return;
  const at = new Date();
  const outcome: Outcome = {
    delivery: { key: n.key, kind: 'notice', ...n.lead, userId: n.userIds[0] ?? '-', status, content: { text: n.text, to: n.userIds }, attempts: detail.attempts, errcode: detail.errcode ?? null, reason: detail.reason ?? null, sentAt: status === 'sent' ? at : null },
    step: { type: `${n.type}_${status}`, detail: { to: n.userIds, ...detail }, at },
  };
  await ctx.queues.add('records', outcome, { jobId: jobIds.record(n.key) });
}
