import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { BotContext } from '../../context.js';
import type { Campaign } from '../../content/campaigns.js';
import { jobIds } from '../../queues/job-ids.js';
import { CampaignRecord } from '../../store/models/campaign.js';
import { CampaignDeferral } from '../../store/models/campaign-deferral.js';
import { CampaignRun, ENDED_RUN_STATUSES, type RunStatus } from '../../store/models/campaign-run.js';
import { raiseAlert } from '../alerts/ops-alerts.js';
import { enrollMany, type BulkEnrollee } from '../nurture/enroll.js';
import { nextAllowedTime, startOfNextDay } from '../nurture/clock.js';
import { pauseMember, pausedFor, pausedTargets } from '../pause/pauses.js';
import { keepLeaverNotes } from './audience-leavers.js';
import { parsedDefinition } from './catalog.js';
import { addCounters, counterIncrements, emptyCounters, type PageState } from './counters.js';
import { planLead } from './plan.js';
import { describeRun, groupsOf, runResults } from './results.js';
import { campaignTimezone, quietHoursOf, type Run } from './schedule.js';
import { audiencePages, leadsByIds, type AudienceLead } from './segment.js';
import { RunStopped, sendCycle } from './send.js';
import { releaseNotedFences } from './unsent-fences.js';
import { writeTakenGroups } from './taken-groups.js';
import { withdrawTasks } from './withdraw.js';
import { expireItems, skipNoCase, type PendingItem, type RunBatch } from './send-record.js';
import { waitingGroup, WaitingGroups } from './waiting-groups.js';

