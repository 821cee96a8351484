import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaign } from '../../src/domain/campaigns/catalog.js';
import { launchCampaign } from '../../src/domain/campaigns/control.js';
import { campaignDetail } from '../../src/domain/campaigns/overview.js';
import { jobIds } from '../../src/queues/job-ids.js';
import { CampaignRun } from '../../src/store/models/campaign-run.js';
import { Delivery } from '../../src/store/models/delivery.js';
import { Enrollment } from '../../src/store/models/enrollment.js';
import { Fence } from '../../src/store/models/fence.js';
import { leadId } from '../../src/store/models/lead.js';
import type { AppMessageSent } from '../../src/sandbox/index.js';
import { TEST_CORP } from '../fixtures/test-corp.js';
import { wecomXml } from '../fixtures/wecom/index.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { seedLeads } from '../helpers/seed-leads.js';

/**
 * WeCom delivers at most 30 app messages a minute and 1,000 an hour per app and member and silently drops the rest
 * [D:90236]; the bot keeps a little under (25 and 900). Here the same with small limits, so a test takes seconds: the
 * sandbox WeCom drops what goes over 4 a second or 14 a minute, the bot keeps to 3 and 12.
 */
const WECOM_LIMITS = [
  { limit: 4, windowMs: 1000 },
  { limit: 14, windowMs: 60_000 },
];

/** How far the sandbox WeCom's clock is ahead of ours: moved on to let a minute pass there. */
let ahead = 0;
let h: Harness;
beforeAll(async () => {
  h = await startHarness('member-limit', {
    // The mass route off: every campaign lead and nurture step goes to its owner as an app message.
    env: { CAMPAIGN_QUIET_HOURS: 'none', MASS_MESSAGE_CAP: '0/month', WECOM_MEMBER_MESSAGE_LIMITS: '3/s,12/m' },
    sandbox: { memberMessageLimits: WECOM_LIMITS, now: () => Date.now() + ahead },
  });
});
afterAll(async () => h?.stop());

const sentTo = (member: string): AppMessageSent[] => h.sandbox.state.appMessages.sentTo(member);
const droppedFor = (member: string) => h.sandbox.state.appMessages.dropped.filter((d) => d.userids.includes(member));
/** The most message/send calls to `member` that reached WeCom within any span of `ms`. */
function mostWithin(member: string, ms: number): number {
  const at = h.sandbox.state.callsTo('message/send').filter((c) => String((c.body as { touser?: string }).touser).split('|').includes(member)).map((c) => c.at);
  return Math.max(0, ...at.map((t) => at.filter((x) => x >= t && x < t + ms).length));
}
/** A minute passes for `member`: on WeCom's clock, and in what the bot counted of the member's last minute. */
async function aMinutePasses(member: string): Promise<void> {
  ahead += 61_000;
  await h.ctx.redis.del(h.ctx.keys.recipientLog('message/send', member));
}

let seq = 0;
async function launch(owner: string, leads: number): Promise<{ runId: string; names: string[] }> {
  const tag = `测试/limit${++seq}`;
  const seeded = await seedLeads(h.sandbox, Array.from({ length: leads }, (_, i) => ({ name: `${owner}客户${i}号`, owner, tags: [tag] })));
  const key = `limit${seq}`;
  await createCampaign(h.ctx, { key, name: `限频 ${key}`, segment: { tags: { all: [tag] } }, content: { text: '新案例请查收。' }, schedule: { cron: '0 10 * * 1', timezone: 'Asia/Shanghai' } }, 'test');
  const { run } = await launchCampaign(h.ctx, key);
  await h.drain('campaign-run', 60_000);
  return { runId: run._id, names: seeded.map((l) => l.name) };
}
/** How often each customer's name appears in the reminders `member` got. */
function listed(member: string, names: string[]): number[] {
  const text = sentTo(member).map((m) => m.content ?? '').join('\n');
  return names.map((n) => text.split(`${n}`).length - 1);
}

describe('campaign reminders to one owner', () => {
  it('keep to the per-member limit: never more than it within any second, every reminder delivered, each customer once', async () => {
    // 200 customers of one owner: 10 reminders of 20. Sent back to back, WeCom would deliver 3 and drop 7.
    const { runId, names } = await launch('jiezou', 200);
    expect((await CampaignRun.findById(runId).lean())!.status).toBe('finished');
    expect(droppedFor('jiezou')).toEqual([]);
    expect(mostWithin('jiezou', 1000)).toBeLessThanOrEqual(3);
    expect(sentTo('jiezou')).toHaveLength(10);
    expect(listed('jiezou', names).every((n) => n === 1)).toBe(true);
    const deliveries = await Delivery.find({ runId }).lean();
    expect(deliveries.filter((d) => d.via === 'owner' && d.status === 'sent')).toHaveLength(200);
    expect((await campaignDetail(`limit${seq}`))!.runs[0]!.results).toMatchObject({ byRoute: { owner: 200 }, reminded: 200 });
  });

  it('past the limit for longer than a reminder waits (the minute\'s 12), the run waits for room and then sends the rest, once', async () => {
    // 300 customers: 15 reminders; 12 fit in the minute.
    const { runId, names } = await launch('manle', 300);
    const waiting = (await CampaignRun.findById(runId).lean())!;
    expect(waiting.status).toBe('waiting');
    expect(waiting.nextAt!.getTime()).toBeGreaterThan(Date.now() + 30_000);
    expect(waiting.nextAt!.getTime()).toBeLessThan(Date.now() + 61_000);
    expect(await (await h.ctx.queues.get('campaign-run').getJob(jobIds.campaignRun(runId)))!.getState()).toBe('delayed');
    // WeCom got the 12 that fit and dropped none; only their customers count as reminded.
    expect(sentTo('manle')).toHaveLength(12);
    expect(droppedFor('manle')).toEqual([]);
    expect(await Delivery.countDocuments({ runId, status: 'sent' })).toBe(240);
    expect(await Delivery.countDocuments({ runId, status: { $ne: 'sent' } })).toBe(0);
    // What was not sent was given back: only the reminded customers' attempts are held.
    const attempts = (await Fence.find({ kind: 'attempt' }, { for: 1 }).lean()).filter((f) => f.for.startsWith(`campaign|${runId}|`));
    expect(attempts).toHaveLength(240);

    // A minute later the run goes on: the other 3 reminders, nothing twice.
    await aMinutePasses('manle');
    await CampaignRun.updateOne({ _id: runId }, { $set: { nextAt: new Date() } });
    await (await h.ctx.queues.get('campaign-run').getJob(jobIds.campaignRun(runId)))!.promote();
    await h.drain('campaign-run', 60_000);
    expect((await CampaignRun.findById(runId).lean())!.status).toBe('finished');
    expect(sentTo('manle')).toHaveLength(15);
    expect(droppedFor('manle')).toEqual([]);
    expect(mostWithin('manle', 1000)).toBeLessThanOrEqual(3);
    expect(mostWithin('manle', 60_000)).toBeLessThanOrEqual(12);
    expect(listed('manle', names).every((n) => n === 1)).toBe(true);
    expect(await Delivery.countDocuments({ runId, via: 'owner', status: 'sent' })).toBe(300);
    expect((await campaignDetail(`limit${seq}`))!.runs[0]!.results).toMatchObject({ byRoute: { owner: 300 }, reminded: 300 });
  });
});

