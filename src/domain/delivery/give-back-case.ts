import type { BotContext } from '../../context.js';
import { eachById } from '../../store/by-id.js';
import { releaseFences } from '../../store/delivery-ledger.js';
import { Enrollment } from '../../store/models/enrollment.js';
import { leadId, type LeadRef } from '../../store/models/lead.js';

/** A delivery with a case study that WeCom says never reached its customer. */
export interface UndeliveredCase {
  lead: LeadRef;
  deliveryKey: string;
  caseSlug: string;
  /** The enrollment whose step it was (a nurture step), if any. */
  enrollmentId?: string | null;
}

/**
 * Gives back the case studies of mass messages WeCom did not deliver: the customer was not a friend (send result
 * status 2) or had already received a mass message in the period (status 3) [D:92135], or the task was withdrawn
 * before the owner sent it (cancel_groupmsg_send [D:97611]), so nothing reached them. The
 * case study's fence (`case|<lead>|<slug>`, docs/architecture.md "Exactly once") is deleted when this delivery still
 * holds it, so a later step or campaign may send that case study; a nurture step's enrollment notes the delivery in
 * `casesReturned`, so its later steps no longer count the case as sent. The delivery keeps its attempt fence: the
 * message itself is never sent again. Each part may run twice (a poll retried).
 */
export async function giveBackCases(ctx: Pick<BotContext, 'leads' | 'redis' | 'keys'>, cases: readonly UndeliveredCase[]): Promise<void> {
  await eachById(cases, async (c) => {
    const lead = leadId(c.lead.corpId, c.lead.externalUserId);
    const release = () => releaseFences([`case|${lead}|${c.caseSlug}`], c.deliveryKey);
    // Under the lead's lock, as every write of an enrollment: a step running meanwhile sees both changes or neither.
    if (c.enrollmentId) {
      await ctx.leads.withLock(c.lead, async () => {
        await Enrollment.updateOne({ _id: c.enrollmentId!, casesReturned: { $ne: c.deliveryKey } }, { $push: { casesReturned: c.deliveryKey } });
        await release();
      });
    } else {
      await release();
    }
    // The 客服 replies' hint of cases the lead has had (src/domain/kf/reply.ts): a hint lost only costs a try.
    await ctx.redis.srem(ctx.keys.casesTaken(lead), c.caseSlug).catch(() => 0);
  }, 8);
}
