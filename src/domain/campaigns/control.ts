import type { BotContext } from '../../context.js';
import { jobIds } from '../../queues/job-ids.js';
import { CampaignRecord } from '../../store/models/campaign.js';
import { CampaignRun } from '../../store/models/campaign-run.js';
import { Pause } from '../../store/models/pause.js';
import { pause, resume } from '../pause/pauses.js';
import { CampaignError } from './campaign-error.js';
import { campaignOf, type StoredCampaign } from './catalog.js';
import { runIdFor, startRun, syncSchedule, type Run } from './schedule.js';
import { withdrawTasks } from './withdraw.js';

type Ctx = Pick<BotContext, 'config' | 'queues' | 'redis' | 'keys' | 'log' | 'wecom'>;

/** Runs of a campaign that have not ended. */
const OPEN = ['running', 'waiting', 'paused'];

async function existing(key: string): Promise<StoredCampaign> {
  const c = await campaignOf(key);
  if (!c) throw new CampaignError('not_found', `no campaign "${key}"`);
  return c;
}

/** Wakes each open run's job: added again when it ended (a paused run's job completes), promoted when it waits. */
async function wakeRuns(ctx: Ctx, key: string): Promise<number> {
  const queue = ctx.queues.get('campaign-run');
  const runs = await CampaignRun.find({ campaignKey: key, status: { $in: OPEN } }, { _id: 1 }).lean();
  for (const r of runs) {
    const id = jobIds.campaignRun(String(r._id));
    const job = await queue.getJob(id);
    if (!job) await ctx.queues.add('campaign-run', { runId: String(r._id) }, { jobId: id });
    else if (await job.isDelayed()) await job.promote().catch(() => undefined);
  }
  return runs.length;
}

/**
 * Pauses a campaign: its runs stop before their next send (what was sent stays sent; nothing is repeated on resume),
 * and a run that comes due while it is paused is skipped.
 */
export async function pauseCampaign(ctx: Ctx, key: string, actor: string, reason?: string | null): Promise<{ changed: boolean }> {
  const c = await existing(key);
  if (c.status !== 'active') throw new CampaignError('state', `campaign "${key}" is ${c.status}`);
  // One paused already (before its run ended, or before pausing was refused for it) is answered as paused, unchanged.
  const ran = c.paused ? null : await endedOneOffRun(c);
  if (ran) throw new CampaignError('state', `campaign "${key}" is a one-off whose run is ${ran.status}: it sends nothing more, so there is nothing to pause`);
  return { changed: await pause(ctx, { kind: 'campaign', target: key }, { actor, reason }) };
}

/**
 * A one-off campaign's run that ended after it was under way (finished or cancelled): the campaign sends nothing more.
 * A run skipped while paused, or missed, can still be launched, so it is not one.
 */
export async function endedOneOffRun(c: StoredCampaign): Promise<{ status: string; finishedAt: Date | null } | null> {
  if (!c.campaign.schedule.at) return null;
  const run = await CampaignRun.findById(runIdFor(c.campaign, 'schedule', 0), { status: 1, finishedAt: 1 }).lean();
  return run && (run.status === 'finished' || run.status === 'cancelled') ? { status: run.status, finishedAt: run.finishedAt ?? null } : null;
}

/** Resumes a paused campaign: its runs go on from where they stopped (their quiet hours and caps still apply). */
export async function resumeCampaign(ctx: Ctx, key: string, actor: string): Promise<{ changed: boolean; runs: number }> {
  const c = await existing(key);
  if (c.status === 'cancelled') throw new CampaignError('state', `campaign "${key}" was cancelled; it cannot be resumed`);
  const changed = await resume(ctx, { kind: 'campaign', target: key }, { actor });
  return { changed, runs: changed ? await wakeRuns(ctx, key) : 0 };
}

/**
 * Cancels a campaign for good: its schedule is removed, its open runs stop before their next send and end as
 * cancelled (what was sent stays sent), and it never runs again. It stays paused, so every sender stops at once, and
 * the mass-message tasks owners have not confirmed are withdrawn.
 */
export async function cancelCampaign(ctx: Ctx, key: string, actor: string): Promise<{ changed: boolean; runs: number; withdrawn: number }> {
  const c = await existing(key);
  const changed = c.status !== 'cancelled';
  if (changed) await CampaignRecord.updateOne({ _id: key }, { $set: { status: 'cancelled', cancelledAt: new Date(), cancelledBy: actor } });
  // The rest is done again by a cancel repeated after one that stopped part-way (a process or database gone after the
  // status was written): each step is safe to repeat, and a cancelled campaign without its pause would let a run
  // under way go on sending until it next reads the status.
  await pause(ctx, { kind: 'campaign', target: key }, { actor, reason: 'cancelled' });
  await Pause.updateOne({ _id: `campaign:${key}` }, { $set: { reason: 'cancelled' } });
  await syncSchedule(ctx, key);
  return { changed, runs: await wakeRuns(ctx, key), withdrawn: await withdrawTasks(ctx, key) };
}

/** Runs a campaign now (a one-off campaign's only run, brought forward; for a cron campaign an extra run). */
export async function launchCampaign(ctx: Ctx, key: string): Promise<{ run: Run; created: boolean }> {
  const started = await startRun(ctx, key, { trigger: 'launch', at: Date.now() });
  if (!started) throw new CampaignError('not_found', `no campaign "${key}"`);
  return started;
}
