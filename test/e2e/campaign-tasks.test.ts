import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaign } from '../../src/domain/campaigns/catalog.js';
import { launchCampaign } from '../../src/domain/campaigns/control.js';
import { dryRun } from '../../src/domain/campaigns/dry-run.js';
import { campaignDetail } from '../../src/domain/campaigns/overview.js';
import { CampaignRun } from '../../src/store/models/campaign-run.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { seedLeads } from '../helpers/seed-leads.js';

const API = 'externalcontact/add_msg_template';
const OWNERS = ['zhangsan', 'lisi', 'wangwu', 'zhaoliu', 'sunqi', 'zhouba', 'wujiu', 'zhengshi'];

/**
 * An owner confirms one mass-message task per content and run (docs/ops-guide.md, "Running: what owners see"),
 * however the segment mixes owners and however many leads wait for their task; only a group larger than
 * CAMPAIGN_MASS_BATCH is several tasks, and the dry run says how many each owner gets.
 */
describe('tasks per owner with many leads', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness('campaign_tasks', { env: { CAMPAIGN_QUIET_HOURS: 'none', CAMPAIGN_MASS_BATCH: '300', NURTURE_DAILY_CAP: '0', MASS_MESSAGE_CAP: '30/month' } });
  });
  afterAll(async () => h?.stop());

  it('2,000 leads of 8 owners: one task each, as the dry run says; an owner with 700 gets the 3 tasks the dry run says', async () => {
    // Owners mixed through the segment as _id order mixes them: 250 leads each, and 700 for a ninth owner.
    await seedLeads(h.sandbox, Array.from({ length: 2000 }, (_, i) => ({ name: `客户${i}`, owner: OWNERS[i % OWNERS.length]!, tags: ['测试/many'] })));
    await seedLeads(h.sandbox, Array.from({ length: 700 }, (_, i) => ({ name: `大客户${i}`, owner: 'qianer', tags: ['测试/many'] })));
    const c = await createCampaign(h.ctx, { key: 'many', name: '新品发布', segment: { tags: { all: ['测试/many'] } }, content: { text: '新品发布，欢迎了解。', link: { title: '新品', url: 'https://example.com/new' } }, schedule: { cron: '0 10 * * 1' } }, 'test');

    const dry = await dryRun(h.ctx, c);
    expect(dry).toMatchObject({ targeted: 2700, byRoute: { mass: 2700 } });
    const expected = [...OWNERS.map((owner) => ({ owner, tasks: 1, customers: 250, reminders: 0 })), { owner: 'qianer', tasks: 3, customers: 700, reminders: 0 }].sort((a, b) => a.owner.localeCompare(b.owner));
    expect(dry.owners).toEqual(expected);

    const before = h.sandbox.state.okCallsTo(API).length;
    const { run } = await launchCampaign(h.ctx, 'many');
    await h.drain('campaign-run', 120_000);
    expect((await CampaignRun.findById(run._id).lean())?.status).toBe('finished');
    const bySender: Record<string, number[]> = {};
    for (const call of h.sandbox.state.okCallsTo(API).slice(before)) {
      const body = call.body as { sender: string; external_userid: string[] };
      (bySender[body.sender] ??= []).push(body.external_userid.length);
    }
    expect(bySender).toEqual({ ...Object.fromEntries(OWNERS.map((o) => [o, [250]])), qianer: [300, 300, 100] });
    const results = (await campaignDetail('many'))!.runs[0]!.results;
    expect(results).toMatchObject({ targeted: 2700, waitingForOwner: 2700 });
    expect(results.owners).toEqual(dry.owners);
  }, 180_000);
});
