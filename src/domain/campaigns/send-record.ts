import type { BotContext } from '../../context.js';
import type { Campaign } from '../../content/campaigns.js';
import { recordOutcomes, type DeliveryRecord, type Outcome } from '../../store/delivery-ledger.js';
import type { DeliveryStatus } from '../../store/models/delivery.js';
import type { MassPoll } from '../delivery/mass-result.js';
import { localDay, localMonth } from '../nurture/clock.js';
import { bump, outcomeKey, type PageState } from './counters.js';
import type { SendItem } from './plan.js';

/**
 * What a campaign run's sends share and how their outcomes are recorded (src/domain/campaigns/send.ts sends them):
 * the batch, a lead's delivery key in a run, and the records of outcomes, written a slice at a time.
 */

/** A lead waiting to be sent to, and the page whose checkpoint waits for it. */
export type PendingItem = SendItem & { page: PageState };

/** What the sends of a run share. */
export interface RunBatch {
  ctx: BotContext;
  campaign: Campaign;
  runId: string;
  /** The pass the run is in (0: the audience). */
  pass: number;
  /** The run job's last attempt: a WeCom error still retryable then is recorded as failed. */
  lastAttempt: boolean;
}

/** The delivery key of a lead's message in a run: one delivery per lead per run, ever. */
export const campaignDeliveryKey = (runId: string, leadId: string) => `campaign|${runId}|${leadId}`;
/** What every delivery key of a run starts with. */
export const runDeliveryPrefix = (runId: string) => `campaign|${runId}|`;

/** Poll `attempt` of a campaign group's result: one read of the send result settles every customer of it. */
export function groupPoll(g: { _id: string; runId: string; corpId: string; msgid: string; sender: string; createdAt: Date; deliveryKeyPrefix?: string | null }, attempt: number): MassPoll {
  return { deliveryKey: g._id, attempt, msgid: g.msgid, userId: g.sender, corpId: g.corpId, externalUserId: '*', submittedAt: g.createdAt.getTime(), group: { deliveryKeyPrefix: g.deliveryKeyPrefix ?? runDeliveryPrefix(g.runId) } };
}

/** Leads whose fences or records are written in one insert (a group of 10,000 is written in slices of this). */
export const WRITE_SLICE = 2_000;

/** One outcome to record for a lead. */
export interface Settled {
  it: PendingItem;
  via: 'kf' | 'mass' | 'owner' | null;
  status: DeliveryStatus;
  reason?: string | null;
  errcode?: number | null;
  attempts: number;
  userId?: string;
  msgid?: string | null;
  group?: string | null;
  caseSlug?: string | null;
  content?: unknown;
}

/** Records outcomes (delivery records and timeline entries, one insert each for the batch) and counts them. */
export async function recordFor(b: RunBatch, settled: readonly Settled[]): Promise<void> {
  for (let i = 0; i < settled.length; i += WRITE_SLICE) await recordSlice(b, settled.slice(i, i + WRITE_SLICE));
}

async function recordSlice(b: RunBatch, settled: readonly Settled[]): Promise<void> {
  await recordOutcomes(outcomesOf(b, settled));
  for (const s of settled) {
    if (s.via) bump(s.it.page.counters.routes, s.via);
    bump(s.it.page.counters.outcomes, outcomeKey(s.via, s.status, s.reason));
    s.it.page.remaining--;
  }
}

/** An outcome to record for a lead of a run, whether or not a page of the run is waiting for it. */
export type SettledRecord = Omit<Settled, 'it'> & { it: Pick<SendItem, 'leadId' | 'corpId' | 'externalUserId' | 'owner'> };

/** The delivery records and timeline steps of outcomes in a run (what recordFor writes, without counting them). */
export function outcomesOf(b: { ctx: Pick<BotContext, 'config'>; campaign: Pick<Campaign, 'key'>; runId: string }, settled: readonly SettledRecord[]): Outcome[] {
  const now = Date.now();
  const tz = b.ctx.config.NURTURE_TIMEZONE;
  const base = { kind: 'campaign', localDay: localDay(now, tz), localMonth: localMonth(now, tz), runId: b.runId };
  return settled.map((s) => {
    const delivery: DeliveryRecord = {
      ...base,
      key: campaignDeliveryKey(b.runId, s.it.leadId),
      corpId: s.it.corpId,
      externalUserId: s.it.externalUserId,
      userId: s.userId ?? s.it.owner,
      status: s.status,
      via: s.via,
      attempts: s.attempts,
      errcode: s.errcode ?? null,
      reason: s.reason ?? null,
      content: s.content ?? null,
      sentAt: s.status === 'sent' ? new Date(now) : null,
      caseSlug: s.caseSlug ?? null,
      msgid: s.msgid ?? null,
      group: s.group ?? null,
    };
    const type = `campaign_${s.status === 'sent' && s.via === 'owner' ? 'reminded' : s.status}` as const;
    return { delivery, step: { type, at: new Date(now), detail: { campaign: b.campaign.key, run: b.runId, via: s.via, ...(s.group ? { group: s.group } : {}), ...(s.reason ? { reason: s.reason } : {}), ...(s.errcode ? { errcode: s.errcode } : {}) } } };
  });
}

/** Leads `caseStudy: auto` has no case study for (none fits, or each was sent before): recorded as skipped. */
export async function skipNoCase(b: RunBatch, items: readonly PendingItem[]): Promise<void> {
  await recordFor(b, items.map((it) => ({ it, via: null, status: 'skipped', reason: 'no_case_left', attempts: 0 })));
}

/** Leads a cap held back past the run's window: recorded as skipped (over the cap), never sent. */
export async function expireItems(b: RunBatch, items: readonly PendingItem[]): Promise<void> {
  await recordFor(b, items.map((it) => ({ it, via: null, status: 'skipped', reason: 'cap_reached', attempts: 0 })));
}
