import { DEFAULT_TIMEZONE } from '../../config.js';
import { CampaignRun } from '../../store/models/campaign-run.js';
import type { FollowUp } from './follow-up.js';
import { campaignOf, listCampaigns, type StoredCampaign } from './catalog.js';
import { groupsOf, runResults, type RunResults } from './results.js';
import { nextRunAt, runIdFor, type Run } from './schedule.js';

/** A campaign as lists show it. */
export interface CampaignSummary {
  key: string;
  name: string;
  source: string;
  /** active, cancelled, removed (its file was deleted); `paused` and `draft` say the rest. */
  status: string;
  paused: boolean;
  draft: boolean;
  kind: string;
  schedule: { at?: string; cron?: string; timezone?: string };
  nextRunAt: Date | null;
  lastRun: { id: string; status: string; scheduledFor: Date } | null;
}

/** A run as the campaign's page shows it: when, how far, and what it came to. */
export interface RunView {
  id: string;
  trigger: string;
  status: string;
  reason: string | null;
  scheduledFor: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** 0: the audience pass; n: the n-th pass over leads a cap held back. */
  pass: number;
  nextAt: Date | null;
  results: RunResults;
  followUp: FollowUp | null;
}

/**
 * Whether a one-off campaign's only run exists (launched early, under way, ended, or skipped or missed at its time):
 * its `at` starts nothing more (syncSchedule adds no tick for it), so it has no next run.
 */
async function oneOffRan(c: StoredCampaign): Promise<boolean> {
  return Boolean(c.campaign.schedule.at && (await CampaignRun.exists({ _id: runIdFor(c.campaign, 'schedule', 0) })));
}

function summary(c: StoredCampaign, lastRun: Run | null, opsTimezone: string, ran: boolean): CampaignSummary {
  const live = c.status === 'active' && !c.paused && !c.campaign.draft && !ran;
  return {
    key: c._id,
    name: c.campaign.name,
    source: c.source,
    status: c.status,
    paused: c.paused,
    draft: c.campaign.draft,
    kind: c.campaign.kind,
    schedule: c.campaign.schedule,
    nextRunAt: live ? nextRunAt(c.campaign, opsTimezone) : null,
    lastRun: lastRun ? { id: lastRun._id, status: lastRun.status, scheduledFor: lastRun.scheduledFor } : null,
  };
}

/** Every campaign with its next run time and its last run. */
export async function campaignList(opsTimezone = DEFAULT_TIMEZONE): Promise<CampaignSummary[]> {
  const campaigns = await listCampaigns();
  const out: CampaignSummary[] = [];
  for (const c of campaigns) {
    const last = (await CampaignRun.findOne({ campaignKey: c._id }).sort({ scheduledFor: -1 }).lean()) as Run | null;
    out.push(summary(c, last, opsTimezone, await oneOffRan(c)));
  }
  return out;
}

/** One campaign: its definition as written and its latest runs (up to `limit`) with their results. Null when unknown. */
export async function campaignDetail(key: string, limit = 20, opsTimezone = DEFAULT_TIMEZONE) {
  const c = await campaignOf(key);
  if (!c) return null;
  const runs = (await CampaignRun.find({ campaignKey: key }, { definition: 0 }).sort({ scheduledFor: -1 }).limit(limit).lean()) as Run[];
  const groups = await groupsOf(runs.map((r) => r._id));
  return {
    ...summary(c, runs[0] ?? null, opsTimezone, await oneOffRan(c)),
    definition: c.definition,
    createdBy: c.createdBy ?? null,
    runs: runs.map((r): RunView => ({
      id: r._id,
      trigger: r.trigger,
      status: r.status,
      reason: r.reason ?? null,
      scheduledFor: r.scheduledFor,
      startedAt: r.startedAt ?? null,
      finishedAt: r.finishedAt ?? null,
      pass: r.pass ?? 0,
      nextAt: r.nextAt ?? null,
      results: runResults(r, groups.get(r._id) ?? []),
      followUp: (r.followUp as FollowUp | null) ?? null,
    })),
  };
}
