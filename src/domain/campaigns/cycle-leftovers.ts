import { insertManyOnce } from '../../store/create-once.js';
import { deliveriesOf } from '../../store/delivery-ledger.js';
import { CampaignDeferral } from '../../store/models/campaign-deferral.js';
import { eachById } from '../../store/by-id.js';
import { Lead } from '../../store/models/lead.js';
import { pauseMember, pausedTargets } from '../pause/pauses.js';
import { notedLeavers } from './audience-leavers.js';
import { bump, outcomeKey } from './counters.js';
import { planLead, type ExclusionReason } from './plan.js';
import { AUDIENCE_FIELDS, type AudienceLead } from './segment.js';
import { campaignDeliveryKey, recordFor, type PendingItem, type RunBatch } from './send-record.js';
import { writeTakenGroups } from './taken-groups.js';

// The leads a cycle (send.ts) takes no send for: those excluded since they were planned, those an earlier run of it
// already called WeCom for, and those over their daily cap today.

/**
 * Leads excluded since their page was planned (planLead): opted out, lost, a customer now (marketing content),
 * paused, without an active owner. A lead's group may wait in memory until the pass has gone through its segment
 * (minutes in a large run), so before the cycle takes its budget the pauses are read again, and the leads a change
 * noted as maybe gone from audiences (audience-leavers.ts) are read again, one by one by `_id`; one now excluded is
 * counted as excluded, as if its page had found it so, and gets nothing (docs/ops-guide.md, "Excluded, always").
 * Returns the others.
 */
export async function dropExcluded(b: RunBatch, items: readonly PendingItem[]): Promise<PendingItem[]> {
  if (!items.length) return [];
  const [paused, noted] = await Promise.all([pausedTargets(b.ctx), notedLeavers(b.ctx, items.map((it) => ({ leadId: it.leadId, readAt: it.page.readAt })))]);
  const now = Date.now();
  const excluded = new Map<PendingItem, ExclusionReason>();
  for (const it of items) {
    if (paused.has(pauseMember({ kind: 'lead', target: it.leadId })) || (it.channelKey && paused.has(pauseMember({ kind: 'channel', target: it.channelKey })))) excluded.set(it, 'paused');
  }
  await eachById(
    items.filter((it) => noted.has(it.leadId) && !excluded.has(it)),
    async (it) => {
      const lead = (await Lead.findById(it.leadId, AUDIENCE_FIELDS).lean()) as unknown as AudienceLead | null;
      const plan = lead ? planLead(b.ctx, b.campaign, lead, paused, now) : null;
      if (plan?.kind === 'excluded') excluded.set(it, plan.reason);
    },
  );
  for (const [it, reason] of excluded) {
    // Only the audience's pass counts a lead as targeted; a later pass counts its exclusions anew (run.ts, addPage).
    if (b.pass === 0) it.page.counters.targeted--;
    bump(it.page.counters.excluded, reason);
    it.page.remaining--;
  }
  if (excluded.size) b.ctx.log.info({ run: b.runId, leads: excluded.size }, 'campaign leads excluded since they were planned (opted out, lost, paused...): not sent');
  return items.filter((it) => !excluded.has(it));
}

/**
 * Leads whose attempt is held already: an earlier run of this pass got as far as calling WeCom for them. Their
 * outcome is read from the ledger (counted as it was first recorded). With none, a mass message WeCom took whose
 * records could not be written is recorded now from what Redis kept of WeCom's answer (src/domain/campaigns/
 * taken-groups.ts): submitted under its msgid, its result poll queued. Otherwise that run died mid-call (or Redis lost
 * what it kept) and WeCom may have sent it, so the delivery is `unknown`. Either way it is never sent again.
 */
export async function settleHeld(b: RunBatch, items: readonly PendingItem[]): Promise<void> {
  if (!items.length) return;
  const keys = items.map((it) => campaignDeliveryKey(b.runId, it.leadId));
  let found = await deliveriesOf(keys);
  const missing = items.filter((it) => !found.has(campaignDeliveryKey(b.runId, it.leadId)));
  if (missing.length && (await writeTakenGroups(b, new Set(missing.map((it) => it.leadId))))) found = await deliveriesOf(keys);
  const lost: PendingItem[] = [];
  for (const it of items) {
    const d = found.get(campaignDeliveryKey(b.runId, it.leadId));
    if (!d) {
      lost.push(it);
      continue;
    }
    if (d.via === 'kf' || d.via === 'mass' || d.via === 'owner') bump(it.page.counters.routes, d.via);
    // A mass message is first recorded as submitted; later results are counted from its group.
    bump(it.page.counters.outcomes, outcomeKey(d.via, d.msgid ? 'submitted' : d.status, d.reason));
    it.page.remaining--;
  }
  if (lost.length) b.ctx.log.error({ run: b.runId, leads: lost.length }, 'campaign deliveries left in flight by a crash: marked unknown, not resent');
  await recordFor(b, lost.map((it) => ({ it, via: null, status: 'unknown', reason: 'left_in_flight', attempts: 1 })));
}

/** Leads over their daily cap today: tried again in the run's next pass (tomorrow), never dropped. */
export async function deferItems(b: RunBatch, items: readonly PendingItem[]): Promise<void> {
  if (!items.length) return;
  const at = new Date();
  await insertManyOnce(
    CampaignDeferral.collection,
    items.map((it) => ({ _id: `${b.runId}|${b.pass + 1}|${it.leadId}`, runId: b.runId, pass: b.pass + 1, leadId: it.leadId, reason: 'daily_cap', at })),
  );
  for (const it of items) {
    it.page.counters.deferred++;
    it.page.remaining--;
  }
}
