import { afterAll, beforeAll, expect, it } from 'vitest';
import { createCampaign } from '../../src/domain/campaigns/catalog.js';
import { launchCampaign } from '../../src/domain/campaigns/control.js';
import { jobIds } from '../../src/queues/job-ids.js';
import { CampaignRun } from '../../src/store/models/campaign-run.js';
import { Delivery } from '../../src/store/models/delivery.js';
import { Fence } from '../../src/store/models/fence.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { seedLeads } from '../helpers/seed-leads.js';

/**
 * Campaign reminders to owners (the mass route off here: every lead goes to its owner as an app message).
 *
 * WeCom's per-member limit of app messages is counted by the minute and the hour [D:90236]. A campaign reminder that
 * finds its owner's minute used up does not sit in the call until the minute is over: that would hold the run past its
 * lease (another runner could take it over) with its customers' attempts taken and no outcome. The run waits instead,
 * its lease given up. Here the bot keeps to 2 a minute.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness('campaign-reminders', {
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

it('a reminder WeCom refuses (81013) gives back the case study it carried: the lead may get that case later', async () => {
  const [lead] = await seedLeads(h.sandbox, [{ name: '拒收客户', owner: 'jushou', industry: '制造业', tags: ['测试/refuse'] }]);
  await createCampaign(h.ctx, { key: 'refuse1', name: '拒收', segment: { tags: { all: ['测试/refuse'] } }, content: { caseStudy: 'auto', text: '同行案例：' }, schedule: { cron: '0 10 * * 1', timezone: 'Asia/Shanghai' } }, 'test');
  h.sandbox.state.inject({ api: 'message/send', errcode: 81013 });
  const { run } = await launchCampaign(h.ctx, 'refuse1');
  await h.drain('campaign-run');
  const d = (await Delivery.findOne({ runId: run._id, externalUserId: lead!.externalUserId }).lean())!;
  expect(d).toMatchObject({ via: 'owner', status: 'failed', errcode: 81013 });
  expect(d.caseSlug).toBeTruthy();
  expect(await Fence.exists({ _id: `case|${lead!.id}|${d.caseSlug}` })).toBeNull();
});

it('a reminder whose content is long keeps its tracked link whole and fits one app message (2048 bytes)', async () => {
  // A text as long as the 客服 route allows with its link line (templates:check and the API refuse longer ones), to
  // an owner with 20 customers to list: together over one app message.
  const [lead] = await seedLeads(h.sandbox, Array.from({ length: 20 }, (_, i) => ({ name: `长文客户${String(i).padStart(2, '0')}`, owner: 'changwen', tags: ['测试/long'] })));
  await createCampaign(h.ctx, { key: 'long1', name: '长文', segment: { tags: { all: ['测试/long'] } }, content: { text: '产品更新说明。'.repeat(75), link: { title: '更新详情', url: 'https://example.com/update' } }, schedule: { cron: '0 10 * * 1', timezone: 'Asia/Shanghai' } }, 'test');
  await launchCampaign(h.ctx, 'long1');
  await h.drain('campaign-run');
  const [note] = h.sandbox.state.appMessages.sentTo('changwen');
  expect(Buffer.byteLength(note!.content!)).toBeLessThanOrEqual(2048);
  expect(note!.content).toContain(lead!.name);
  expect(note!.content).toMatch(/…\n更新详情：http:\/\/127\.0\.0\.1:\d+\/r\/[\w-]+$/);
});
