import { Cron } from 'croner';
import type { BotContext } from '../../context.js';
import { parseCampaign, type Campaign } from '../../content/campaigns.js';
import type { QuietHours } from '../../content/sequences.js';
import { parseDelay } from '../../settings/delay.js';
import { jobIds } from '../../queues/job-ids.js';
import { withLock } from '../../redis/lock.js';
import { createOnce } from '../../store/create-once.js';
import { CampaignRecord } from '../../store/models/campaign.js';
import { CampaignRun, type CampaignRunFields } from '../../store/models/campaign-run.js';
import { pausedFor } from '../pause/pauses.js';
import { CampaignError } from './campaign-error.js';
import { campaignOf, parsedDefinition } from './catalog.js';

/** A scheduled run whose time passed while no worker ran, by more than this, is recorded as missed, not sent late. */
export const MISSED_RUN_GRACE_MS = 6 * 3_600_000;

type Ctx = Pick<BotContext, 'config' | 'queues' | 'redis' | 'keys' | 'log'>;

/** The time zone a campaign's dates and days are in: its cron's, else OPS_TIMEZONE. */
export const campaignTimezone = (ctx: Pick<BotContext, 'config'>, c: Campaign) => c.schedule.timezone ?? ctx.config.OPS_TIMEZONE;

/**
 * A campaign's quiet hours: its own (in their timezone, else the campaign's: campaignTimezone), else
 * CAMPAIGN_QUIET_HOURS in OPS_TIMEZONE (undefined: none).
 */
export function quietHoursOf(ctx: Pick<BotContext, 'config'>, c: Campaign): QuietHours | undefined {
  if (c.quietHours) return { ...c.quietHours, timezone: c.quietHours.timezone ?? campaignTimezone(ctx, c) };
  const q = ctx.config.CAMPAIGN_QUIET_HOURS;
  return q ? { ...q, timezone: ctx.config.OPS_TIMEZONE } : undefined;
}

/** A scheduled time as the slot part of a run id: UTC to the second, `20261201T020000Z`. */
export function slotOf(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/[-:]/g, '').replace('.000', '');
}

/**
 * The id of a campaign's run: `<key>|at` for a one-off campaign (it runs once, whether launched early or at its
 * time), else `<key>|<slot>` (a cron slot, or a launch by staff, to the minute: pressing launch twice in a minute is
 * one run).
 */
export function runIdFor(c: Campaign, trigger: 'schedule' | 'launch', ms: number): string {
  if (c.schedule.at) return `${c.key}|at`;
  return `${c.key}|${slotOf(trigger === 'launch' ? Math.floor(ms / 60_000) * 60_000 : ms)}`;
}

/**
 * When a campaign runs next after `after`, or null (a one-off campaign whose time passed). A cron without a time zone
 * of its own runs in `opsTimezone` (OPS_TIMEZONE), the zone its segment's days are read in too.
 */
export function nextRunAt(c: Campaign, opsTimezone: string, after = Date.now()): Date | null {
  if (c.schedule.at) {
    const at = Date.parse(c.schedule.at);
    return at > after ? new Date(at) : null;
  }
  return new Cron(c.schedule.cron!, { timezone: c.schedule.timezone ?? opsTimezone, paused: true }).nextRun(new Date(after));
}

/**
 * The run that already served a cron slot's occurrence, when the campaign's schedule was edited since (its time zone
 * or pattern changed on the day): another scheduled run of the campaign nearer to this slot than to the slots before
 * and after it, under the schedule as it is now, and this slot nearer to that run than to the slots before and after
 * it under the schedule that run was made by (its stored definition). A weekly Monday 10:00 moved from Asia/Shanghai to
 * Europe/London after its Shanghai slot ran would otherwise run again eight hours later, and send every lead the same
 * message twice; while a daily campaign made weekly still runs its weekly slot, the daily run of the day before being
 * its own occurrence. A run skipped while paused, or missed, served nothing. `opsTimezone`: the zone of a run's
 * schedule that names none (OPS_TIMEZONE).
 */
