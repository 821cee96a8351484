import type { Campaign } from '../../content/campaigns.js';
import type { BotContext } from '../../context.js';
import { jobIds } from '../../queues/job-ids.js';
import { createOnce } from '../../store/create-once.js';
import { recordOutcomes, type FenceSpec } from '../../store/delivery-ledger.js';
import { CampaignGroup } from '../../store/models/campaign-group.js';
import { leadId } from '../../store/models/lead.js';
import { releaseBudget } from '../delivery/budget.js';
import type { MessageContent } from '../delivery/via.js';
import { campaignDeliveryKey, outcomesOf, runDeliveryPrefix, WRITE_SLICE, type SettledRecord } from './send-record.js';

/**
 * A mass message WeCom took (add_msg_template answered with its msgid), kept in Redis from that answer until the
 * group's record and its customers' deliveries are written (docs/architecture.md, "A campaign run"). When those
 * writes fail, the run's retry finds the customers' attempt fences held with no outcome: it writes the records from
 * here, as the send would have, and the task's result poll follows; the message is never asked for again.
 */
export interface TakenGroup {
  /** The group's key (`cg|<run>|<n>`): its record's _id, its tracked links' and polls' key. */
  group: string;
  msgid: string;
  sender: string;
  corpId: string;
  content: MessageContent;
  caseSlug: string | null;
  /** When WeCom answered (ms): the result polls count from it. */
  submittedAt: number;
  /** Every customer of the message (external user ids). */
  customers: string[];
  /** A customer's attempt, where it is not the first (a 客服 send whose window had closed). */
  attempts: Record<string, number>;
  /** Customers WeCom refused at once (fail_list), with the budget units their send held (given back). */
  refused: Record<string, FenceSpec[]>;
  /** Customers whose mass messages go to this sender once they get it (CampaignGroup.retarget). */
  retarget: string[];
}

/**
 * How long a taken group is kept when its records were not written: well past the retries of the run's job and the
 * reconciler's re-adding of an open run (every NURTURE_RECONCILE_SECONDS), which is when it is read.
 */
const KEEP_S = 7 * 86_400;

type Ctx = Pick<BotContext, 'redis' | 'keys' | 'log' | 'config' | 'queues'>;
type Batch = { ctx: Ctx; campaign: Campaign; runId: string };

/**
 * Keeps a group WeCom took, before anything about it is written to the database. A failure here is logged, not
 * thrown: the send goes on to write its records, which is what the keeping was for.
 */
export async function keepTakenGroup(ctx: Ctx, runId: string, g: TakenGroup): Promise<void> {
  const key = ctx.keys.campaignTakenGroups(runId);
  try {
    await ctx.redis.multi().hset(key, g.group, JSON.stringify(g)).expire(key, KEEP_S).exec();
  } catch (err) {
    ctx.log.error({ run: runId, group: g.group, msgid: g.msgid, err: (err as Error).message }, 'campaign mass message taken by WeCom, but not kept in Redis before its records');
  }
}

/** Forgets a taken group once its records are written (one left behind is harmless and expires). */
export async function forgetTakenGroup(ctx: Ctx, runId: string, group: string): Promise<void> {
  await ctx.redis.hdel(ctx.keys.campaignTakenGroups(runId), group).catch((err: Error) => ctx.log.warn({ run: runId, group, err: err.message }, 'campaign taken group not forgotten: it expires'));
}

/**
 * The record of a group WeCom took: submitted (its poll follows), or failed when WeCom refused every customer. Written
 * once whoever writes it: the sender right after WeCom's answer, or a runner of the same run that found the group kept
 * in Redis (writeTakenGroups) while the sender was still at it.
 */
export async function createGroupRecord(b: Batch, g: TakenGroup): Promise<void> {
  const refused = Object.keys(g.refused).length;
  const doc = {
    _id: g.group,
    runId: b.runId,
    campaignKey: b.campaign.key,
    corpId: g.corpId,
    via: 'mass',
    sender: g.sender,
    size: g.customers.length,
    refused,
    msgid: g.msgid,
    deliveryKeyPrefix: runDeliveryPrefix(b.runId),
    status: refused < g.customers.length ? 'submitted' : 'failed',
    retarget: g.retarget,
    content: g.content,
    caseSlug: g.caseSlug,
    // The polls count from WeCom's answer, the reconciler from the record's creation: the same moment.
    createdAt: new Date(g.submittedAt),
  };
  await createOnce(CampaignGroup, doc);
}

