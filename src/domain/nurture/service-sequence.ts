import type { BotContext } from '../../context.js';
import type { LeadRef } from '../../store/models/lead.js';
import { enrollLocked } from './enroll.js';

type Ctx = Pick<BotContext, 'queues' | 'sequences' | 'leads' | 'channels'>;

/** Who a lead's service sequence comes from: the channel it came through, and the member it talks with. */
export interface ServiceFrom {
  channelKey: string | null | undefined;
  /** The member to send it (the lead's last contact); another active owner when they no longer have the lead. */
  owner: string | null | undefined;
}

/**
 * A lead that became a customer gets service, not marketing (docs/ops-guide.md, "Stages"): every marketing
 * enrollment has ended (policy.ts), and the lead is enrolled in its channel's `serviceSequence`, else the one
 * channels.yaml names for every channel, once ever (moving back and to `customer` again enrolls nothing). Call with
 * the lead's lock held. Returns whether it was enrolled now.
 */
export async function enrollServiceLocked(ctx: Ctx, lead: LeadRef, from: ServiceFrom): Promise<boolean> {
  // Start-up checks that every service sequence named exists (src/content/index.ts).
  const key = ctx.channels.serviceSequenceOf(from.channelKey);
  if (!key || !ctx.sequences.has(key)) return false;
  return (await enrollLocked(ctx, lead, key, from.owner ?? '')) !== null;
}
