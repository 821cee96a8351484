import type { BotContext } from '../../context.js';
import type { Campaign } from '../../content/campaigns.js';
import { KF_MESSAGES_PER_WINDOW } from '../delivery/budget.js';
import { massQuotaPeriod } from '../delivery/mass-quota.js';
import { localDay, nextAllowedTime } from '../nurture/clock.js';
import { pausedTargets } from '../pause/pauses.js';
import { EXCLUSION_REASONS, dailyCapFor, planLead, type ExclusionReason } from './plan.js';
import { campaignTimezone, quietHoursOf } from './schedule.js';
import { audiencePages } from './segment.js';
import { RUN_PAGE_SIZE } from './run.js';
import { REMINDER_BATCH } from './send.js';
import { waitingGroup, WaitingGroups } from './waiting-groups.js';

/** A lead's send as the dry run estimates it: the way its budget would let it go today, and its group. */
interface Estimate {
  via: 'kf' | 'mass' | 'owner' | 'deferred';
  sender: string;
  owner: string;
  signature: string;
}

/** What a run of a campaign would do now, without sending anything. */
export interface DryRun {
  /** The moment it is computed for (relative segment times count back from it). */
  at: Date;
  /** Leads of the segment that would be sent to (or enrolled): not excluded. */
  targeted: number;
  /** How the targeted leads would go today: 客服, mass message (the owner confirms), reminder to the owner; enrolled. */
  byRoute: { kf: number; mass: number; owner: number; enroll: number };
  /** Targeted leads with nothing to send: `caseStudy: auto` and no case study fits them (as a run counts them). */
  skipped: number;
  /** Leads of the segment that get nothing, by reason. */
  excluded: Record<ExclusionReason, number>;
  /** Leads that would wait: over their daily cap today (tried the next day); all of them while in quiet hours. */
  deferred: { dailyCap: number; quietHours: number; until: Date | null };
  /**
   * Per owner: the mass-message tasks to confirm (one per content and up to CAMPAIGN_MASS_BATCH customers; more when
   * more leads wait than a run keeps in memory: src/domain/campaigns/waiting-groups.ts), reminders.
   */
  owners: Array<{ owner: string; tasks: number; customers: number; reminders: number }>;
  /** The content differs per lead ({{name}}, {{channel}}, caseStudy: auto), which splits the tasks. */
  perLeadContent: boolean;
  /** The first ten targeted leads, with the way each would go. */
  sample: Array<{ id: string; name: string | null; stage: string; grade: string; channel: string | null; owner: string | null; via: string }>;
}

/**
 * A dry run: streams the segment as a run would (same filter, same exclusions, same grouping, same pages) and counts, per lead,
 * the way its send budget would let it go today. The budget is read from its hints in Redis (one MGET per page), so
 * the figures are an estimate of what the fences will say; nothing is taken, sent or written.
 */
