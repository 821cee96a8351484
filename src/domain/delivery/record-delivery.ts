import type { BotContext } from '../../context.js';
import { recordOutcome, type Outcome } from '../../store/delivery-ledger.js';

/**
 * Records an outcome (src/store/delivery-ledger.ts) and what it changes on the lead: a 微信客服 message sent counts
 * toward the lead's open window [D:94677], as shown to staff (the window's fences are what senders go by). Counted
 * once, by the call that created the record, and only while no newer customer message has opened a new window.
 */
export async function recordDelivery(ctx: Pick<BotContext, 'leads'>, outcome: Outcome): Promise<void> {
  const { status, created } = await recordOutcome(outcome);
  const d = outcome.delivery;
  if (!created || !d || status !== 'sent' || d.via !== 'kf' || !d.sentAt) return;
  const lead = { corpId: d.corpId, externalUserId: d.externalUserId };
  await ctx.leads.update(lead, { 'kf.lastInboundAt': { $lte: new Date(d.sentAt) } }, { $inc: { 'kf.sentSinceInbound': 1 } });
}
