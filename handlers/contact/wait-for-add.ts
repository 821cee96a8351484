import type { HandlerContext } from '../../src/context.js';
import { endOwnership, rememberEarlyEnd, type OwnershipEnd } from '../../src/domain/leads/ownership.js';
import { Lead, leadId, type LeadDoc } from '../../src/store/models/lead.js';

/** Tries of a deletion for a lead we do not know yet: its add may still be in flight (events run concurrently). */
const WAIT_FOR_ADD_ATTEMPTS = 3;

/**
 * A deletion for a lead, or an owner of it, we do not know: retried briefly (its add may still be running), then
 * recorded as it is.
 */
export function waitForAdd(ctx: HandlerContext, externalUserId: string): void {
  if (ctx.attempt + 1 < WAIT_FOR_ADD_ATTEMPTS) {
    throw new Error(`lead ${externalUserId} or this owner of it not known yet; retrying in case its add is still being handled`);
  }
}

/** Tries of a succession's deletion while the takeover member's add has not been handled yet (about 7 s in all). */
const WAIT_FOR_TAKEOVER_ATTEMPTS = 4;

/**
 * A succession (在职继承) removes the customer from the handover member and adds them to the takeover member, as two
 * callbacks that may be handled in either order [D:96361]. While the lead has no other active owner, the deletion is
 * retried briefly, so its sequences move to the takeover member instead of stopping for want of an owner.
 */
export async function waitForTakeover(ctx: HandlerContext, externalUserId: string, handover: string): Promise<void> {
  if (ctx.attempt + 1 >= WAIT_FOR_TAKEOVER_ATTEMPTS) return;
  const lead = await Lead.findById(leadId(ctx.corpId, externalUserId), { owners: 1 }).lean();
  if (lead && !lead.owners.some((o) => o.status === 'active' && o.userId !== handover)) {
    throw new Error(`succession of ${externalUserId}: the takeover member's add is not handled yet; retrying`);
  }
}

/**
 * A deletion event's end of one relationship. Not known yet, the lead or this owner of it (events run concurrently):
 * retried briefly (waitForAdd), then kept for the add, whenever it comes. Returns the lead as the deletion left it.
 */
export async function endOrKeepForAdd(ctx: HandlerContext, end: OwnershipEnd): Promise<LeadDoc | null> {
  const lead = await endOwnership(ctx, end);
  if (lead?.owners.some((o) => o.userId === end.userId)) return lead;
  waitForAdd(ctx, end.externalUserId);
  return rememberEarlyEnd(ctx, end);
}
