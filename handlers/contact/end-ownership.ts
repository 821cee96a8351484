import type { HandlerContext } from '../../src/context.js';
import type { LeadDoc } from '../../src/store/models/lead.js';

/** Tries of a deletion for a lead we do not know yet: its add may still be in flight (events run concurrently). */
const WAIT_FOR_ADD_ATTEMPTS = 3;

/**
 * Ends one owner's relationship with a lead (`left`: the customer deleted the member; `removed`: the member deleted
 * the customer), unless a newer event already changed that owner. With no active owner left after a `left`, the
 * lead is lost. Returns the lead, or null when it is unknown for good (recorded by the caller only).
 */
export async function endOwnership(
  event: { UserID: string; ExternalUserID: string; CreateTime: number },
  ctx: HandlerContext,
  status: 'left' | 'removed',
): Promise<LeadDoc | null> {
  const at = new Date(event.CreateTime * 1000);
  const lead = await ctx.leads.mutate(ctx.corpId, event.ExternalUserID, null, (doc) => {
    const owner = doc.owners.find((o) => o.userId === event.UserID);
    if (owner && (!owner.lastEventAt || owner.lastEventAt <= at)) {
      owner.status = status;
      owner.endedAt = at;
      owner.lastEventAt = at;
    }
    if (status === 'left' && !doc.owners.some((o) => o.status === 'active') && doc.stage !== 'lost') {
      doc.stage = 'lost';
      doc.lostAt = at;
    }
  });
  if (!lead && ctx.attempt + 1 < WAIT_FOR_ADD_ATTEMPTS) {
    throw new Error(`lead ${event.ExternalUserID} not known yet; retrying in case its add is still being handled`);
  }
  return lead;
}
