import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CampaignInput } from '../../src/content/campaigns.js';
import { createCampaign } from '../../src/domain/campaigns/catalog.js';
import { launchCampaign } from '../../src/domain/campaigns/control.js';
import { campaignDetail } from '../../src/domain/campaigns/overview.js';
import { Alert } from '../../src/store/models/alert.js';
import { CampaignGroup } from '../../src/store/models/campaign-group.js';
import { CampaignRun } from '../../src/store/models/campaign-run.js';
import { Delivery } from '../../src/store/models/delivery.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { seedLeads } from '../helpers/seed-leads.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('campaigns', { env: { CAMPAIGN_QUIET_HOURS: 'none', CAMPAIGN_MASS_BATCH: '5', NURTURE_DAILY_CAP: '0', MASS_RESULT_POLL_SCHEDULE: '1h' } });
});
afterAll(async () => h?.stop());

const API = 'externalcontact/add_msg_template';
let seq = 0;
/** A campaign to the leads tagged `tag`, created through the domain as the admin API does. */
async function campaign(tag: string, extra: Partial<CampaignInput> = {}): Promise<string> {
  const key = `c${++seq}-${tag.replace(/\W/g, '')}`;
  await createCampaign(h.ctx, { key, name: `测试群发 ${key}`, segment: { tags: { all: [`测试/${tag}`] } }, content: { text: '您好，新案例请查收。', link: { title: '案例', url: 'https://example.com/c' } }, schedule: { cron: '0 10 * * 1', timezone: 'Asia/Shanghai' }, ...extra }, 'test');
  return key;
}
/** Launches a campaign and runs its job to the end. */
async function launch(key: string) {
  const { run } = await launchCampaign(h.ctx, key);
  await h.drain('campaign-run');
  return (await CampaignRun.findById(run._id).lean())!;
}
const massCalls = (since: number) => h.sandbox.state.okCallsTo(API).slice(since).map((c) => c.body as { sender: string; external_userid: string[]; text?: { content: string }; attachments?: Array<{ link: { url: string } }> });

describe('launch: grouping per owner', () => {
  it('one add_msg_template per owner and content, at most CAMPAIGN_MASS_BATCH customers each; 客服 windows sent one by one', async () => {
    const tag = 'group';
    const zs = await seedLeads(h.sandbox, Array.from({ length: 7 }, (_, i) => ({ name: `张客户${i}`, owner: 'zhangsan', tags: [`测试/${tag}`] })));
    const ls = await seedLeads(h.sandbox, Array.from({ length: 3 }, (_, i) => ({ name: `李客户${i}`, owner: 'lisi', tags: [`测试/${tag}`] })));
    const [kf] = await seedLeads(h.sandbox, [{ name: '客服客户', owner: 'lisi', tags: [`测试/${tag}`], kfAgoMs: 3_600_000 }]);
    const key = await campaign(tag);
    const before = h.sandbox.state.okCallsTo(API).length;
    const run = await launch(key);
    expect(run.status).toBe('finished');
    const calls = massCalls(before);
    expect(calls.map((c) => [c.sender, c.external_userid.length]).sort()).toEqual([['lisi', 3], ['zhangsan', 2], ['zhangsan', 5]]);
    expect(new Set(calls.flatMap((c) => c.external_userid))).toEqual(new Set([...zs, ...ls].map((l) => l.externalUserId)));
    // One link for the whole message, tracked for the group; every customer has a delivery of its own.
    expect(calls[0]!.attachments?.[0]?.link.url).toMatch(/\/r\//);
    const deliveries = await Delivery.find({ runId: run._id }).lean();
    expect(deliveries).toHaveLength(11);
    expect(deliveries.filter((d) => d.via === 'mass').every((d) => d.status === 'submitted' && d.group && d.msgid)).toBe(true);
    const kfSent = h.sandbox.state.kf.sent.filter((m) => m.touser === kf!.externalUserId);
    expect(kfSent).toHaveLength(1);
    expect(deliveries.find((d) => d.externalUserId === kf!.externalUserId)).toMatchObject({ via: 'kf', status: 'sent' });
    const detail = (await campaignDetail(key))!;
    expect(detail.runs[0]!.results).toMatchObject({ targeted: 11, byRoute: { kf: 1, mass: 10, owner: 0 }, sent: 1, waitingForOwner: 10 });
    expect(detail.runs[0]!.results.owners).toEqual([
      { owner: 'lisi', tasks: 1, customers: 3, reminders: 0 },
      { owner: 'zhangsan', tasks: 2, customers: 7, reminders: 0 },
    ]);
    expect(await CampaignGroup.countDocuments({ runId: run._id })).toBe(3);
    expect(await Alert.findById(`campaign|${run._id}`).lean()).toMatchObject({ kind: 'campaign_finished' });
  });
});
