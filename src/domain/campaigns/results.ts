import { CampaignGroup, type CampaignGroupFields } from '../../store/models/campaign-group.js';
import { ENDED_RUN_STATUSES, type CampaignRunFields, type RunStatus } from '../../store/models/campaign-run.js';
import type { GroupTally } from '../delivery/mass-result.js';
import { shortTime } from '../commands/words.js';
import { readCounters } from './counters.js';

type RunDoc = CampaignRunFields & { _id: string };
type GroupDoc = Pick<CampaignGroupFields, 'runId' | 'via' | 'sender' | 'size' | 'refused' | 'status' | 'tally' | 'clicks'>;

/** What a run came to (docs/ops-guide.md, "Campaigns: results"). */
export interface RunResults {
  /** Leads of the segment the run set out to reach (not excluded). */
  targeted: number;
  excluded: Record<string, number>;
  /** Leads by the way their message went: 客服, mass message, reminder to the owner. */
  byRoute: { kf: number; mass: number; owner: number };
  /** 客服 messages sent. */
  sent: number;
  /** Reminders sent to owners (they forward the content by hand). */
  reminded: number;
  /** Mass messages waiting for their owner to confirm them. */
  waitingForOwner: number;
  /** Mass messages the owner confirmed and WeCom delivered. */
  confirmed: number;
  /** Mass messages the owner never confirmed. */
  unconfirmed: number;
  /** In a mass message the owner had not sent when the campaign was cancelled: the task was withdrawn. */
  withdrawn: number;
  /** Not (or no longer) a contact of the sender. */
  notAFriend: number;
  /** Over a cap: WeCom's mass-message quota (status 3), or held back by the daily cap past the run's window. */
  overCap: number;
  failed: number;
  /** WeCom may or may not have sent it (a timeout, a crash mid-call, a send result WeCom would not give): never sent again. */
  unknown: number;
  /** Nothing to send (no case study left for the lead). */
  skipped: number;
  /** Held back by the daily cap, waiting for the run's next pass. */
  deferred: number;
  /** Sequence content: leads enrolled, and those not (already in it — a lead enters a sequence once, ever — or stopped by its rules). */
  enrolled: number;
  notEnrolled: number;
  /** Tasks each owner has to confirm (mass messages) and reminders each got. */
  owners: Array<{ owner: string; tasks: number; customers: number; reminders: number }>;
  /** Opens of the links in the run's group messages (per-customer links are counted in the follow-up). */
  groupClicks: number;
  /**
   * The run has not ended: the counts are so far. Its counters are written as each page settles, its tasks and
   * reminders as each is sent, so the customers in tasks and reminders beyond the last settled page are added to
   * `targeted` (in the audience's pass only: a later pass sends leads counted already), `byRoute`, `reminded` and
   * `waitingForOwner` (never fewer than the per-owner list shows).
   */
  inProgress: boolean;
}

const n = (x: number | undefined) => x ?? 0;

