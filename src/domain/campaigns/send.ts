import { randomBytes } from 'node:crypto';
import { bytes, clipBytes, linkLine, withLinkLine } from '../../text-bytes.js';
import { QuotaWaitError, WecomApiError } from '../../errors.js';
import { attemptFenceId, type FenceSpec } from '../../store/delivery-ledger.js';
import { CampaignGroup } from '../../store/models/campaign-group.js';
import { CampaignRun } from '../../store/models/campaign-run.js';
import type { DeliveryStatus } from '../../store/models/delivery.js';
import { recordDelivery } from '../delivery/record-delivery.js';
import { releaseBudget, releaseRefusedKf, takeBudget, takeBudgetMany, type BudgetRequest, type BudgetResult } from '../delivery/budget.js';
import { massQuotaPeriod } from '../delivery/mass-quota.js';
import { trackedUrl } from '../delivery/tracked-links.js';
import { KF_WINDOW_CLOSED, sendVia, type MessageContent } from '../delivery/via.js';
import { localDay, localMonth } from '../nurture/clock.js';
import { pickCase } from '../nurture/pick-case.js';
import { pausedFor } from '../pause/pauses.js';
import { bump, outcomeKey } from './counters.js';
import { deferItems, dropExcluded, settleHeld } from './cycle-leftovers.js';
import { contentSignature, dailyCapFor, rawLink, renderText } from './plan.js';
import { campaignDeliveryKey, recordFor, runDeliveryPrefix, WRITE_SLICE, type PendingItem, type RunBatch, type Settled } from './send-record.js';
import { retryLater, withRetries } from './send-retries.js';
import { giveBackUnsent } from './unsent-fences.js';
import { createGroupRecord, followTakenGroup, forgetTakenGroup, keepTakenGroup, releaseRefused, settledOf, writeTakenGroups, type TakenGroup } from './taken-groups.js';


/** The longest text of an app message (message/send) [D:90236]. */
const APP_TEXT_BYTES = 2048;
/** Customers one reminder to an owner lists (they forward it by hand). */
export const REMINDER_BATCH = 20;
/** How long a reminder waits for room in its owner's per-member limit of app messages: well inside a run's lease (≥ 10 s). */
const REMINDER_QUOTA_WAIT_MS = 3_000;
/** 客服 messages sent at once (each one is a call of its own). */
const KF_CONCURRENCY = 4;

/** A send that has its budget and attempt: the way it goes, what it holds. */
interface Ready {
  it: PendingItem;
  via: 'kf' | 'mass' | 'owner';
  held: FenceSpec[];
  attempt: number;
  caseSlug: string | null;
}

/**
 * The run was paused or cancelled between two sends, or must wait (its `nextAt` set) for room in an owner's limit of
 * app messages: what was not sent is given back, for a resume or the run's next execution.
 */
export class RunStopped extends Error {
  constructor(readonly why: 'paused' | 'cancelled' | 'waiting' | 'shutdown') {
    super(`run stopped: ${why}`);
  }
}

/**
 * Sends to a set of pending leads (one "cycle"), less those excluded since they were planned (dropExcluded: opted
 * out meanwhile, for one): their budget and attempt fences are taken together (one insert for
 * the batch, src/domain/delivery/budget.ts), then each goes the way its budget allows: 客服 one by one; mass
 * messages grouped per (sender, content), one add_msg_template for up to CAMPAIGN_MASS_BATCH customers; reminders
 * grouped per owner. Everything fenced in a cycle is sent (or given back) in the cycle, whatever fails in it; only a
 * process that dies mid-cycle leaves fences without a send: the cycle's leads not sent by then are `unknown` to the
 * next execution, as the call in flight is (never sent twice; a cycle is at most one task's customers, or several
 * owners' smaller tasks). Between two calls a pause, a cancel or the process's shutdown stops it (RunStopped), after
 * giving back what was not sent.
 */