export async function servedBy(c: Campaign, tz: string, at: number, opsTimezone: string): Promise<{ _id: string; scheduledFor: Date } | null> {
  if (!c.schedule.cron) return null;
  const near = (pattern: string, zone: string, ms: number) => {
    const cron = new Cron(pattern, { timezone: zone, paused: true });
    const before = cron.previousRuns(1, new Date(ms))[0]?.getTime() ?? -Infinity;
    const after = cron.nextRun(new Date(ms))?.getTime() ?? Infinity;
    return { from: ms - (ms - before) / 2, to: ms + (after - ms) / 2 };
  };
  const here = near(c.schedule.cron, tz, at);
  if (!Number.isFinite(here.from) || !Number.isFinite(here.to)) return null;
  const runs = (await CampaignRun.find(
    { campaignKey: c.key, trigger: 'schedule', scheduledFor: { $gt: new Date(here.from), $lt: new Date(here.to) }, _id: { $ne: runIdFor(c, 'schedule', at) }, status: { $nin: ['skipped', 'missed'] } },
    { scheduledFor: 1, definition: 1 },
  ).lean()) as Array<{ _id: string; scheduledFor: Date; definition?: unknown }>;
  for (const r of runs) {
    const made = parseCampaign(r.definition).value?.schedule;
    const ran = r.scheduledFor.getTime();
    const zone = made?.timezone ?? opsTimezone;
    // A run whose own schedule cannot be read (a one-off, a definition no longer valid), or that is no slot of it (an
    // old schedule's slot run late, after the edit: syncSchedule's tick), is taken as serving the slot.
    const own = made?.cron && new Cron(made.cron, { timezone: zone, paused: true }).nextRun(new Date(ran - 1))?.getTime() === ran;
    const there = own ? near(made!.cron!, zone, ran) : null;
    if (!there || (at > there.from && at < there.to)) return { _id: r._id, scheduledFor: r.scheduledFor };
  }
  return null;
}

/** The BullMQ job scheduler of a cron campaign. */
const schedulerId = (key: string) => `campaign|${key}`;

/**
 * Makes Redis hold what a campaign's schedule needs, and nothing else: a job scheduler (`{pattern, tz}`) for a cron
 * campaign, a delayed tick at its time for a one-off one; neither for a draft, a cancelled or a removed campaign. BullMQ keeps
 * one scheduler per id, so however many workers register it each slot fires once; the run's unique id makes a second
 * tick of the same slot harmless anyway.
 */
