import type { BotContext } from '../../context.js';
import { KfMessage } from '../../store/models/kf.js';
import { Lead, splitLeadId } from '../../store/models/lead.js';
import type { KfSyncedMessage } from '../../wecom/types.js';
import { handleCustomerMessage, handOffLocked } from './customer-message.js';
import { handleKfEvent, handleServicerMessage } from './events.js';

/** The messages of one customer from one page, in order (a `kf-inbound` job). */
export interface InboundBatch {
  openKfid: string;
  externalUserId: string | null;
  msgs: KfSyncedMessage[];
}

/**
 * Handles a customer's messages in order, each once: a message whose handling finished before (its document no
 * longer pending) is skipped, and every effect of one is keyed by its msgid, so a second run of an unfinished one adds
 * nothing (docs/architecture.md, "Exactly once"). Returns what each did.
 */
export async function handleInbound(ctx: BotContext, b: InboundBatch, lastAttempt: boolean): Promise<string[]> {
  const out: string[] = [];
  for (const m of b.msgs) {
    const id = `${b.openKfid}|${m.msgid}`;
    const stored = await KfMessage.findById(id, { pending: 1 }).lean();
    if (stored && !stored.pending) {
      out.push('done_before');
      continue;
    }
    const outcome =
      m.origin === 3 && m.external_userid
        ? await handleCustomerMessage(ctx, b.openKfid, m)
        : m.origin === 5 && m.external_userid
          ? await handleServicerMessage(ctx, b.openKfid, m)
          : m.msgtype === 'event'
            ? await handleKfEvent(ctx, b.openKfid, m, lastAttempt)
            : `ignored:origin_${m.origin}`;
    await KfMessage.updateOne({ _id: id }, { $unset: { pending: 1 }, $set: { handledAt: new Date(), outcome } });
    out.push(outcome);
  }
  return out;
}

/**
 * The hand-off that waited for the service hours: done now if the session is still the bot's (a person may have taken
 * it meanwhile, or it ended: then nothing).
 */
export async function handOffWhenOpen(ctx: BotContext, d: { lead: string; openKfid: string; at: number }): Promise<string> {
  const ref = splitLeadId(d.lead);
  if (!ref) return 'bad_lead';
  return ctx.leads.withLock(ref, async () => {
    const doc = await Lead.findById(d.lead);
    if (!doc?.kf?.handoffAt || doc.kf.handoffAt.getTime() !== d.at) return 'not_needed';
    if (doc.kf.state === 2 || doc.kf.state === 3) {
      await ctx.leads.setLocked(ref, { 'kf.handoffAt': null });
      return 'person_serves';
    }
    return handOffLocked(ctx, ref, doc, d.openKfid, `kf-handoff|${d.lead}|${d.at}`);
  });
}