export async function sendCycle(b: RunBatch, planned: readonly PendingItem[]): Promise<void> {
  const items = await dropExcluded(b, planned);
  if (!items.length) return;
  const { ctx, campaign } = b;
  const now = Date.now();
  const tz = ctx.config.NURTURE_TIMEZONE;
  const day = localDay(now, tz);
  const mass = massQuotaPeriod(ctx.config.MASS_MESSAGE_CAP, now);
  const req = (it: PendingItem, via: BudgetRequest['via'], caseSlug: string | null, attempt: number): BudgetRequest => ({
    lead: it.leadId,
    key: campaignDeliveryKey(b.runId, it.leadId),
    attempt,
    via,
    day: { key: day, cap: dailyCapFor(ctx, campaign, it.grade) },
    mass,
    kfWindow: it.kf?.windowStart ?? null,
    caseSlug,
  });

  // From the first budget taken, everything fenced is sent, or given back before the cycle ends (whatever fails,
  // the budget's later slices and the writes before the sends included). A message WeCom may have taken (sent,
  // submitted, or an unknown outcome) leaves `unsent` at once, before its records are written: if a write fails then,
  // its attempt fence stays, and the retry records it `unknown` (settleHeld) instead of sending it again.
  // A lead's attempt past the first is the next way of a 客服 send WeCom refused in this cycle (its window closed):
  // nothing reached the customer by either, so every attempt of it is given back, not its last alone. An earlier
  // attempt left held would make the next execution record the lead `unknown` (settleHeld) and never send it.
  const unsent = new Set<Ready>();
  const giveBack = async () => {
    const fences = [...unsent].flatMap((r) => {
      const key = campaignDeliveryKey(b.runId, r.it.leadId);
      return [...r.held, ...Array.from({ length: r.attempt }, (_, n) => ({ id: attemptFenceId(key, n + 1), for: key }))];
    });
    // What the database fails to give back is noted in Redis for the next execution to give back (unsent-fences.ts).
    await giveBackUnsent(ctx, b.runId, fences);
  };
  try {
    // In slices, so a full group's (10,000 leads') fences are never all in memory at once. What a slice took is in
    // `unsent` before the next slice is asked for.
    const held: PendingItem[] = [];
    const deferred: PendingItem[] = [];
    const picks: Array<{ it: PendingItem; slug: string }> = [];
    for (let i = 0; i < items.length; i += WRITE_SLICE) {
      const slice = items.slice(i, i + WRITE_SLICE);
      const results = await takeBudgetMany(ctx.redis, ctx.keys, slice.map((it) => req(it, it.via, it.caseSlug, 1)));
      for (const [k, r] of results.entries()) {
        const it = slice[k]!;
        if (r.kind === 'ok') unsent.add({ it, via: r.via, held: r.held, attempt: 1, caseSlug: it.caseSlug });
        else if (r.kind === 'case_taken') picks.push({ it, slug: r.slug });
        else if (r.kind === 'attempt_held') held.push(it);
        else deferred.push(it);
      }
    }
    // The planned case went to these leads from elsewhere meanwhile: the next best one, as a nurture step does.
    const noCase: PendingItem[] = [];
    for (const { it, slug } of picks) {
      const taken = new Set<string>();
      let r: BudgetResult = { kind: 'case_taken', slug };
      let caseSlug: string | null = null;
      while (r.kind === 'case_taken') {
        taken.add(r.slug);
        caseSlug = pickCase(ctx.cases, it, taken)?.slug ?? null;
        if (!caseSlug) break;
        r = await takeBudget(ctx.redis, ctx.keys, req(it, it.via, caseSlug, 1));
      }
      if (r.kind === 'ok') unsent.add({ it, via: r.via, held: r.held, attempt: 1, caseSlug });
      else if (r.kind === 'case_taken') noCase.push(it);
      else if (r.kind === 'attempt_held') held.push(it);
      else deferred.push(it);
    }
    await settleHeld(b, held);
    await deferItems(b, deferred);
    await recordFor(b, noCase.map((it) => ({ it, via: null, status: 'skipped', reason: 'no_case_left', attempts: 0 })));

    // In the leads' order (a re-picked case's lead in its place), as their groups' customers are listed.
    const order = new Map(items.map((it, i) => [it, i]));
    const ready = [...unsent].sort((x, y) => order.get(x.it)! - order.get(y.it)!);
    const fallbacks = await sendKf(b, ready.filter((r) => r.via === 'kf'), unsent, (it, via, caseSlug, attempt) => takeBudget(ctx.redis, ctx.keys, req(it, via, caseSlug, attempt)));
    const grouped = [...ready.filter((r) => r.via !== 'kf'), ...fallbacks];
    for (const [, group] of groupBy(grouped, (r) => `${r.via}|${r.via === 'mass' ? r.it.sender : r.it.owner}|${r.caseSlug === r.it.caseSlug ? r.it.signature : contentSignature(campaign, { ...r.it, caseSlug: r.caseSlug })}`)) {
      const size = group[0]!.via === 'mass' ? ctx.config.CAMPAIGN_MASS_BATCH : REMINDER_BATCH;
      for (let i = 0; i < group.length; i += size) {
        const chunk = group.slice(i, i + size);
        await stopIfAsked(b);
        if (chunk[0]!.via === 'mass') await sendMassGroup(b, chunk, unsent);
        else await sendReminderGroup(b, chunk, unsent);
        for (const r of chunk) unsent.delete(r);
      }
    }
  } catch (err) {
    await giveBack();
    throw err;
  }
}

