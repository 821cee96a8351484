import type { BotContext } from '../../context.js';
import { jobIds } from '../../queues/job-ids.js';
import { CampaignRecord } from '../../store/models/campaign.js';
import { CampaignGroup } from '../../store/models/campaign-group.js';
import { CampaignRun } from '../../store/models/campaign-run.js';
import { Pause } from '../../store/models/pause.js';
import { pausedFor, pauseMember } from '../pause/pauses.js';
import { FOLLOW_UP_WINDOW_MS, type FollowUp } from './follow-up.js';
import { FOLLOW_UP_AFTER_MS } from './run.js';
import { groupPoll } from './send-record.js';
import { syncAllSchedules } from './schedule.js';
import { withdrawTasks } from './withdraw.js';

type Ctx = Pick<BotContext, 'config' | 'queues' | 'redis' | 'keys' | 'log' | 'wecom'>;

/** Whether a job exists and can run: its hash, and for one due later its place in the delayed set. */
async function jobMissing(ctx: Ctx, name: 'campaign-run' | 'mass-result' | 'campaign-follow-up', id: string, future: boolean): Promise<boolean> {
  const queue = ctx.queues.get(name);
  const [[, exists], [, delayed]] = (await ctx.redis.multi().exists(queue.toKey(id)).zscore(queue.toKey('delayed'), id).exec()) as [[null, number], [null, string | null]];
  if (!exists) return true;
  if (future && delayed === null) {
    // A hash left in no set (what a partial loss of Redis data leaves): removed, so the job can be added again.
    await ctx.redis.del(queue.toKey(id));
    return true;
  }
  return false;
}

/**
 * Whether a campaign's paused run is to stay paused: the campaign is paused (in MongoDB, which the pause set in Redis
 * is restored from, or in that set) and not cancelled (a cancelled campaign keeps its pause; its run ends cancelled).
 */
async function heldByPause(ctx: Ctx, key: string): Promise<boolean> {
  if ((await CampaignRecord.findById(key, { status: 1 }).lean())?.status === 'cancelled') return false;
  return Boolean((await Pause.exists({ _id: pauseMember({ kind: 'campaign', target: key }) })) || (await pausedFor(ctx, { campaign: key })));
}

/**
 * Re-creates what a campaign needs in Redis from MongoDB, after Redis lost it (a flush, a failover) or a job failed
 * for good: each open run's job (it resumes from its checkpoint; its fences keep it from sending anything twice;
 * a paused run once its campaign is no longer paused),
 * each unsettled group's next poll, the withdrawal of a cancelled campaign's tasks WeCom did not answer about (or a
 * crash cut short: withdraw.ts), the last follow-up count of runs that ended in the last 8 days, and the campaigns'
 * schedules. Job ids are deterministic, so nothing that exists is doubled. `seeded` as for reconcile
 * (src/domain/nurture/reconcile.ts).
 */
export async function reconcileCampaigns(ctx: Ctx, opts: { seeded?: boolean } = {}): Promise<{ runs: number; polls: number; followUps: number; withdrawn: number }> {
  const now = Date.now();
  let runs = 0;
  let polls = 0;
  let followUps = 0;
  let withdrawn = 0;
  /** Campaigns with tasks waiting for their owner and no answer to a withdrawal: those cancelled are withdrawn. */
  const toWithdraw = new Set<string>();
  for (const r of await CampaignRun.find({ status: { $in: ['running', 'waiting', 'paused'] } }, { _id: 1, nextAt: 1, status: 1, campaignKey: 1 }).lean()) {
    // A paused run has no job while its campaign is paused. One whose campaign was resumed (or cancelled) goes on:
    // a resume that found the run's job still finishing as it paused could not wake it (control.ts).
    if (r.status === 'paused' && (await heldByPause(ctx, r.campaignKey))) continue;
    const id = jobIds.campaignRun(String(r._id));
    const due = r.nextAt?.getTime() ?? 0;
    if (await jobMissing(ctx, 'campaign-run', id, due > now + 1000)) {
      await ctx.queues.add('campaign-run', { runId: String(r._id) }, { jobId: id, delay: Math.max(0, due - now) });
      runs++;
    }
  }
  const schedule = ctx.config.MASS_RESULT_POLL_SCHEDULE;
  for (const g of await CampaignGroup.find({ status: 'submitted', via: 'mass' }, { runId: 1, campaignKey: 1, corpId: 1, msgid: 1, sender: 1, createdAt: 1, deliveryKeyPrefix: 1, withdrawnAt: 1, withdrawRefused: 1 }).lean()) {
    if (!g.msgid) continue;
    if (!g.withdrawnAt && !g.withdrawRefused) toWithdraw.add(g.campaignKey);
    const elapsed = now - g.createdAt.getTime();
    const next = schedule.findIndex((t) => t > elapsed);
    const attempt = next === -1 ? schedule.length - 1 : next;
    const due = g.createdAt.getTime() + schedule[attempt]!;
    const id = jobIds.massPoll(String(g._id), attempt);
    if (await jobMissing(ctx, 'mass-result', id, due > now + 1000)) {
      await ctx.queues.add('mass-result', groupPoll({ ...g, _id: String(g._id), msgid: g.msgid }, attempt), { jobId: id, delay: Math.max(0, due - now) });
      polls++;
    }
  }
  const last = FOLLOW_UP_AFTER_MS.length - 1;
  // A final count may wait for leads reached late, up to 7 days past the last mass-message result (follow-up.ts).
  const since = new Date(now - FOLLOW_UP_AFTER_MS[last]! - schedule[schedule.length - 1]! - FOLLOW_UP_WINDOW_MS - 86_400_000);
  for (const r of await CampaignRun.find({ status: { $in: ['finished', 'cancelled'] }, finishedAt: { $gte: since } }, { finishedAt: 1, followUp: 1 }).lean()) {
    const f = r.followUp as Pick<FollowUp, 'final' | 'finalAt'> | null;
    if (f?.final) continue;
    const due = f?.finalAt ? new Date(f.finalAt).getTime() : r.finishedAt!.getTime() + FOLLOW_UP_AFTER_MS[last]!;
    const id = jobIds.campaignFollowUp(String(r._id), last);
    if (await jobMissing(ctx, 'campaign-follow-up', id, due > now + 1000)) {
      await ctx.queues.add('campaign-follow-up', { runId: String(r._id), final: true }, { jobId: id, delay: Math.max(0, due - now) });
      followUps++;
    }
  }
  for (const key of toWithdraw) {
    if ((await CampaignRecord.findById(key, { status: 1 }).lean())?.status === 'cancelled') withdrawn += await withdrawTasks(ctx, key);
  }
  await syncAllSchedules(ctx);
  if ((runs || polls || followUps) && opts.seeded) ctx.log.info({ runs, polls, followUps }, 'scheduled the campaign jobs of the data just seeded');
  else if (runs || polls || followUps) ctx.log.warn({ runs, polls, followUps }, 'reconciler restored campaign jobs missing from Redis');
  if (withdrawn) ctx.log.warn({ withdrawn }, 'reconciler withdrew tasks of cancelled campaigns left waiting for their owners');
  return { runs, polls, followUps, withdrawn };
}
