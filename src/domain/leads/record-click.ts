import type { BotContext } from '../../context.js';
import { Delivery } from '../../store/models/delivery.js';
import { recordStep } from '../../store/timeline.js';
import type { LeadRef } from '../../store/models/lead.js';
import { addTouch } from '../../store/touch-log.js';
import type { TrackedLink } from '../delivery/tracked-links.js';
import { moveStageLocked } from './stage.js';

/**
 * A customer opened a tracked link: a touch on the lead (`case_opened` for a case study, else `click`; either makes
 * an `added` lead `engaged`), the click on the delivery's record, and a timeline entry.
 */
export async function recordClick(ctx: Pick<BotContext, 'leads' | 'queues' | 'sequences' | 'channels'>, link: TrackedLink & { lead: LeadRef }, at = new Date()): Promise<void> {
  const sourceKey = `click|${link.deliveryKey}|${at.getTime()}`;
  await Delivery.updateOne({ _id: link.deliveryKey }, { $inc: { clicks: 1 }, $set: { lastClickAt: at } });
  await ctx.leads.withLock(link.lead, async () => {
    const lead = await ctx.leads.mutateLocked(link.lead, null, (doc) => {
      addTouch(doc, { eventKey: sourceKey, kind: link.caseSlug ? 'case_opened' : 'click', channelKey: doc.firstTouch?.channelKey, at, ref: link.caseSlug ?? null });
    });
    if (lead) await moveStageLocked(ctx, link.lead, 'engaged', { by: 'system', source: 'click', sourceKey, at });
  });
  await recordStep(link.lead, sourceKey, 'link_clicked', { url: link.url, delivery: link.deliveryKey, caseSlug: link.caseSlug ?? null }, at);
}