/**
 * Between two calls to WeCom: the run stops when its campaign was paused or cancelled, or the process is shutting down
 * (what the cycle has not sent is given back: the run sends it when it goes on, in this worker or another).
 */
async function stopIfAsked(b: RunBatch): Promise<void> {
  if (b.ctx.stopping.aborted) throw new RunStopped('shutdown');
  if (await pausedFor(b.ctx, { campaign: b.campaign.key })) throw new RunStopped('paused');
}

function groupBy<T>(xs: readonly T[], key: (x: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const x of xs) {
    const k = key(x);
    let list = out.get(k);
    if (!list) out.set(k, (list = []));
    list.push(x);
  }
  return out;
}

/**
 * The leads with an open 客服 window, each its own kf/send_msg [D:94677] with its own tracked link. A window that
 * closed meanwhile (95001, 95002, 95018) sends the same message the next way, as the lead's second attempt: those
 * come back to be grouped with the others.
 */
async function sendKf(b: RunBatch, ready: readonly Ready[], unsent: Set<Ready>, retake: (it: PendingItem, via: 'mass', caseSlug: string | null, attempt: number) => Promise<BudgetResult>): Promise<Ready[]> {
  const { ctx, campaign } = b;
  const fallbacks: Ready[] = [];
  const one = async (r: Ready) => {
    const it = r.it;
    const key = campaignDeliveryKey(b.runId, it.leadId);
    const link = rawLink(ctx, campaign, r.caseSlug);
    const content: MessageContent = {
      text: renderText(campaign, it),
      link: link ? { ...link, url: trackedUrl(ctx.publicBaseUrl, ctx.linkSecret, { url: link.url, lead: { corpId: it.corpId, externalUserId: it.externalUserId }, deliveryKey: key, caseSlug: r.caseSlug }) } : null,
    };
    // What the 客服 way reads of a lead (sendVia's kf branch): the customer and the 客服 account.
    const lead = { externalUserId: it.externalUserId, name: it.name, kf: { openKfid: it.kf!.openKfid, lastInboundAt: new Date(it.kf!.windowStart), sentSinceInbound: 0 } } as unknown as Parameters<typeof sendVia>[2];
    let status: DeliveryStatus = 'sent';
    let detail: { reason?: string; errcode?: number } = {};
    try {
      await withRetries(() => sendVia(ctx, 'kf', lead, it.owner, content, key));
      unsent.delete(r);
    } catch (err) {
      if (err instanceof WecomApiError && err.ambiguous) {
        unsent.delete(r);
        ctx.log.error({ deliveryKey: key, reason: err.errmsg }, 'campaign 客服 send outcome unknown: not retried');
        [status, detail] = ['unknown', { reason: `ambiguous: ${err.errmsg}` }];
      } else if (err instanceof WecomApiError && KF_WINDOW_CLOSED.has(err.errcode)) {
        await releaseRefusedKf(ctx, key, r.held, { errcode: err.errcode, lead: it.leadId, windowStart: it.kf!.windowStart });
        unsent.delete(r);
        const next = await retake(it, 'mass', r.caseSlug, r.attempt + 1);
        if (next.kind === 'ok') {
          const f: Ready = { it, via: next.via as 'mass' | 'owner', held: next.held, attempt: r.attempt + 1, caseSlug: r.caseSlug };
          unsent.add(f);
          fallbacks.push(f);
        } else if (next.kind === 'day_full') await deferItems(b, [it]);
        else if (next.kind === 'attempt_held') await settleHeld(b, [it]);
        else await recordFor(b, [{ it, via: null, status: 'skipped', reason: 'case_sent_elsewhere', attempts: r.attempt + 1 }]);
        return;
      } else if (retryLater(b, err)) {
        throw err;
      } else {
        await releaseBudget(ctx, key, r.held);
        const e = err instanceof WecomApiError ? err : null;
        [status, detail] = ['failed', { reason: e ? e.errmsg : 'retries_exhausted', ...(e?.errcode ? { errcode: e.errcode } : {}) }];
      }
    }
    // Recorded through recordDelivery, which also counts the message toward the lead's open window.
    const now = new Date();
    await recordDelivery(ctx, {
      delivery: { key, kind: 'campaign', corpId: it.corpId, externalUserId: it.externalUserId, userId: it.owner, status, via: 'kf', attempts: r.attempt, errcode: detail.errcode ?? null, reason: detail.reason ?? null, content, sentAt: status === 'sent' ? now : null, caseSlug: r.caseSlug, localDay: localDay(now.getTime(), ctx.config.NURTURE_TIMEZONE), localMonth: localMonth(now.getTime(), ctx.config.NURTURE_TIMEZONE), runId: b.runId },
      step: { type: `campaign_${status}`, detail: { campaign: campaign.key, run: b.runId, via: 'kf', ...detail }, at: now },
    });
    unsent.delete(r);
    bump(it.page.counters.routes, 'kf');
    bump(it.page.counters.outcomes, outcomeKey('kf', status, detail.reason));
    it.page.remaining--;
  };
  for (let i = 0; i < ready.length; i += KF_CONCURRENCY) {
    if (i > 0) await stopIfAsked(b);
    const settled = await Promise.allSettled(ready.slice(i, i + KF_CONCURRENCY).map(one));
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
  }
  return fallbacks;
}

