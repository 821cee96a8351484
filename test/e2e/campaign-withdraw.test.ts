import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaign } from '../../src/domain/campaigns/catalog.js';
import { cancelCampaign, launchCampaign } from '../../src/domain/campaigns/control.js';
import { campaignDetail } from '../../src/domain/campaigns/overview.js';
import { reconcileCampaigns } from '../../src/domain/campaigns/reconcile.js';
import { Delivery } from '../../src/store/models/delivery.js';
import { Alert } from '../../src/store/models/alert.js';
import { CampaignGroup } from '../../src/store/models/campaign-group.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { seedLeads } from '../helpers/seed-leads.js';

const CANCEL_API = 'externalcontact/cancel_groupmsg_send';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('campaign_withdraw', { env: { CAMPAIGN_QUIET_HOURS: 'none', NURTURE_DAILY_CAP: '0', WECOM_OPS_WEBHOOK_KEY: 'withdraw-hook' }, sandbox: { webhookKeys: ['withdraw-hook'] } });
});
afterAll(async () => h?.stop());

/** A campaign to one customer of each of two owners, run: two mass-message tasks waiting for their owners. */
async function launched(key: string): Promise<Array<{ msgid: string; sender: string }>> {
  const tag = `测试/${key}`;
  await seedLeads(h.sandbox, [
    { name: `${key}甲`, owner: 'zhangsan', tags: [tag] },
    { name: `${key}乙`, owner: 'lisi', tags: [tag] },
  ]);
  await createCampaign(h.ctx, { key, name: `撤回 ${key}`, segment: { tags: { all: [tag] } }, content: { text: '新品发布会邀请。' }, schedule: { cron: '0 10 * * 1', timezone: 'Asia/Shanghai' } }, 'test');
  const { run } = await launchCampaign(h.ctx, key);
  await h.drain('campaign-run');
  const groups = await CampaignGroup.find({ runId: run._id, via: 'mass' }).lean();
  expect(groups.map((g) => g.status)).toEqual(['submitted', 'submitted']);
  return groups.map((g) => ({ msgid: g.msgid!, sender: g.sender }));
}
const withdrawnOf = async (key: string) => (await CampaignGroup.find({ campaignKey: key, via: 'mass' }).sort({ sender: 1 }).lean()).map((g) => [g.sender, Boolean(g.withdrawnAt), g.withdrawRefused?.errcode ?? null]);

describe('a cancelled campaign\'s tasks owners have not confirmed', () => {
  it('withdrawn, their customers are counted withdrawn at once: their result is read right away, not at the next poll hours later', async () => {
    await launched('now');
    await cancelCampaign(h.ctx, 'now', 'lisi');
    // Only what is due now runs: the polls of the schedule are hours away.
    await h.drain('mass-result');
    const runId = (await CampaignGroup.findOne({ campaignKey: 'now' }).lean())!.runId;
    expect((await Delivery.find({ runId }).lean()).map((d) => [d.status, d.reason])).toEqual([['skipped', 'campaign_cancelled'], ['skipped', 'campaign_cancelled']]);
    expect((await campaignDetail('now'))!.runs[0]!.results).toMatchObject({ withdrawn: 2, waitingForOwner: 0 });
  });

  it('one WeCom gave no answer about (busy on every try) is withdrawn by the reconciler, so confirming it sends nothing', async () => {
    const tasks = await launched('busy');
    // WeCom is busy for the first task on every try of the cancel's call (the client retries -1 itself).
    h.sandbox.state.inject({ api: CANCEL_API, errcode: -1, times: 3 });
    const { withdrawn } = await cancelCampaign(h.ctx, 'busy', 'lisi');
    expect(withdrawn).toBe(1);
    expect((await withdrawnOf('busy')).filter(([, w]) => !w)).toHaveLength(1);

    const { withdrawn: later } = await reconcileCampaigns(h.ctx);
    expect(later).toBe(1);
    expect(await withdrawnOf('busy')).toEqual([['lisi', true, null], ['zhangsan', true, null]]);
    for (const t of tasks) expect(h.sandbox.state.mass.confirm(t.msgid, t.sender)).toEqual([]);
    // Nothing is asked again once both are withdrawn.
    const calls = h.sandbox.state.callsTo(CANCEL_API).length;
    expect((await reconcileCampaigns(h.ctx)).withdrawn).toBe(0);
    expect(h.sandbox.state.callsTo(CANCEL_API)).toHaveLength(calls);
  });

  it('one WeCom refuses to withdraw is recorded, not asked about again, and the ops group is told once who must not send it', async () => {
    await launched('refused');
    h.sandbox.state.inject({ api: CANCEL_API, errcode: 41047 });
    await cancelCampaign(h.ctx, 'refused', 'lisi');
    const refusedBy = (await withdrawnOf('refused')).filter(([, , code]) => code === 41047);
    expect(refusedBy).toHaveLength(1);
    const calls = h.sandbox.state.callsTo(CANCEL_API).length;
    expect((await reconcileCampaigns(h.ctx)).withdrawn).toBe(0);
    expect(h.sandbox.state.callsTo(CANCEL_API)).toHaveLength(calls);
    const alert = await Alert.findById('campaign-withdraw|refused').lean();
    expect(alert).toMatchObject({ kind: 'campaign_withdraw_refused', title: '群发已取消，但有任务未能撤回：撤回 refused' });
    expect(alert!.text).toContain(`请提醒 ${String(refusedBy[0]![0])} 不要发送`);
    expect(alert!.text).toContain('错误码 41047');
  });
});
