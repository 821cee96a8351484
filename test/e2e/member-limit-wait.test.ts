import { afterAll, beforeAll, expect, it } from 'vitest';
import { createCampaign } from '../../src/domain/campaigns/catalog.js';
import { launchCampaign } from '../../src/domain/campaigns/control.js';
import { jobIds } from '../../src/queues/job-ids.js';
import { CampaignRun } from '../../src/store/models/campaign-run.js';
import { Delivery } from '../../src/store/models/delivery.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { seedLeads } from '../helpers/seed-leads.js';

/**
 * WeCom's per-member limit of app messages is counted by the minute and the hour [D:90236]. A campaign reminder that
 * finds its owner's minute used up does not sit in the call until the minute is over: that would hold the run past its
 * lease (another runner could take it over) with its customers' attempts taken and no outcome. The run waits instead,
 * its lease given up. Here the bot keeps to 2 a minute.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness('member-limit-wait', {
    env: { CAMPAIGN_QUIET_HOURS: 'none', MASS_MESSAGE_CAP: '0/month', WECOM_MEMBER_MESSAGE_LIMITS: '2/m' },
    sandbox: { memberMessageLimits: [{ limit: 3, windowMs: 60_000 }] },
  });
});
afterAll(async () => h?.stop());

it('a reminder that finds its owner\'s minute used up makes the run wait at once, lease given up, instead of waiting in the call', async () => {
  // 60 customers of one owner: 3 reminders of 20; the minute holds 2.
  await seedLeads(h.sandbox, Array.from({ length: 60 }, (_, i) => ({ name: `等待客户${i}号`, owner: 'dengdai', tags: ['测试/wait'] })));
  await createCampaign(h.ctx, { key: 'wait1', name: '等待', segment: { tags: { all: ['测试/wait'] } }, content: { text: '新案例请查收。' }, schedule: { cron: '0 10 * * 1', timezone: 'Asia/Shanghai' } }, 'test');
  const { run } = await launchCampaign(h.ctx, 'wait1');
  const started = Date.now();
  // Well before the owner's minute is over (a reminder waiting in its call would take until then).
  await h.drain('campaign-run', 20_000);
  expect(Date.now() - started).toBeLessThan(20_000);
  const waiting = (await CampaignRun.findById(run._id).lean())!;
  expect(waiting.status).toBe('waiting');
  expect(waiting.runner).toBeNull();
  expect(waiting.nextAt!.getTime()).toBeGreaterThan(Date.now() + 30_000);
  expect(await (await h.ctx.queues.get('campaign-run').getJob(jobIds.campaignRun(run._id)))!.getState()).toBe('delayed');
  expect(h.sandbox.state.appMessages.sentTo('dengdai')).toHaveLength(2);
  expect(h.sandbox.state.appMessages.dropped).toEqual([]);
  expect(await Delivery.countDocuments({ runId: run._id, status: 'sent' })).toBe(40);
  expect(await Delivery.countDocuments({ runId: run._id, status: { $ne: 'sent' } })).toBe(0);
});