/** Leads read (and planned) at a time. */
export const RUN_PAGE_SIZE = 500;
/** When to count a finished run's follow-up (replies, clicks, stage moves): a day after, and the final count at 7 days. */
export const FOLLOW_UP_AFTER_MS = [86_400_000, 7 * 86_400_000];
/** This process, as a run's runner. */
const PROCESS = `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;

/** How a run job's execution ended; `deferTo` (ms) when the same job must wait and go on then. */
export interface RunStep {
  result: string;
  deferTo?: number;
}

type Ctx = BotContext;

/** How long a runner's heartbeat keeps another runner of the same run waiting. */
const leaseMs = (ctx: Ctx) => Math.max(3 * ctx.config.JOB_LOCK_MS, 10_000);

/** Whether a campaign is paused or cancelled now (one Redis call; MongoDB only when it is either). */
async function stopOf(ctx: Ctx, key: string): Promise<'paused' | 'cancelled' | null> {
  if (!(await pausedFor(ctx, { campaign: key }))) return null;
  return (await CampaignRecord.findById(key, { status: 1 }).lean())?.status === 'cancelled' ? 'cancelled' : 'paused';
}

/**
 * Runs (or goes on with) one campaign run, as its only writer (docs/architecture.md, "A campaign run"). The audience
 * is streamed in _id order, a page at a time; each page's leads are planned (excluded, enrolled, or sent to) and the
 * sends go out in cycles (src/domain/campaigns/send.ts): 客服 at once, mass messages and reminders grouped per owner
 * and content. A page is settled when all its leads have their outcome; the run keeps the last settled lead
 * (its checkpoint) and the page's counts in one write, so a run resumed after a crash starts there, counts nothing
 * twice and — its attempt fences held — sends nothing twice. Leads over their daily cap wait for the run's next
 * pass (the next day); quiet hours and pauses hold the whole run. Returns how this execution ended.
 */
export async function processRun(ctx: Ctx, runId: string, o: { lastAttempt: boolean; runner?: string }): Promise<RunStep> {
  const me = `${PROCESS}|${o.runner ?? ''}`;
  for (;;) {
    const run = (await CampaignRun.findById(runId).lean()) as Run | null;
    if (!run || ENDED_RUN_STATUSES.has(run.status as RunStatus)) return { result: 'ended' };
    const campaign = parsedDefinition(run.definition);
    const now = Date.now();
    // Another runner of this run is alive (after Redis lost the job and it was added again): wait for its lease.
    if (run.runner && run.runner !== me && run.heartbeatAt && run.heartbeatAt.getTime() > now - leaseMs(ctx)) {
      return { result: 'busy', deferTo: run.heartbeatAt.getTime() + leaseMs(ctx) };
    }
    const stop = (await CampaignRecord.findById(run.campaignKey, { status: 1 }).lean())?.status === 'cancelled' ? 'cancelled' : await stopOf(ctx, run.campaignKey);
    if (stop === 'cancelled') return end(ctx, run, campaign, 'cancelled');
    if (stop === 'paused') {
      await CampaignRun.updateOne({ _id: runId }, { $set: { status: 'paused', runner: null } });
      // A resume (or cancel) since the check found this job still running and could not wake the run: look again.
      // One after this look still finds the job finishing; the reconciler picks the run up then (reconcile.ts).
      if ((await stopOf(ctx, run.campaignKey)) !== 'paused') continue;
      return { result: 'paused' };
    }
    if (run.nextAt && run.nextAt.getTime() > now + 1000) return { result: 'waiting', deferTo: run.nextAt.getTime() };
    const quiet = nextAllowedTime(now, quietHoursOf(ctx, campaign));
    if (quiet > now + 1000) {
      await CampaignRun.updateOne({ _id: runId }, { $set: { status: 'waiting', nextAt: new Date(quiet), runner: null } });
      return { result: 'deferred:quiet_hours', deferTo: quiet };
    }
    await CampaignRun.updateOne({ _id: runId }, { $set: { status: 'running', runner: me, heartbeatAt: new Date(now), nextAt: null } });

    let outcome: 'done' | { quietUntil: number };
    try {
      outcome = await new RunPass(ctx, run, campaign, o.lastAttempt, me).execute();
    } catch (err) {
      if (!(err instanceof RunStopped)) throw err;
      if (err.why === 'shutdown') {
        // The process is shutting down: the run goes on from its checkpoint in a second, in a worker still running
        // or after the restart (its lease given up, so that one need not wait for it).
        await CampaignRun.updateOne({ _id: runId }, { $set: { runner: null } });
        ctx.log.info({ run: runId }, 'campaign run stopped for the shutdown: it goes on from its checkpoint');
        return { result: 'stopped:shutdown', deferTo: Date.now() + 1000 };
      }
      continue; // looked at again from the top: paused, or cancelled
    }
    if (outcome !== 'done') {
      await CampaignRun.updateOne({ _id: runId }, { $set: { status: 'waiting', nextAt: new Date(outcome.quietUntil), runner: null } });
      return { result: 'deferred:quiet_hours', deferTo: outcome.quietUntil };
    }
    // The pass is done: leads a cap held back are tried the next day, in the next pass, while the window lasts; the
    // pass after the window only records them as over the cap.
    const next = run.pass + 1;
    const waiting = await CampaignDeferral.countDocuments({ runId, pass: next });
    if (!waiting) {
      await CampaignRun.updateOne({ _id: runId }, { $set: { 'counters.waiting': 0 } });
      return end(ctx, run, campaign, 'finished');
    }
    const nextAt = nextAllowedTime(startOfNextDay(Date.now(), ctx.config.NURTURE_TIMEZONE), quietHoursOf(ctx, campaign));
    const expiring = nextAt > run.windowEndsAt.getTime();
    await CampaignRun.updateOne(
      { _id: runId },
      { $set: { pass: next, checkpoint: null, expiring, nextAt: expiring ? null : new Date(nextAt), status: expiring ? 'running' : 'waiting', runner: expiring ? me : null, 'counters.waiting': waiting } },
    );
    if (!expiring) {
      ctx.log.info({ run: runId, waiting, nextAt: new Date(nextAt) }, 'campaign run: leads over their daily cap wait for the next day');
      return { result: 'deferred:daily_cap', deferTo: nextAt };
    }
  }
}

/** One pass of a run over its audience (pass 0) or over the leads a cap held back (later passes). */
class RunPass {
  private readonly pages: PageState[] = [];
  private readonly waiting: WaitingGroups<PendingItem>;
  private readonly batch: RunBatch;
  private lastBeat = Date.now();

  constructor(
    private readonly ctx: Ctx,
    private readonly run: Run,
    private readonly campaign: Campaign,
    lastAttempt: boolean,
    private readonly me: string,
  ) {
    this.batch = { ctx, campaign, runId: run._id, pass: run.pass, lastAttempt };
    this.waiting = new WaitingGroups(ctx.config.CAMPAIGN_MASS_BATCH);
  }

  /** Goes through the pass from its checkpoint: done, or stopped by quiet hours (RunStopped when paused or shutting down). */
  async execute(): Promise<'done' | { quietUntil: number }> {
    // What an earlier execution's failed cycle could not give back (the database down): its leads are sent this time.
    await releaseNotedFences(this.ctx, this.run._id);
    const quietHours = quietHoursOf(this.ctx, this.campaign);
    // Changes that take a lead out of audiences are noted from here on (audience-leavers.ts). A page's leads were read
    // after `readFrom[0]`: while the page before it was read at the earliest (the cursor keeps the rest of a batch).
    await keepLeaverNotes(this.ctx);
    let readFrom = [Date.now(), Date.now()] as const;
    for await (const page of this.source()) {
      if (this.ctx.stopping.aborted) throw new RunStopped('shutdown');
      const paused = await pausedTargets(this.ctx);
      if (paused.has(pauseMember({ kind: 'campaign', target: this.campaign.key }))) throw new RunStopped('paused');
      const now = Date.now();
      const quiet = nextAllowedTime(now, quietHours);
      if (quiet > now + 1000) return { quietUntil: quiet };
      await this.addPage(page, paused, readFrom[0], now);
      await this.flush(false);
      await this.checkpoint();
      await keepLeaverNotes(this.ctx);
      readFrom = [readFrom[1], Date.now()];
    }
    await this.flush(true);
    await this.checkpoint();
    return 'done';
  }

  /** Pages of leads after the checkpoint, and the id to keep as checkpoint once each page is settled. */
  private async *source(): AsyncGenerator<{ leads: AudienceLead[]; lastId: string }> {
    const { run } = this;
    if (run.pass === 0) {
      const tz = campaignTimezone(this.ctx, this.campaign);
      for await (const leads of audiencePages(this.campaign.segment, { runAt: run.scheduledFor.getTime(), tz, after: run.checkpoint ?? null, pageSize: RUN_PAGE_SIZE })) {
        yield { leads, lastId: leads.at(-1)!._id };
      }
      return;
    }
    const after = run.checkpoint ? { _id: { $gt: run.checkpoint } } : {};
    let page: Array<{ _id: string; leadId: string }> = [];
    const flushPage = async () => ({ leads: await leadsByIds(page.map((d) => d.leadId)), lastId: page.at(-1)!._id });
    const cursor = CampaignDeferral.find({ runId: run._id, pass: run.pass, ...after }, { leadId: 1 }).sort({ _id: 1 }).lean().cursor({ batchSize: RUN_PAGE_SIZE });
    try {
      for await (const d of cursor) {
        page.push(d as { _id: string; leadId: string });
        if (page.length >= RUN_PAGE_SIZE) {
          yield await flushPage();
          page = [];
        }
      }
      if (page.length) yield await flushPage();
    } finally {
      await cursor.close();
    }
  }

  /**
   * Plans a page: exclusions counted, sequence content enrolled, leads with nothing to send (no case study) recorded,
   * 客服 sent at once, the rest grouped to wait.
   */
  private async addPage(page: { leads: AudienceLead[]; lastId: string }, paused: ReadonlySet<string>, readAt: number, now: number): Promise<void> {
    const state: PageState = { lastId: page.lastId, readAt, remaining: 0, counters: emptyCounters() };
    this.pages.push(state);
    const first = this.run.pass === 0;
    const enrollees: BulkEnrollee[] = [];
    const kf: PendingItem[] = [];
    const expired: PendingItem[] = [];
    const noCase: PendingItem[] = [];
    for (const lead of page.leads) {
      const plan = planLead(this.ctx, this.campaign, lead, paused, now);
      if (plan.kind === 'excluded') {
        state.counters.excluded[plan.reason] = (state.counters.excluded[plan.reason] ?? 0) + 1;
        continue;
      }
      if (first) state.counters.targeted++;
      if (plan.kind === 'enroll') {
        enrollees.push({ corpId: lead.corpId, externalUserId: lead.externalUserId, ownerUserId: plan.owner, stage: lead.stage, unsubscribedAt: lead.unsubscribedAt ?? null });
        continue;
      }
      const item: PendingItem = { ...plan.item, page: state };
      state.remaining++;
      if (plan.kind === 'skip') noCase.push(item);
      else if (this.run.expiring) expired.push(item);
      else if (item.via === 'kf') kf.push(item);
      else this.waiting.add(waitingGroup(item), item);
    }
    if (enrollees.length) {
      const n = await enrollMany(this.ctx, enrollees, this.campaign.content.sequence!, this.run.startedAt?.getTime() ?? now);
      state.counters.enrolled += n;
      state.counters.notEnrolled += enrollees.length - n;
    }
    if (noCase.length) await skipNoCase(this.batch, noCase);
    if (expired.length) await expireItems(this.batch, expired);
    if (kf.length) await this.cycle(kf);
  }

  /**
   * Sends the groups that filled a task (CAMPAIGN_MASS_BATCH customers), and every group at the end of the pass; an
   * owner's group is otherwise kept whole, so it is one task. Only when too many leads wait in memory are whole
   * groups sent early, the largest first (src/domain/campaigns/waiting-groups.ts).
   */
  private async flush(all: boolean): Promise<void> {
    for (const items of this.waiting.take(all)) await this.cycle(items);
  }

  private async cycle(items: PendingItem[]): Promise<void> {
    await sendCycle(this.batch, items);
    if (Date.now() - this.lastBeat > leaseMs(this.ctx) / 3) {
      this.lastBeat = Date.now();
      await CampaignRun.updateOne({ _id: this.run._id }, { $set: { heartbeatAt: new Date(), runner: this.me } });
    }
  }

  /** Keeps the last settled page and the counts of the pages settled since, in one write. */
  private async checkpoint(): Promise<void> {
    let settled = 0;
    const counts = emptyCounters();
    while (settled < this.pages.length && this.pages[settled]!.remaining <= 0) addCounters(counts, this.pages[settled++]!.counters);
    if (!settled) return;
    const lastId = this.pages[settled - 1]!.lastId;
    this.pages.splice(0, settled);
    this.lastBeat = Date.now();
    await CampaignRun.updateOne({ _id: this.run._id }, { $set: { checkpoint: lastId, heartbeatAt: new Date(), runner: this.me }, $inc: counterIncrements(counts) });
  }
}

/**
 * Ends a run: finished, or cancelled (what was not sent by then never is). The ops group hears how it went (once per
 * run); its follow-up (replies, clicks, stage moves in the 7 days after) is counted a day later and at 7 days.
 */
async function end(ctx: Ctx, run: Run, campaign: Campaign, status: 'finished' | 'cancelled'): Promise<RunStep> {
  // A task WeCom took whose records could not be written is recorded from what Redis kept of it (before the run ends:
  // a failure here leaves the run to its job's retry): one whose customers all left the audience before the retry
  // reached them (unsubscribed, untagged) was never met again, and its result would go unread. A cancelled run's are
  // withdrawn with the others, without the owner's note.
  await writeTakenGroups({ ctx, campaign, runId: run._id }, undefined, { notify: status !== 'cancelled' });
  // The fences a failed cycle could not give back (unsent-fences.ts), when no execution came to give them back (the
  // campaign cancelled before the retry): those leads are never sent now, and their units of budget (a case study, the
  // month's mass-message quota) are theirs again.
  await releaseNotedFences(ctx, run._id);
  const finishedAt = new Date();
  await CampaignRun.updateOne({ _id: run._id }, { $set: { status, finishedAt, runner: null, nextAt: null } });
  // A task submitted while the cancel was under way (its call in flight) is withdrawn too.
  if (status === 'cancelled') await withdrawTasks(ctx, campaign.key);
  const fresh = (await CampaignRun.findById(run._id).lean()) as Run;
  const results = runResults(fresh, (await groupsOf([run._id])).get(run._id) ?? []);
  await raiseAlert(ctx, {
    key: `campaign|${run._id}`,
    kind: 'campaign_finished',
    title: status === 'finished' ? `群发完成：${campaign.name}` : `群发已取消：${campaign.name}`,
    text: describeRun(campaign.name, fresh, results, ctx.config.OPS_TIMEZONE),
  });
  for (const [i, after] of FOLLOW_UP_AFTER_MS.entries()) {
    await ctx.queues.add('campaign-follow-up', { runId: run._id, final: i === FOLLOW_UP_AFTER_MS.length - 1 }, { jobId: jobIds.campaignFollowUp(run._id, i), delay: after });
  }
  ctx.log.info({ campaign: campaign.key, run: run._id, status, targeted: results.targeted, byRoute: results.byRoute }, `campaign run ${status}`);
  return { result: status };
}