export async function syncSchedule(ctx: Ctx, key: string): Promise<void> {
  const doc = await CampaignRecord.findById(key).lean();
  const ticks = ctx.queues.get('campaign-tick');
  const c = doc ? parsedDefinition(doc.definition) : null;
  const active = doc?.status === 'active' && c !== null && !c.draft;
  if (active && c.schedule.cron) {
    // Registering it again replaces the scheduler's pending job with its next slot after now: a slot already due that
    // no worker took yet (the bot was down at its time) would be dropped, neither run late nor recorded missed. It
    // gets a tick of its own; the run's unique id keeps it one run if a worker took the job meanwhile.
    const tz = campaignTimezone(ctx, c);
    const was = await ticks.getJobScheduler(schedulerId(key));
    const due = was?.next;
    await ticks.upsertJobScheduler(schedulerId(key), { pattern: c.schedule.cron, tz }, { name: 'campaign-tick', data: { key } });
    if (due && due <= Date.now()) await ctx.queues.add('campaign-tick', { key, at: due }, { jobId: jobIds.campaignTick(key, due) });
    // An edited schedule (time zone or pattern): its latest slot, which passed before the old schedule came to that
    // occurrence, runs now if it is hours late at most and no run near it served the occurrence (servedBy); else moving
    // Monday 10:00 from Europe/London to Asia/Shanghai at 05:00 UTC would send nothing that Monday.
    if (was && (was.pattern !== c.schedule.cron || (was.tz ?? null) !== tz)) {
      const last = new Cron(c.schedule.cron, { timezone: tz, paused: true }).previousRuns(1, new Date())[0]?.getTime();
      if (last && last !== due && Date.now() - last <= MISSED_RUN_GRACE_MS && !(await CampaignRun.exists({ _id: runIdFor(c, 'schedule', last) })) && !(await servedBy(c, tz, last, ctx.config.OPS_TIMEZONE))) {
        await ctx.queues.add('campaign-tick', { key, at: last }, { jobId: jobIds.campaignTick(key, last) });
        ctx.log.info({ campaign: key, slot: new Date(last) }, 'campaign schedule edited: its latest slot, not run under the old schedule, runs now');
      }
    }
  } else {
    await ticks.removeJobScheduler(schedulerId(key));
  }
  if (active && c.schedule.at) {
    const at = Date.parse(c.schedule.at);
    if (!(await CampaignRun.exists({ _id: runIdFor(c, 'schedule', at) }))) {
      await ctx.queues.add('campaign-tick', { key, at }, { jobId: jobIds.campaignTick(key, at), delay: Math.max(0, at - Date.now()) });
    }
  }
}

/** syncSchedule for every stored campaign, and no scheduler left for a campaign that is gone. */
export async function syncAllSchedules(ctx: Ctx): Promise<void> {
  const docs = await CampaignRecord.find({}, { _id: 1 }).lean();
  const keys = new Set(docs.map((d) => String(d._id)));
  for (const key of keys) await syncSchedule(ctx, key);
  const ticks = ctx.queues.get('campaign-tick');
  for (const s of await ticks.getJobSchedulers()) {
    const id = (s as { key?: string; id?: string | null }).id ?? (s as { key?: string }).key ?? '';
    if (id.startsWith('campaign|') && !keys.has(id.slice('campaign|'.length))) await ticks.removeJobScheduler(id);
  }
}

/** A run, created or found. */
export type Run = CampaignRunFields & { _id: string };

/**
 * Starts a campaign's run for `ms` (a scheduled slot, or now for a launch): once per run id, however many workers
 * or ticks try — the run is created with a unique insert, and only its creator adds its job. A run due while the
 * campaign is paused is recorded as skipped (a launch then is refused); a scheduled run more than MISSED_RUN_GRACE_MS
 * late (no worker ran at its time) is recorded as missed, not sent hours late. Returns the run and whether this call created it.
 */
export async function startRun(ctx: Ctx, key: string, o: { trigger: 'schedule' | 'launch'; at: number }): Promise<{ run: Run; created: boolean } | null> {
  // One scheduled start of a campaign at a time: servedBy reads the runs another tick may be creating (after an edit,
  // the old schedule's due slot and the new one's late slot are queued together and taken at once).
  if (o.trigger === 'schedule') return withLock(ctx.redis, ctx.keys.campaignScheduleLock(key), () => startRunNow(ctx, key, o));
  return startRunNow(ctx, key, o);
}