/** The content of a message many customers share: their text, and a link tracked for the group (not per customer). */
function groupContent(b: RunBatch, first: Ready, groupKey: string): MessageContent {
  const link = rawLink(b.ctx, b.campaign, first.caseSlug);
  return {
    text: renderText(b.campaign, first.it),
    link: link ? { ...link, url: trackedUrl(b.ctx.publicBaseUrl, b.ctx.linkSecret, { url: link.url, lead: null, deliveryKey: groupKey, caseSlug: first.caseSlug }) } : null,
  };
}

const newGroupKey = (runId: string) => `cg|${runId}|${randomBytes(6).toString('hex')}`;

/**
 * One mass message for many customers of one sender with the same content [D:92135]: one add_msg_template with
 * every external_userid (at most CAMPAIGN_MASS_BATCH), so the owner confirms one task for all of them. Every
 * recipient's attempt was fenced before the call and each gets its own delivery (submitted, or failed when WeCom
 * refused it: fail_list) under the one msgid; one poll per (msgid, sender) follows them all. WeCom's answer is kept
 * in Redis until those records are written (src/domain/campaigns/taken-groups.ts), for a retry to write them.
 */
async function sendMassGroup(b: RunBatch, chunk: readonly Ready[], unsent: Set<Ready>): Promise<void> {
  const { ctx, campaign } = b;
  const sender = chunk[0]!.it.sender;
  const groupKey = newGroupKey(b.runId);
  const content = groupContent(b, chunk[0]!, groupKey);
  const ids = chunk.map((r) => r.it.externalUserId);
  let res: { msgid: string; fail_list?: string[] };
  try {
    res = await withRetries(() =>
      ctx.wecom.addMsgTemplate({
        chat_type: 'single',
        external_userid: ids,
        sender,
        ...(content.text ? { text: { content: content.text } } : {}),
        ...(content.link ? { attachments: [{ msgtype: 'link', link: content.link }] } : {}),
      }),
    );
  } catch (err) {
    if (err instanceof WecomApiError && err.ambiguous) {
      for (const r of chunk) unsent.delete(r);
      ctx.log.error({ group: groupKey, sender, customers: ids.length, reason: err.errmsg }, 'campaign mass message outcome unknown: not retried');
      await CampaignGroup.create({ _id: groupKey, runId: b.runId, campaignKey: campaign.key, corpId: chunk[0]!.it.corpId, via: 'mass', sender, size: ids.length, deliveryKeyPrefix: runDeliveryPrefix(b.runId), status: 'unknown', content });
      await recordFor(b, chunk.map((r) => ({ it: r.it, via: 'mass', status: 'unknown', reason: `ambiguous: ${err.errmsg}`, attempts: r.attempt, userId: sender, group: groupKey, caseSlug: r.caseSlug })));
      return;
    }
    if (retryLater(b, err)) throw err;
    for (const r of chunk) await releaseBudget(ctx, campaignDeliveryKey(b.runId, r.it.leadId), r.held);
    const e = err instanceof WecomApiError ? err : null;
    await recordFor(b, chunk.map((r) => ({ it: r.it, via: 'mass', status: 'failed', reason: e?.errmsg ?? 'retries_exhausted', errcode: e?.errcode ?? null, attempts: r.attempt, userId: sender, caseSlug: r.caseSlug })));
    return;
  }
  for (const r of chunk) unsent.delete(r);
  const refused = new Set(res.fail_list ?? []);
  const submitted = chunk.filter((r) => !refused.has(r.it.externalUserId));
  // WeCom has the message: kept in Redis before any record, so that a write failing from here on leaves the retry
  // the msgid to record and poll, instead of customers it can only call unknown.
  const taken: TakenGroup = {
    group: groupKey,
    msgid: res.msgid,
    sender,
    corpId: chunk[0]!.it.corpId,
    content,
    caseSlug: chunk[0]!.caseSlug,
    submittedAt: Date.now(),
    customers: ids,
    attempts: Object.fromEntries(chunk.filter((r) => r.attempt !== 1).map((r) => [r.it.externalUserId, r.attempt])),
    refused: Object.fromEntries(chunk.filter((r) => refused.has(r.it.externalUserId)).map((r) => [r.it.externalUserId, r.held])),
    retarget: submitted.filter((r) => r.it.retarget).map((r) => r.it.externalUserId),
  };
  await keepTakenGroup(ctx, b.runId, taken);
  await releaseRefused(b, taken);
  await createGroupRecord(b, taken);
  // The run's own items, so each outcome is counted on its page.
  const item = new Map(chunk.map((r) => [r.it.externalUserId, r.it]));
  await recordFor(b, settledOf(taken).map((s): Settled => ({ ...s, it: item.get(s.it.externalUserId)! })));
  await followTakenGroup(b, taken);
  await forgetTakenGroup(ctx, b.runId, groupKey);
  if (submitted.length) ctx.log.info({ campaign: campaign.key, run: b.runId, sender, customers: submitted.length, refused: refused.size }, 'campaign mass message submitted: the owner confirms it in the client');
}

