import type { BotContext } from '../../context.js';
import { CampaignGroup } from '../../store/models/campaign-group.js';

/**
 * Withdraws the campaign's mass-message tasks owners have not confirmed yet (cancel_groupmsg_send [D:97611]), so a
 * cancelled campaign reaches no one more. A task WeCom will not withdraw is logged and left: its customers' results
 * are still read. Returns how many tasks were withdrawn.
 */
export async function withdrawTasks(ctx: Pick<BotContext, 'wecom' | 'log'>, key: string): Promise<number> {
  let n = 0;
  for (const g of await CampaignGroup.find({ campaignKey: key, via: 'mass', status: 'submitted', withdrawnAt: null }, { msgid: 1 }).lean()) {
    if (!g.msgid) continue;
    try {
      await ctx.wecom.cancelGroupMsgSend(g.msgid);
    } catch (err) {
      ctx.log.error({ campaign: key, group: g._id, err: (err as Error).message }, 'campaign cancelled, but its mass-message task could not be withdrawn');
      continue;
    }
    await CampaignGroup.updateOne({ _id: g._id }, { $set: { withdrawnAt: new Date() } });
    n++;
  }
  if (n) ctx.log.info({ campaign: key, tasks: n }, 'campaign cancelled: mass-message tasks not yet confirmed withdrawn');
  return n;
}