async function startRunNow(ctx: Ctx, key: string, o: { trigger: 'schedule' | 'launch'; at: number }): Promise<{ run: Run; created: boolean } | null> {
  const stored = await campaignOf(key);
  if (!stored) {
    if (o.trigger === 'launch') throw new CampaignError('not_found', `no campaign "${key}"`);
    return null;
  }
  const c = stored.campaign;
  if (stored.status !== 'active') {
    if (o.trigger === 'launch') throw new CampaignError('state', `campaign "${key}" is ${stored.status}`);
    return null;
  }
  if (c.draft) {
    if (o.trigger === 'launch') throw new CampaignError('state', `campaign "${key}" is a draft: set draft: false to run it`);
    return null;
  }
  // A tick for a one-off time the campaign no longer has (its file was edited): nothing to do.
  if (o.trigger === 'schedule' && c.schedule.at && Date.parse(c.schedule.at) !== o.at) return null;
  const paused = Boolean(await pausedFor(ctx, { campaign: key }));
  if (paused && o.trigger === 'launch') throw new CampaignError('state', `campaign "${key}" is paused: resume it first`);
  const now = Date.now();
  const late = o.trigger === 'schedule' && now - o.at > MISSED_RUN_GRACE_MS;
  const served = o.trigger === 'schedule' && !paused && !late ? await servedBy(c, campaignTimezone(ctx, c), o.at, ctx.config.OPS_TIMEZONE) : null;
  const status = paused || served ? 'skipped' : late ? 'missed' : 'running';
  const id = runIdFor(c, o.trigger, o.at);
  const windowMs = parseDelay(c.window) ?? 3 * 86_400_000;
  const doc = {
    _id: id,
    campaignKey: key,
    trigger: o.trigger,
    scheduledFor: new Date(o.trigger === 'launch' ? now : o.at),
    definition: stored.definition,
    status,
    reason: paused ? 'paused' : served ? `served by ${served._id}: the schedule changed since` : late ? 'no worker ran at its time' : null,
    windowEndsAt: new Date(now + windowMs),
    startedAt: status === 'running' ? new Date(now) : null,
    finishedAt: status === 'running' ? null : new Date(now),
    counters: {},
  };
  const created = await createOnce(CampaignRun, doc);
  if (!created) {
    const existing = (await CampaignRun.findById(id).lean()) as Run | null;
    // A one-off campaign has one run; one that ended without sending anything (skipped while paused at its time, or
    // missed while no worker ran) is started by a launch, once: under a lock (FerretDB 1.x does not apply concurrent
    // filtered updates of one document atomically), only the launch that finds it still ended starts it.
    if (o.trigger === 'launch' && status === 'running' && c.schedule.at && (existing?.status === 'skipped' || existing?.status === 'missed')) {
      const revived = await withLock(ctx.redis, ctx.keys.campaignRunLock(id), async () => {
        const now = (await CampaignRun.findById(id, { status: 1 }).lean()) as Pick<Run, 'status'> | null;
        if (now?.status !== 'skipped' && now?.status !== 'missed') return null;
        await CampaignRun.updateOne({ _id: id }, { $set: { trigger: 'launch', scheduledFor: doc.scheduledFor, definition: doc.definition, status: 'running', reason: null, windowEndsAt: doc.windowEndsAt, startedAt: doc.startedAt, finishedAt: null, counters: {} } });
        await ctx.queues.add('campaign-run', { runId: id }, { jobId: jobIds.campaignRun(id) });
        ctx.log.info({ campaign: key, run: id, was: now.status }, 'one-off campaign launched after its run was skipped or missed');
        return (await CampaignRun.findById(id).lean()) as Run | null;
      });
      if (revived) return { run: revived, created: true };
      const latest = (await CampaignRun.findById(id).lean()) as Run | null;
      return latest ? { run: latest, created: false } : null;
    }
    if (o.trigger === 'launch' && existing) ctx.log.info({ run: id }, 'campaign launch: this run exists already');
    return existing ? { run: existing, created: false } : null;
  }
  if (status === 'running') {
    await ctx.queues.add('campaign-run', { runId: id }, { jobId: jobIds.campaignRun(id) });
    ctx.log.info({ campaign: key, run: id, trigger: o.trigger }, 'campaign run started');
  } else {
    const why = served ? `campaign run skipped: ${served._id} served this slot under the schedule before its edit` : status === 'skipped' ? 'campaign run skipped: the campaign is paused' : 'campaign run missed: its time passed while no worker ran';
    ctx.log.warn({ campaign: key, run: id, status }, why);
  }
  return { run: created.toObject() as Run, created: true };
}