/**
 * One reminder to an owner for customers whose mass-message quota is used up: the content to forward by hand and
 * who to (at most REMINDER_BATCH customers per message). Each customer gets its own delivery (via owner), written
 * only once WeCom took the reminder. The owner's reminders keep to the per-member limit of app messages (WeCom drops
 * the excess silently [D:90236]): a reminder waits for room a few seconds at most (REMINDER_QUOTA_WAIT_MS); longer
 * (the member's minute or hour is used up), the run waits for room (waitForRoom), its lease given up: a call that
 * waited out a minute would hold the run past its lease (another runner could take it over) and leave its customers'
 * attempts taken without an outcome all that time (`unknown` after a crash).
 */
async function sendReminderGroup(b: RunBatch, chunk: readonly Ready[], unsent: Set<Ready>): Promise<void> {
  const { ctx, campaign } = b;
  const owner = chunk[0]!.it.owner;
  const groupKey = newGroupKey(b.runId);
  const content = groupContent(b, chunk[0]!, groupKey);
  const who = chunk.map((r) => r.it.name ?? r.it.externalUserId).join('、');
  // In one app message (2048 bytes): the customers (up to 600 bytes of names), then the content to forward, whose
  // text is cut before its tracked link is.
  const head = `【客户群发】${campaign.name}：这 ${chunk.length} 位客户本期的群发次数已用完，请把下面的内容手动发给他们：${who}`;
  const line = content.link ? linkLine(content.link.title, content.link.url) : '';
  const body = withLinkLine(content.text, line, APP_TEXT_BYTES - Math.min(bytes(head), bytes(head) - bytes(who) + 600) - 2);
  const note = `${clipBytes(head, APP_TEXT_BYTES - bytes(body) - 2)}\n\n${body}`;
  let status: DeliveryStatus = 'sent';
  let detail: { reason?: string; errcode?: number } = {};
  try {
    await withRetries(() => ctx.wecom.sendAppText([owner], note, { quotaWaitMs: REMINDER_QUOTA_WAIT_MS }));
    for (const r of chunk) unsent.delete(r);
  } catch (err) {
    if (err instanceof QuotaWaitError) await waitForRoom(b, owner, err.retryAt);
    if (err instanceof WecomApiError && err.ambiguous) {
      for (const r of chunk) unsent.delete(r);
      [status, detail] = ['unknown', { reason: `ambiguous: ${err.errmsg}` }];
    } else if (retryLater(b, err)) throw err;
    else {
      // Nothing reached the owner: the case study it carried may go to these customers later (as for a mass message).
      for (const r of chunk) await releaseBudget(ctx, campaignDeliveryKey(b.runId, r.it.leadId), r.held);
      const e = err instanceof WecomApiError ? err : null;
      [status, detail] = ['failed', { reason: e?.errmsg ?? 'retries_exhausted', ...(e?.errcode ? { errcode: e.errcode } : {}) }];
    }
  }
  await CampaignGroup.create({ _id: groupKey, runId: b.runId, campaignKey: campaign.key, corpId: chunk[0]!.it.corpId, via: 'owner', sender: owner, size: chunk.length, deliveryKeyPrefix: runDeliveryPrefix(b.runId), status, content });
  await recordFor(b, chunk.map((r) => ({ it: r.it, via: 'owner', status, attempts: r.attempt, userId: owner, group: groupKey, caseSlug: r.caseSlug, ...detail })));
  if (status === 'sent') ctx.log.info({ campaign: campaign.key, run: b.runId, owner, customers: chunk.length }, 'campaign reminder sent to the owner');
}

/**
 * An owner has had as many app messages as the per-member limit allows, for longer than a reminder waits: nothing of
 * this reminder went out. The run waits until there is room, as it waits through quiet hours (its `nextAt`; the run's
 * job is delayed until then), after what this cycle has not sent is given back (sendCycle): it sends it then, once.
 */
async function waitForRoom(b: RunBatch, owner: string, until: number): Promise<never> {
  await CampaignRun.updateOne({ _id: b.runId }, { $set: { status: 'waiting', nextAt: new Date(until), runner: null } });
  b.ctx.log.info({ campaign: b.campaign.key, run: b.runId, owner, until: new Date(until) }, 'campaign run waits: the owner is at the per-member limit of app messages');
  throw new RunStopped('waiting');
}