/** The outcome of each customer of a group WeCom took, in its order: submitted under the msgid, or refused (fail_list). */
export function settledOf(g: TakenGroup): SettledRecord[] {
  return g.customers.map((e): SettledRecord => {
    const it = { leadId: leadId(g.corpId, e), corpId: g.corpId, externalUserId: e, owner: g.sender };
    const common = { it, via: 'mass' as const, attempts: g.attempts[e] ?? 1, userId: g.sender, group: g.group, caseSlug: g.caseSlug };
    return g.refused[e] ? { ...common, status: 'failed', reason: 'not_a_contact_of_sender' } : { ...common, status: 'submitted', msgid: g.msgid };
  });
}

/** Gives back the budget units the sends to the customers WeCom refused held (nothing reached them). */
export async function releaseRefused(b: Batch, g: TakenGroup): Promise<void> {
  for (const [e, held] of Object.entries(g.refused)) await releaseBudget(b.ctx, campaignDeliveryKey(b.runId, leadId(g.corpId, e)), held);
}

/** What follows a group's records: its first result poll, and the owner's note when the campaign has one. */
export async function followTakenGroup(b: Batch, g: TakenGroup, opts: { notify?: boolean } = {}): Promise<void> {
  const { ctx, campaign } = b;
  const submitted = g.customers.length - Object.keys(g.refused).length;
  if (!submitted) return;
  const first = ctx.config.MASS_RESULT_POLL_SCHEDULE[0] ?? 60_000;
  await ctx.queues.add(
    'mass-result',
    { deliveryKey: g.group, attempt: 0, msgid: g.msgid, userId: g.sender, corpId: g.corpId, externalUserId: '*', submittedAt: g.submittedAt, group: { deliveryKeyPrefix: runDeliveryPrefix(b.runId) } },
    { jobId: jobIds.massPoll(g.group, 0), delay: Math.max(0, g.submittedAt + first - Date.now()) },
  );
  if (campaign.ownerNote && opts.notify !== false) {
    const text = `【客户群发待确认】${campaign.name}\n${campaign.ownerNote}\n共 ${submitted} 位客户，请在企业微信的「群发助手」中确认发送。`;
    await ctx.queues.add('staff-notice', { key: `${g.group}|note`, userIds: [g.sender], text, type: 'campaign_task_notice' }, { jobId: `notice|${g.group}` });
  }
}

/**
 * Writes the records of the groups WeCom took in a run that are still kept (their writes failed): the group's record,
 * every customer's delivery (submitted under the msgid, or failed for a customer WeCom refused) with its timeline
 * step, and its result poll, each once however often this runs. Only the groups with a customer among `leads` (lead
 * ids), or all of the run's when `leads` is not given. `notify: false` (a run ending cancelled, whose tasks are then
 * withdrawn) sends the owner no note asking to confirm. Returns how many groups it wrote.
 */
export async function writeTakenGroups(b: Batch, leads?: ReadonlySet<string>, opts: { notify?: boolean } = {}): Promise<number> {
  const { ctx } = b;
  const kept = await ctx.redis.hgetall(ctx.keys.campaignTakenGroups(b.runId));
  let written = 0;
  for (const raw of Object.values(kept)) {
    const g = JSON.parse(raw) as TakenGroup;
    if (leads && !g.customers.some((e) => leads.has(leadId(g.corpId, e)))) continue;
    await createGroupRecord(b, g);
    await releaseRefused(b, g);
    const settled = settledOf(g);
    for (let i = 0; i < settled.length; i += WRITE_SLICE) await recordOutcomes(outcomesOf(b, settled.slice(i, i + WRITE_SLICE)));
    await followTakenGroup(b, g, opts);
    await forgetTakenGroup(ctx, b.runId, g.group);
    ctx.log.warn({ campaign: b.campaign.key, run: b.runId, group: g.group, msgid: g.msgid, customers: g.customers.length }, 'campaign mass message WeCom took before its records failed: recorded from Redis, its result poll follows');
    written++;
  }
  return written;
}
