import type { BotContext } from '../../context.js';
import { TOKEN_ERRCODES, WecomApiError } from '../../errors.js';
import { CampaignRecord } from '../../store/models/campaign.js';
import { CampaignGroup } from '../../store/models/campaign-group.js';
import { jobIds } from '../../queues/job-ids.js';
import { raiseAlert } from '../alerts/ops-alerts.js';
import { groupPoll } from './send-record.js';

type Ctx = Pick<BotContext, 'wecom' | 'log' | 'config' | 'queues' | 'redis' | 'keys'>;

/** A cancelled campaign's tasks still waiting for their owner (submitted, neither withdrawn nor refused for good). */
const unwithdrawn = (key: string) => ({ campaignKey: key, via: 'mass', status: 'submitted', withdrawnAt: null, withdrawRefused: null });

/** 41063: WeCom is still dispatching the task; ask again later [D:92135]. */
const STILL_DISPATCHING = 41063;
/** WeCom's answer that it will not withdraw the task (not one that may pass: busy, a rate limit, dispatching, a token). */
const isRefusal = (err: unknown): err is WecomApiError =>
  err instanceof WecomApiError && !err.retryable && err.errcode !== 0 && err.errcode !== STILL_DISPATCHING && !TOKEN_ERRCODES.has(err.errcode);

/**
 * Withdraws the campaign's mass-message tasks owners have not confirmed yet (cancel_groupmsg_send [D:97611]), so a
 * cancelled campaign reaches no one more. A task WeCom did not answer about (a timeout, a 5xx, busy, a rate limit) is
 * left for the campaign reconciler, which asks again each round until WeCom answers (reconcile.ts); one WeCom refuses
 * is recorded (`withdrawRefused`) and the ops group is told once, naming the owners who must not confirm it: its
 * customers' results are still read. Returns how many tasks were withdrawn.
 */
export async function withdrawTasks(ctx: Ctx, key: string): Promise<number> {
  let n = 0;
  const refused: Array<{ sender: string; errcode: number }> = [];
  for (const g of await CampaignGroup.find(unwithdrawn(key), { msgid: 1, sender: 1, corpId: 1, createdAt: 1, deliveryKeyPrefix: 1, runId: 1 }).lean()) {
    if (!g.msgid) continue;
    try {
      await ctx.wecom.cancelGroupMsgSend(g.msgid);
    } catch (err) {
      const refusal = isRefusal(err);
      ctx.log.error({ campaign: key, group: g._id, err: (err as Error).message }, refusal ? 'campaign cancelled, but WeCom refused to withdraw its mass-message task' : 'campaign cancelled, but its mass-message task could not be withdrawn yet; the reconciler tries again');
      if (refusal) {
        await CampaignGroup.updateOne({ _id: g._id }, { $set: { withdrawRefused: { errcode: err.errcode, errmsg: err.errmsg, at: new Date() } } });
        refused.push({ sender: g.sender, errcode: err.errcode });
      }
      continue;
    }
    await CampaignGroup.updateOne({ _id: g._id }, { $set: { withdrawnAt: new Date() } });
    // Its result read now: the customers the owner had not sent it to are settled as withdrawn at once, not at the
    // next poll of the schedule (hours away), so the campaign's results say so.
    await ctx.queues.add('mass-result', groupPoll({ ...g, msgid: g.msgid }, 0), { jobId: jobIds.massPollWithdrawn(g._id) });
    n++;
  }
  if (n) ctx.log.info({ campaign: key, tasks: n }, 'campaign cancelled: mass-message tasks not yet confirmed withdrawn');
  if (refused.length) await alertRefused(ctx, key, refused);
  return n;
}

/** The ops group hears once per campaign that tasks of it could not be withdrawn: their owners can still send them. */
async function alertRefused(ctx: Ctx, key: string, refused: ReadonlyArray<{ sender: string; errcode: number }>): Promise<void> {
  const name = (await CampaignRecord.findById(key, { name: 1 }).lean())?.name ?? key;
  const senders = [...new Set(refused.map((r) => r.sender))];
  const codes = [...new Set(refused.map((r) => r.errcode))];
  await raiseAlert(ctx, {
    key: `campaign-withdraw|${key}`,
    kind: 'campaign_withdraw_refused',
    title: `群发已取消，但有任务未能撤回：${name}`,
    text: `企业微信拒绝撤回 ${refused.length} 个群发任务（cancel_groupmsg_send，错误码 ${codes.join('、')}），员工仍能确认发送。请提醒 ${senders.join('、')} 不要发送群发「${name}」。`,
  });
}