export async function dryRun(ctx: BotContext, campaign: Campaign, now = Date.now()): Promise<DryRun> {
  const out: DryRun = {
    at: new Date(now),
    targeted: 0,
    byRoute: { kf: 0, mass: 0, owner: 0, enroll: 0 },
    skipped: 0,
    excluded: Object.fromEntries(EXCLUSION_REASONS.map((r) => [r, 0])) as Record<ExclusionReason, number>,
    deferred: { dailyCap: 0, quietHours: 0, until: null },
    owners: [],
    perLeadContent: Boolean(campaign.content.caseStudy) || /\{\{\s*(name|channel)\s*\}\}/.test(campaign.content.text ?? ''),
    sample: [],
  };
  const paused = await pausedTargets(ctx);
  const quietUntil = nextAllowedTime(now, quietHoursOf(ctx, campaign));
  const inQuiet = quietUntil > now + 1000;
  if (inQuiet) out.deferred.until = new Date(quietUntil);
  const day = localDay(now, ctx.config.NURTURE_TIMEZONE);
  const mass = massQuotaPeriod(ctx.config.MASS_MESSAGE_CAP, now);
  // The tasks and reminders per owner, as the run makes them: the leads grouped and sent in the same cycles.
  const perTask = ctx.config.CAMPAIGN_MASS_BATCH;
  const waiting = new WaitingGroups<Estimate>(perTask);
  const owners = new Map<string, DryRun['owners'][number]>();
  const tally = (cycle: readonly Estimate[]) => {
    // As a cycle sends them (src/domain/campaigns/send.ts): one task per (sender, content) and CAMPAIGN_MASS_BATCH
    // customers, one reminder per (owner, content) and REMINDER_BATCH customers.
    const groups = new Map<string, { owner: string; via: 'mass' | 'owner'; n: number }>();
    for (const e of cycle) {
      if (e.via !== 'mass' && e.via !== 'owner') continue;
      const owner = e.via === 'mass' ? e.sender : e.owner;
      const key = `${e.via}|${owner}|${e.signature}`;
      const g = groups.get(key) ?? { owner, via: e.via, n: 0 };
      g.n++;
      groups.set(key, g);
    }
    for (const g of groups.values()) {
      const row = owners.get(g.owner) ?? { owner: g.owner, tasks: 0, customers: 0, reminders: 0 };
      owners.set(g.owner, row);
      if (g.via === 'mass') {
        row.tasks += Math.ceil(g.n / perTask);
        row.customers += g.n;
      } else row.reminders += Math.ceil(g.n / REMINDER_BATCH);
    }
  };
  const tz = campaignTimezone(ctx, campaign);
  for await (const page of audiencePages(campaign.segment, { runAt: now, tz, after: null, pageSize: RUN_PAGE_SIZE })) {
    const plans = page.map((lead) => ({ lead, plan: planLead(ctx, campaign, lead, paused, now) }));
    const sends = plans.flatMap((p) => (p.plan.kind === 'send' ? [p.plan.item] : []));
    const hints = sends.length
      ? (await ctx.redis.mget(...sends.flatMap((it) => [`day|${it.leadId}|${day}`, `mass|${it.leadId}|${mass.key}`, it.kf ? `kf|${it.leadId}|${it.kf.windowStart}` : `mass|${it.leadId}|${mass.key}`].map((b) => ctx.keys.budgetHint(b))))).map((h) => Number(h) || 0)
      : [];
    let i = 0;
    // The page's leads with an open 客服 window are one cycle of their own in the run (those that cannot go by 客服
    // go by the next way there); the others wait for their group.
    const kfCycle: Estimate[] = [];
    for (const { lead, plan } of plans) {
      if (plan.kind === 'excluded') {
        out.excluded[plan.reason]++;
        continue;
      }
      out.targeted++;
      if (inQuiet) out.deferred.quietHours++;
      let via: string;
      if (plan.kind === 'enroll') {
        via = 'enroll';
        out.byRoute.enroll++;
      } else if (plan.kind === 'skip') {
        via = 'skipped';
        out.skipped++;
      } else {
        const it = plan.item;
        const [dayHint, massHint, kfHint] = [hints[3 * i]!, hints[3 * i + 1]!, hints[3 * i + 2]!];
        i++;
        via = it.kf && kfHint < KF_MESSAGES_PER_WINDOW ? 'kf' : mass.cap > 0 && massHint < mass.cap ? 'mass' : 'owner';
        const cap = dailyCapFor(ctx, campaign, it.grade);
        if (via !== 'owner' && cap > 0 && dayHint >= cap) {
          out.deferred.dailyCap++;
          via = 'deferred';
        } else out.byRoute[via as 'kf' | 'mass' | 'owner']++;
        const e: Estimate = { via: via as Estimate['via'], sender: it.sender, owner: it.owner, signature: it.signature };
        if (it.via === 'kf') kfCycle.push(e);
        else waiting.add(waitingGroup(it), e);
      }
      if (out.sample.length < 10) {
        out.sample.push({ id: lead._id, name: lead.name ?? null, stage: lead.stage ?? 'added', grade: lead.grade ?? 'C', channel: lead.firstTouch?.channelKey ?? null, owner: plan.kind === 'enroll' ? plan.owner : plan.item.owner, via });
      }
    }
    tally(kfCycle);
    for (const cycle of waiting.take(false)) tally(cycle);
  }
  for (const cycle of waiting.take(true)) tally(cycle);
  out.owners = [...owners.values()].sort((a, b) => a.owner.localeCompare(b.owner));
  return out;
}