/** The results of a run from its counters and its groups' tallies (no delivery is read). */
export function runResults(run: Pick<RunDoc, 'counters'> & { status?: RunStatus | string; pass?: number | null }, groups: readonly GroupDoc[]): RunResults {
  const c = readCounters(run.counters);
  const o = c.outcomes;
  const t: Required<GroupTally> = { sent: 0, notAFriend: 0, capped: 0, unsent: 0, unconfirmed: 0, withdrawn: 0, unknown: 0 };
  const owners = new Map<string, { owner: string; tasks: number; customers: number; reminders: number }>();
  let groupClicks = 0;
  // Customers in the tasks WeCom took and in the reminders sent, as the groups hold them.
  let inTasks = 0;
  let inReminders = 0;
  for (const g of groups) {
    groupClicks += g.clicks ?? 0;
    const row = owners.get(g.sender) ?? { owner: g.sender, tasks: 0, customers: 0, reminders: 0 };
    owners.set(g.sender, row);
    if (g.via === 'owner') {
      row.reminders++;
      if (g.status === 'sent') inReminders += g.size;
      continue;
    }
    if (g.status === 'failed' || g.status === 'unknown') continue;
    row.tasks++;
    row.customers += g.size - (g.refused ?? 0);
    inTasks += g.size - (g.refused ?? 0);
    const tally = g.tally as Partial<GroupTally> | null;
    for (const k of ['sent', 'notAFriend', 'capped', 'unconfirmed', 'withdrawn', 'unknown'] as const) t[k] += n(tally?.[k]);
  }
  const settled = t.sent + t.notAFriend + t.capped + t.unconfirmed + t.withdrawn + t.unknown;
  // A run under way: the customers of the tasks and reminders sent since its last settled page are not in its
  // counters yet (an ended run has every page settled: nothing is added, its results read as they always did).
  const inProgress = run.status !== undefined && !ENDED_RUN_STATUSES.has(run.status as RunStatus);
  const ahead = inProgress ? { mass: Math.max(0, inTasks - n(o.mass_submitted)), owner: Math.max(0, inReminders - n(o.owner_sent)) } : { mass: 0, owner: 0 };
  return {
    // Only the audience's pass (0) counts a lead as targeted; a later pass sends leads it counted already.
    targeted: c.targeted + ((run.pass ?? 0) === 0 ? ahead.mass + ahead.owner : 0),
    excluded: c.excluded as Record<string, number>,
    byRoute: { kf: n(c.routes.kf), mass: n(c.routes.mass) + ahead.mass, owner: n(c.routes.owner) + ahead.owner },
    sent: n(o.kf_sent),
    reminded: n(o.owner_sent) + ahead.owner,
    waitingForOwner: Math.max(0, n(o.mass_submitted) + ahead.mass - settled),
    confirmed: t.sent,
    unconfirmed: t.unconfirmed,
    withdrawn: t.withdrawn,
    notAFriend: t.notAFriend + n(o.mass_refused),
    overCap: t.capped + n(o.none_expired),
    failed: n(o.kf_failed) + n(o.mass_failed) + n(o.owner_failed),
    unknown: n(o.kf_unknown) + n(o.mass_unknown) + n(o.owner_unknown) + n(o.none_unknown) + t.unknown,
    skipped: n(o.none_skipped),
    deferred: n((run.counters as { waiting?: number } | null)?.waiting),
    enrolled: c.enrolled,
    notEnrolled: c.notEnrolled,
    owners: [...owners.values()].sort((a, b) => a.owner.localeCompare(b.owner)),
    groupClicks,
    inProgress,
  };
}

/** The groups of some runs (one read), by run. */
export async function groupsOf(runIds: readonly string[]): Promise<Map<string, GroupDoc[]>> {
  const out = new Map<string, GroupDoc[]>(runIds.map((id) => [id, []]));
  if (!runIds.length) return out;
  const docs = await CampaignGroup.find({ runId: { $in: [...runIds] } }, { runId: 1, via: 1, sender: 1, size: 1, refused: 1, status: 1, tally: 1, clicks: 1 }).lean();
  for (const g of docs) out.get(g.runId)?.push(g as GroupDoc);
  return out;
}

/** A few lines for the ops group about a run that ended (markdown). */
export function describeRun(name: string, run: Pick<RunDoc, 'trigger' | 'scheduledFor'>, r: RunResults, tz: string): string {
  const parts = [
    `目标 ${r.targeted} 人`,
    r.enrolled || r.notEnrolled ? `加入培育 ${r.enrolled}（未加入 ${r.notEnrolled}：已在其中或不符合序列规则）` : '',
    r.byRoute.kf ? `客服 ${r.sent}/${r.byRoute.kf}` : '',
    r.byRoute.mass ? `群发 ${r.byRoute.mass}（${r.owners.reduce((s, o) => s + o.tasks, 0)} 个待确认任务，已确认 ${r.confirmed}）` : '',
    r.byRoute.owner ? `提醒负责人 ${r.reminded}` : '',
  ].filter(Boolean);
  const excluded = Object.entries(r.excluded).filter(([, v]) => v).map(([k, v]) => `${EXCLUSION_LABELS[k] ?? k} ${v}`);
  const problems = [r.notAFriend && `非好友 ${r.notAFriend}`, r.overCap && `超出上限 ${r.overCap}`, r.failed && `失败 ${r.failed}`, r.unknown && `结果未知 ${r.unknown}`].filter(Boolean);
  return [
    // The run as `群发 show` labels it (how it came, when), not by its id.
    `${name}（${run.trigger === 'launch' ? '立即发送' : '定时'} ${shortTime(run.scheduledFor, tz)}）：${parts.join('，')}。`,
    excluded.length ? `排除：${excluded.join('，')}。` : '',
    problems.length ? `${problems.join('，')}。` : '',
    r.owners.some((o) => o.tasks) ? `待确认：${r.owners.filter((o) => o.tasks).map((o) => `${o.owner} ${o.tasks} 个任务（${o.customers} 人）`).join('，')}。` : '',
  ]
    .filter(Boolean)
    .join('\n');
}

/** How exclusion reasons read for ops staff. */
export const EXCLUSION_LABELS: Record<string, string> = { unsubscribed: '已退订', lost: '已流失', customer: '已成交客户', paused: '已暂停', noOwner: '无负责人' };