describe('other app messages to a member at the limit wait for room instead of being dropped', () => {
  beforeAll(async () => {
    // One message to both members counts for each: 12 fill both members' minute.
    await Promise.all(Array.from({ length: 12 }, (_, i) => h.ctx.wecom.sendAppText(['peiyu', 'tongzhi'], `占位 ${i}`)));
    expect(sentTo('peiyu')).toHaveLength(12);
    expect(sentTo('tongzhi')).toHaveLength(12);
  });

  it('a nurture step\'s reminder to the owner: the step waits (budget given back, attempt counted), then reminds once', async () => {
    const ext = `wm_limit_${Date.now()}`;
    h.sandbox.state.contacts.addCustomer({ externalUserId: ext, name: '培育客户', userId: 'peiyu', state: 'slowseq' });
    await h.handle(wecomXml('contact/add_external_contact', { ToUserName: TEST_CORP.corpId, UserID: 'peiyu', ExternalUserID: ext, State: 'slowseq', WelcomeCode: null, CreateTime: Math.floor(Date.now() / 1000) }));
    const e = (await Enrollment.findOne({ externalUserId: ext }))!;
    await h.ctx.queues.get('nurture').remove(jobIds.nurtureStep(e.id, 0));
    await Enrollment.updateOne({ _id: e._id }, { $set: { dueAt: new Date(Date.now() - 1000) } });

    const first = await h.runJob('nurture', { e: e.id, s: 0, l: leadId(TEST_CORP.corpId, ext) });
    expect(first.delayed).toBe(true);
    const held = (await Enrollment.findById(e.id).lean())!;
    expect(held).toMatchObject({ step: 0, attempts: 1 });
    expect(held.history.at(-1)).toMatchObject({ outcome: 'deferred', detail: { reason: 'member_limit' } });
    expect(held.dueAt!.getTime()).toBeGreaterThan(Date.now() + 30_000);
    expect(sentTo('peiyu').filter((m) => m.content?.includes(ext))).toEqual([]);
    expect(droppedFor('peiyu')).toEqual([]);
    // Nothing went out: the step holds its first attempt only (the next run is its second).
    expect((await Fence.find({ for: `nurture|${e.id}|0` }).lean()).map((f) => f._id)).toEqual([`nurture|${e.id}|0#1`]);

    await aMinutePasses('peiyu');
    await Enrollment.updateOne({ _id: e._id }, { $set: { dueAt: new Date(Date.now() - 1000) } });
    const second = await h.runJob('nurture', { e: e.id, s: 0, l: leadId(TEST_CORP.corpId, ext) });
    expect(second.result).toBe('reminded');
    expect(sentTo('peiyu').filter((m) => m.content?.includes(ext))).toHaveLength(1);
    await h.drain('records');
    expect(await Delivery.findOne({ externalUserId: ext, kind: 'nurture' }).lean()).toMatchObject({ via: 'owner', status: 'sent', attempts: 2 });
  });

  it('a staff notice: its job waits (not one of its attempts), then sends once', async () => {
    const notice = { key: `notice|limit|${Date.now()}`, userIds: ['tongzhi'], text: '【客户意向】限频测试。请尽快跟进。', type: 'kf_intent_notice' as const };
    const first = await h.runJob('staff-notice', notice, { jobId: notice.key });
    expect(first.delayed).toBe(true);
    const job = (await h.ctx.queues.get('staff-notice').getJob(notice.key))!;
    expect(job.data).toMatchObject({ refused: 1 });
    expect(job.attemptsMade).toBe(0);
    expect(sentTo('tongzhi').filter((m) => m.content === notice.text)).toEqual([]);

    await aMinutePasses('tongzhi');
    await job.promote();
    await h.drain('staff-notice');
    expect(await (await h.ctx.queues.get('staff-notice').getJob(notice.key))!.getState()).toBe('completed');
    expect((await h.ctx.queues.get('staff-notice').getJob(notice.key))!.returnvalue).toBe('sent');
    expect(sentTo('tongzhi').filter((m) => m.content === notice.text)).toHaveLength(1);
    expect(droppedFor('tongzhi')).toEqual([]);
  });
});
