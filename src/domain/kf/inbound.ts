import type { BotContext } from '../../context.js';
import { eachById } from '../../store/by-id.js';
import { recordHandled, wasHandled } from '../../store/kf-handled.js';
import { Lead, splitLeadId } from '../../store/models/lead.js';
import type { KfSyncedMessage } from '../../wecom/types.js';
import { handleCustomerMessages, handOffLocked } from './customer-message.js';
import { handleKfEvent, handleServicerMessage } from './events.js';

/** The customer a message or event is about (events carry it inside `event` [D:94670]). */
export const customerOf = (m: KfSyncedMessage): string | null => m.external_userid ?? m.event?.external_userid ?? null;

/** The messages of one customer from one page, in order (a sync's run, or set-aside work: set-aside.ts). */
export interface InboundBatch {
  openKfid: string;
  externalUserId: string | null;
  msgs: KfSyncedMessage[];
}

/**
 * Handles a customer's messages in order, each once: a message whose handling finished before (it has its mark in
 * `kf_handled`) is skipped, and every effect of one is keyed by its msgid, so a second run of an unfinished one adds
 * nothing (docs/architecture.md, "Exactly once"). The customer's consecutive messages are handled as one run (one lead
 * write for them: handleCustomerMessages). `fresh` names messages this sync has just stored, so known unhandled
 * without a read. Returns what each did.
 */
export async function handleInbound(ctx: BotContext, b: InboundBatch, lastAttempt: boolean, fresh: ReadonlySet<string> = new Set()): Promise<string[]> {
  const handled = await eachById(b.msgs, async (m) => !fresh.has(m.msgid) && wasHandled(b.openKfid, m.msgid));
  const out: string[] = [];
  for (let i = 0; i < b.msgs.length; ) {
    const m = b.msgs[i]!;
    if (handled[i]) {
      out.push('done_before');
      i++;
      continue;
    }
    if (m.origin === 3 && m.external_userid) {
      // The customer's messages from here up to the next one that is not theirs, or was handled before.
      let j = i + 1;
      while (j < b.msgs.length && b.msgs[j]!.origin === 3 && b.msgs[j]!.external_userid === m.external_userid && !handled[j]) j++;
      const run = b.msgs.slice(i, j);
      const outcomes = await handleCustomerMessages(ctx, b.openKfid, run);
      await Promise.all(run.map((r, k) => markHandled(b.openKfid, r, outcomes[k]!)));
      out.push(...outcomes);
      i = j;
      continue;
    }
    const outcome =
      m.origin === 5 && m.external_userid
        ? await handleServicerMessage(ctx, b.openKfid, m)
        : m.msgtype === 'event'
          ? await handleKfEvent(ctx, b.openKfid, m, lastAttempt)
          : `ignored:origin_${m.origin}`;
    await markHandled(b.openKfid, m, outcome);
    out.push(outcome);
    i++;
  }
  return out;
}

/** Observers of handled messages (account, msgid, when), e.g. a benchmark's clock; the handling is the same without. */
export const handledObservers = new Set<(openKfid: string, msgid: string, at: number) => void>();

/** The message is done: never handled again (src/store/kf-handled.ts: one insert for the marks of the moment). */
async function markHandled(openKfid: string, m: KfSyncedMessage, outcome: string): Promise<void> {
  await recordHandled(openKfid, m.msgid, outcome);
  for (const observe of handledObservers) observe(openKfid, m.msgid, Date.now());
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
