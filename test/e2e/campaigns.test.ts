import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignSchema, type CampaignInput } from '../../src/content/campaigns.js';
import { campaignOf, createCampaign } from '../../src/domain/campaigns/catalog.js';
import { cancelCampaign, launchCampaign, pauseCampaign, resumeCampaign } from '../../src/domain/campaigns/control.js';
import { countFollowUp } from '../../src/domain/campaigns/follow-up.js';
import { recordGroupClick } from '../../src/domain/campaigns/group-click.js';
import { campaignDetail, campaignList } from '../../src/domain/campaigns/overview.js';
import { reconcileCampaigns } from '../../src/domain/campaigns/reconcile.js';
import { processRun } from '../../src/domain/campaigns/run.js';
import { nextRunAt, quietHoursOf, slotOf, startRun, syncSchedule } from '../../src/domain/campaigns/schedule.js';
import { exhaustMassQuota, takeKfBudget } from '../../src/domain/delivery/budget.js';
import { massQuotaPeriod } from '../../src/domain/delivery/mass-quota.js';
import { localDay, nextAllowedTime, startOfNextDay } from '../../src/domain/nurture/clock.js';
import { moveStage } from '../../src/domain/leads/stage.js';
import { pause, resume } from '../../src/domain/pause/pauses.js';
import { takeFence } from '../../src/store/delivery-ledger.js';
import { Alert } from '../../src/store/models/alert.js';
import { CampaignRecord } from '../../src/store/models/campaign.js';
import { CampaignDeferral } from '../../src/store/models/campaign-deferral.js';
import { CampaignGroup } from '../../src/store/models/campaign-group.js';
import { CampaignRun } from '../../src/store/models/campaign-run.js';
import { Delivery } from '../../src/store/models/delivery.js';
import { Fence } from '../../src/store/models/fence.js';
import { Lead } from '../../src/store/models/lead.js';
import { timelineOf } from '../../src/store/timeline.js';
import { jobIds } from '../../src/queues/job-ids.js';
import { startWorkers } from '../../src/app/workers.js';
import { campaignTickJob } from '../../jobs/campaign-tick.js';
import { TEST_CORP } from '../fixtures/test-corp.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { seedLeads } from '../helpers/seed-leads.js';
import { waitFor } from '../helpers/wait-for.js';
import { addTouch } from '../../src/store/touch-log.js';

const TZ = 'Asia/Shanghai';
const TEST_CORP_ID = TEST_CORP.corpId;
const hhmm = (ms: number) => new Intl.DateTimeFormat('en-GB', { timeZone: TZ, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(ms);

let h: Harness;
beforeAll(async () => {
  h = await startHarness('campaigns', {
    env: { CAMPAIGN_QUIET_HOURS: 'none', CAMPAIGN_MASS_BATCH: '5', NURTURE_DAILY_CAP: '1', NURTURE_TIMEZONE: TZ, MASS_MESSAGE_CAP: '1/day', MASS_RESULT_POLL_SCHEDULE: '1h,2h' },
    sandbox: { massQuota: '1/day' },
  });
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
    const alert = (await Alert.findById(`campaign|${run._id}`).lean())!;
    expect(alert).toMatchObject({ kind: 'campaign_finished' });
    // The run as staff tell runs apart (how it came, when), not by its id.
    expect(alert.text).toMatch(/^.+（立即发送 \d\d-\d\d \d\d:\d\d）：目标 11 人/);
    expect(alert.text).not.toContain(run._id);
  });
});

describe('launch: what else splits or reroutes a send', () => {
  it('{{name}} makes each lead a task of its own; caseStudy: auto groups by case, the next case when one was sent before', async () => {
    const named = await seedLeads(h.sandbox, [{ name: '甲' }, { name: '乙' }, { name: '丙' }].map((x) => ({ ...x, tags: ['测试/named'] })));
    const before = h.sandbox.state.okCallsTo(API).length;
    await launch(await campaign('named', { content: { text: '{{name}}您好，新案例请查收。' } }));
    const calls = massCalls(before);
    expect(calls).toHaveLength(3);
    expect(calls.map((c) => c.text?.content).sort()).toEqual(['丙您好，新案例请查收。', '乙您好，新案例请查收。', '甲您好，新案例请查收。']);
    expect(calls.every((c) => c.external_userid.length === 1)).toBe(true);
    expect(named).toHaveLength(3);

    const leads = await seedLeads(h.sandbox, [
      { name: '制造一', industry: '制造业' },
      { name: '制造二', industry: '制造业' },
      { name: '制造三', industry: '制造业' },
      { name: '零售一', industry: '零售' },
      { name: '其他一', industry: null },
    ].map((x) => ({ ...x, tags: ['测试/cases'] })));
    // 制造三 had mfg-a already (from a sequence): it gets the next best case.
    await takeFence({ id: `case|${leads[2]!.id}|mfg-a`, kind: 'case', for: 'nurture|earlier|1' });
    const mark = h.sandbox.state.okCallsTo(API).length;
    const run = await launch(await campaign('cases', { content: { caseStudy: 'auto', text: '同行案例：' } }));
    const byCase = Object.fromEntries((await Delivery.find({ runId: run._id }).lean()).map((d) => [d.externalUserId, d.caseSlug]));
    expect(byCase).toEqual({ [leads[0]!.externalUserId]: 'mfg-a', [leads[1]!.externalUserId]: 'mfg-a', [leads[2]!.externalUserId]: 'mfg-b', [leads[3]!.externalUserId]: 'retail-a', [leads[4]!.externalUserId]: 'general-a' });
    expect(massCalls(mark).map((c) => c.external_userid.length).sort()).toEqual([1, 1, 1, 2]);
    expect(await Fence.exists({ _id: `case|${leads[0]!.id}|mfg-a` })).toBeTruthy();
  });

  it('a lead whose mass-message quota is used up goes to its owner as one reminder listing the customers', async () => {
    const leads = await seedLeads(h.sandbox, [{ name: '配额甲', owner: 'wangwu' }, { name: '配额乙', owner: 'wangwu' }].map((x) => ({ ...x, tags: ['测试/quota'] })));
    const period = massQuotaPeriod(h.config.MASS_MESSAGE_CAP, Date.now());
    for (const l of leads) await exhaustMassQuota(l.id, period, 'mass|earlier');
    const before = h.sandbox.state.appMessages.sent.length;
    const run = await launch(await campaign('quota'));
    const reminders = h.sandbox.state.appMessages.sent.slice(before);
    expect(reminders).toHaveLength(1);
    expect(reminders[0]!.touser).toEqual(['wangwu']);
    expect(reminders[0]!.content).toContain('配额甲、配额乙');
    expect(reminders[0]!.content).toContain('新案例请查收');
    const deliveries = await Delivery.find({ runId: run._id }).lean();
    expect(deliveries.map((d) => [d.via, d.status])).toEqual([['owner', 'sent'], ['owner', 'sent']]);
    expect((await campaignDetail(run.campaignKey))!.runs[0]!.results).toMatchObject({ byRoute: { owner: 2 }, reminded: 2, owners: [{ owner: 'wangwu', tasks: 0, reminders: 1 }] });
  });

  it('a 客服 window WeCom says is used up (95001) sends the next way, and stays used up: the lead\'s next 客服 send is not tried', async () => {
    const [lead] = await seedLeads(h.sandbox, [{ name: '窗口已满', owner: 'lisi', tags: ['测试/kffull'], kfAgoMs: 3_600_000 }]);
    h.sandbox.state.inject({ api: 'kf/send_msg', errcode: 95001 });
    const before = h.sandbox.state.okCallsTo(API).length;
    const run = await launch(await campaign('kffull'));
    expect(massCalls(before).flatMap((c) => c.external_userid)).toEqual([lead!.externalUserId]);
    expect(await Delivery.findOne({ runId: run._id }).lean()).toMatchObject({ via: 'mass', status: 'submitted', attempts: 2 });
    // Every unit of the window is taken, the one the refused send held too: a 客服 reply (or step) finds none left.
    const windowStart = (await Lead.findById(lead!.id).lean())!.kf!.lastInboundAt!.getTime();
    const units = await Fence.find({ kind: 'kf', _id: { $in: Array.from({ length: 5 }, (_, n) => `kf|${lead!.id}|${windowStart}|${n}`) } }).lean();
    expect(units).toHaveLength(5);
    const next = await takeKfBudget(h.ctx.redis, h.ctx.keys, { lead: lead!.id, key: 'kf|test|after-95001', attempt: 1, day: { key: '-', cap: 0 }, mass: { key: '-', cap: 0 }, kfWindow: windowStart, caseSlug: null });
    expect(next.kind).toBe('kf_full');
  });
});

describe('a lead who leaves the audience while the run goes on', () => {
  /**
   * Launches `key` with the page's 客服 send held 1.5 s, does `meanwhile` once that send is under way (before the pass's
   * end sends the mass messages), and returns the finished run with the customers its mass messages went to.
   */
  async function launchWhileKfSends(key: string, meanwhile: () => Promise<unknown>) {
    h.sandbox.state.inject({ api: 'kf/send_msg', delayMs: 1500 });
    const before = h.sandbox.state.okCallsTo(API).length;
    const kfBefore = h.sandbox.state.callsTo('kf/send_msg').length;
    const running = launch(key);
    await waitFor(() => h.sandbox.state.callsTo('kf/send_msg').length > kfBefore, 'the 客服 send under way');
    await meanwhile();
    const run = await running;
    return { run, massed: massCalls(before).flatMap((c) => c.external_userid) };
  }

  it('opting out after its page was planned, before its mass message went, is not in it: counted as excluded', async () => {
    const [, out] = await seedLeads(h.sandbox, [{ name: '客服中', tags: ['测试/optout'], kfAgoMs: 3_600_000 }, { name: '退订中', tags: ['测试/optout'] }]);
    const key = await campaign('optout');
    const { run, massed } = await launchWhileKfSends(key, () => moveStage(h.ctx, { corpId: TEST_CORP_ID, externalUserId: out!.externalUserId }, 'unsubscribed', { by: 'system', source: 'unsubscribe' }));
    expect(run.status).toBe('finished');
    expect(massed).not.toContain(out!.externalUserId);
    expect(await Delivery.countDocuments({ runId: run._id, externalUserId: out!.externalUserId })).toBe(0);
    expect((await campaignDetail(key))!.runs[0]!.results).toMatchObject({ targeted: 1, sent: 1, waitingForOwner: 0, excluded: { unsubscribed: 1 } });
  });

  it('opting out after its page was planned is not in it either when Redis lost the notes of who left (flushed): every planned lead is read again', async () => {
    const [, out] = await seedLeads(h.sandbox, [{ name: '客服中', tags: ['测试/optflush'], kfAgoMs: 3_600_000 }, { name: '退订后清空', tags: ['测试/optflush'] }]);
    const key = await campaign('optflush');
    const { run, massed } = await launchWhileKfSends(key, async () => {
      await moveStage(h.ctx, { corpId: TEST_CORP_ID, externalUserId: out!.externalUserId }, 'unsubscribed', { by: 'system', source: 'unsubscribe' });
      // What a flush does to the notes (the rest of Redis, the run's own job, is left alone here).
      await h.ctx.redis.del(h.ctx.keys.audienceLeavers(), h.ctx.keys.audienceLeaversSince());
    });
    expect(run.status).toBe('finished');
    expect(massed).not.toContain(out!.externalUserId);
    expect(await Delivery.countDocuments({ runId: run._id, externalUserId: out!.externalUserId })).toBe(0);
    expect((await campaignDetail(key))!.runs[0]!.results).toMatchObject({ targeted: 1, excluded: { unsubscribed: 1 } });
  });

  it('paused after its page was planned, before its mass message went, is not in it: counted as excluded', async () => {
    const [, held] = await seedLeads(h.sandbox, [{ name: '客服中', tags: ['测试/hold'], kfAgoMs: 3_600_000 }, { name: '暂停中', tags: ['测试/hold'] }]);
    const key = await campaign('hold');
    const id = `${TEST_CORP_ID}:${held!.externalUserId}`;
    try {
      const { run, massed } = await launchWhileKfSends(key, () => pause(h.ctx, { kind: 'lead', target: id }, { actor: 'lisi', reason: '客户出差' }));
      expect(massed).not.toContain(held!.externalUserId);
      expect((await campaignDetail(key))!.runs[0]!.results).toMatchObject({ targeted: 1, excluded: { paused: 1 } });
      expect(run.status).toBe('finished');
    } finally {
      await resume(h.ctx, { kind: 'lead', target: id }, { actor: 'lisi' });
    }
  });
});

describe('results', () => {
  it('confirmed, not a friend, over the cap, waiting and unconfirmed, from one poll per (msgid, owner); then the 7-day follow-up', async () => {
    const [a, b, c, d] = await seedLeads(h.sandbox, ['确认甲', '删好友乙', '超额丙', '确认丁'].map((name, i) => ({ name, owner: 'zhangsan', lastWith: i === 0 ? null : 'zhangsan', tags: ['测试/results'] })));
    const [e] = await seedLeads(h.sandbox, [{ name: '未确认戊', owner: 'lisi', tags: ['测试/results'] }]);
    // 丙 got a mass message from someone else today: WeCom will skip it (status 3, quota 1/day).
    const other = h.sandbox.state.mass.apiAddMsgTemplate({ chat_type: 'single', external_userid: [c!.externalUserId], sender: 'zhangsan', text: { content: '别的群发' } }) as { msgid: string };
    h.sandbox.state.mass.confirm(other.msgid, 'zhangsan');
    const run = await launch(await campaign('results'));
    const groups = await CampaignGroup.find({ runId: run._id }).lean();
    expect(groups).toHaveLength(2);
    h.sandbox.state.contacts.removeRelationship('zhangsan', b!.externalUserId);
    const zs = groups.find((g) => g.sender === 'zhangsan')!;
    const ls = groups.find((g) => g.sender === 'lisi')!;
    h.sandbox.state.mass.confirm(zs.msgid!, 'zhangsan');
    const poll = (g: typeof zs, attempt: number) => h.runJob('mass-result', { deliveryKey: g._id, attempt, msgid: g.msgid!, userId: g.sender, corpId: TEST_CORP_ID, externalUserId: '*', submittedAt: g.createdAt.getTime(), group: { deliveryKeyPrefix: g.deliveryKeyPrefix } });
    expect((await poll(zs, 0)).result).toBe('settled');
    expect((await poll(ls, 0)).result).toBe('unsent_yet');
    let r = (await campaignDetail(run.campaignKey))!.runs[0]!.results;
    expect(r).toMatchObject({ targeted: 5, confirmed: 2, notAFriend: 1, overCap: 1, waitingForOwner: 1, unconfirmed: 0 });
    const status = async (x: { externalUserId: string }) => (await Delivery.findOne({ runId: run._id, externalUserId: x.externalUserId }).lean())?.status;
    expect([await status(a!), await status(b!), await status(c!), await status(d!), await status(e!)]).toEqual(['sent', 'failed', 'capped', 'sent', 'submitted']);
    expect((await timelineOf(TEST_CORP_ID, a!.externalUserId)).map((x) => x.type)).toEqual(expect.arrayContaining(['campaign_submitted', 'mass_sent']));
    // 甲's last interaction was unknown: the member who just messaged it now gets its mass-message tasks.
    expect((await Lead.findById(a!.id).lean())?.lastInteraction?.userId).toBe('zhangsan');
    // 丙's quota is known to be used up for the day: no later send tries the mass route for it today.
    expect(await Fence.exists({ _id: `mass|${c!.id}|${massQuotaPeriod(h.config.MASS_MESSAGE_CAP, Date.now()).key}|0` })).toBeTruthy();
    expect((await poll(ls, 1)).result).toBe('settled');
    r = (await campaignDetail(run.campaignKey))!.runs[0]!.results;
    expect(r).toMatchObject({ waitingForOwner: 0, unconfirmed: 1 });

    // The 7 days after: 丁 replies and is qualified by staff; someone opens the group message's link.
    await recordGroupClick(zs._id);
    await h.ctx.leads.mutate({ corpId: TEST_CORP_ID, externalUserId: d!.externalUserId }, null, (doc) => {
      addTouch(doc, { eventKey: 'reply|test', kind: 'reply', channelKey: 'expo2026', at: new Date(Date.now() + 1000) });
    });
    await moveStage(h.ctx, { corpId: TEST_CORP_ID, externalUserId: d!.externalUserId }, 'qualified', { by: 'staff', source: 'api', actor: 'lisi', reason: '要报价', at: new Date(Date.now() + 1000) });
    const f = await countFollowUp(run._id, true, { now: Date.now() + 8 * 86_400_000 });
    expect(f).toMatchObject({ final: true, reached: 2, replied: 1, clicked: 0, linkClicks: 1, stageMoves: { engaged: 1, qualified: 1, customer: 0, unsubscribed: 0 } });
    expect((await campaignDetail(run.campaignKey))!.runs[0]!.followUp).toMatchObject({ reached: 2, replied: 1 });
  });
});

describe('the final follow-up of a run whose owners confirm late', () => {
  const DAY = 86_400_000;
  const poll = (g: { _id: string; msgid?: string | null; sender: string; createdAt: Date; deliveryKeyPrefix: string }, attempt: number) =>
    h.runJob('mass-result', { deliveryKey: g._id, attempt, msgid: g.msgid!, userId: g.sender, corpId: TEST_CORP_ID, externalUserId: '*', submittedAt: g.createdAt.getTime(), group: { deliveryKeyPrefix: g.deliveryKeyPrefix } });

  it('waits for the 7 days of a lead reached after the run ended (a reply on its 7th day counts), as a delayed job that the reconciler restores', async () => {
    const [late] = await seedLeads(h.sandbox, [{ name: '晚确认', owner: 'zhangsan', tags: ['测试/late'] }]);
    const run = await launch(await campaign('late'));
    // The run ended 90 minutes ago; its owner confirms the message now, before its last poll (MASS_RESULT_POLL_SCHEDULE
    // 1h,2h here; 72 h by default): its 7 days end 90 minutes after the run's.
    const finishedAt = Date.now() - 90 * 60_000;
    await CampaignRun.updateOne({ _id: run._id }, { $set: { finishedAt: new Date(finishedAt) } });
    await Delivery.updateOne({ runId: run._id }, { $set: { createdAt: new Date(finishedAt - 1000) } });
    const [g] = await CampaignGroup.find({ runId: run._id }).lean();
    h.sandbox.state.mass.confirm(g!.msgid!, 'zhangsan');
    expect((await poll({ ...g!, _id: String(g!._id) }, 0)).result).toBe('settled');
    const sentAt = (await Delivery.findOne({ runId: run._id }).lean())!.sentAt!.getTime();
    // The customer answers an hour before their 7 days are over: after the run's own 7 days.
    await h.ctx.leads.mutate({ corpId: TEST_CORP_ID, externalUserId: late!.externalUserId }, null, (doc) => {
      addTouch(doc, { eventKey: 'reply|late', kind: 'reply', channelKey: 'expo2026', at: new Date(sentAt + 7 * DAY - 3_600_000) });
    });
    const resultsForMs = h.config.MASS_RESULT_POLL_SCHEDULE.at(-1)!;
    // Counted when the run's 7 days are over: not final yet; the final count is due when the lead's 7 days are.
    const early = (await countFollowUp(run._id, true, { now: finishedAt + 7 * DAY, resultsForMs }))!;
    expect(early).toMatchObject({ final: false, reached: 1 });
    expect(early.finalAt!.getTime()).toBe(sentAt + 7 * DAY);
    expect((await campaignDetail(run.campaignKey))!.runs[0]!.followUp).toMatchObject({ final: false });
    const done = (await countFollowUp(run._id, true, { now: sentAt + 7 * DAY, resultsForMs }))!;
    expect(done).toMatchObject({ final: true, finalAt: null, reached: 1, replied: 1 });

    // The job asked for the final count now waits for the lead's 7 days, as a delayed job.
    await CampaignRun.updateOne({ _id: run._id }, { $set: { followUp: null } });
    const jobId = jobIds.campaignFollowUp(run._id, 1);
    // The job the run's end added (due 7 days after it) is run now.
    await h.ctx.queues.get('campaign-follow-up').remove(jobId);
    const out = await h.runJob('campaign-follow-up', { runId: run._id, final: true }, { jobId });
    expect(out.delayed).toBe(true);
    const job = (await h.ctx.queues.get('campaign-follow-up').getJob(jobId))!;
    expect(await job.getState()).toBe('delayed');
    expect(Math.abs(job.timestamp + job.delay - (sentAt + 7 * DAY))).toBeLessThan(1000);
    // Redis lost it: the reconciler adds it again, due when the lead's 7 days are over (not at the run's).
    await job.remove();
    expect((await reconcileCampaigns(h.ctx)).followUps).toBeGreaterThanOrEqual(1);
    const again = (await h.ctx.queues.get('campaign-follow-up').getJob(jobId))!;
    expect(await again.getState()).toBe('delayed');
    expect(Math.abs(again.timestamp + again.delay - (sentAt + 7 * DAY))).toBeLessThan(1000);
    await again.remove();
  });

  it('waits for a message still waiting for its owner until its result is no longer asked for; a run whose results never come is final 7 days after that', async () => {
    await seedLeads(h.sandbox, [{ name: '未确认', owner: 'lisi', tags: ['测试/waiting'] }]);
    const run = await launch(await campaign('waiting'));
    const created = (await Delivery.findOne({ runId: run._id }).lean())!.createdAt.getTime();
    const finishedAt = (await CampaignRun.findById(run._id).lean())!.finishedAt!.getTime();
    const resultsForMs = h.config.MASS_RESULT_POLL_SCHEDULE.at(-1)!;
    const waiting = (await countFollowUp(run._id, true, { now: created + resultsForMs / 2, resultsForMs }))!;
    expect(waiting).toMatchObject({ final: false, reached: 0 });
    expect(waiting.finalAt!.getTime()).toBe(created + resultsForMs + 60_000);
    // Its result never came (no poll ran): final once 7 days past the last result are over, whatever still waits.
    expect((await countFollowUp(run._id, true, { now: created + resultsForMs + 61_000, resultsForMs }))!.final).toBe(true);
    expect((await countFollowUp(run._id, true, { now: finishedAt + resultsForMs + 7 * DAY, resultsForMs }))!.final).toBe(true);
  });
});

describe('deferral', () => {
  it('quiet hours hold the whole run until they end; nothing is sent meanwhile', async () => {
    await seedLeads(h.sandbox, [{ name: '夜间', tags: ['测试/quiet'] }]);
    const quiet = { start: hhmm(Date.now() - 3_600_000), end: hhmm(Date.now() + 2 * 3_600_000), timezone: TZ };
    const key = await campaign('quiet', { quietHours: quiet });
    const before = h.sandbox.state.okCallsTo(API).length;
    const run = await launch(key);
    expect(run.status).toBe('waiting');
    expect(hhmm(run.nextAt!.getTime())).toBe(quiet.end);
    expect(run.nextAt!.getTime()).toBe(nextAllowedTime(Date.now(), quiet));
    expect(massCalls(before)).toHaveLength(0);
    const job = await h.ctx.queues.get('campaign-run').getJob(jobIds.campaignRun(run._id));
    expect(await job?.getState()).toBe('delayed');
    expect(job!.timestamp + job!.delay).toBeGreaterThanOrEqual(run.nextAt!.getTime() - 1000);
  });

  it('quiet hours without a time zone are read in the campaign\'s own: its cron\'s, else OPS_TIMEZONE', async () => {
    const NY = 'America/New_York';
    const at = (tz: string, ms: number) => new Intl.DateTimeFormat('en-GB', { timeZone: tz, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(ms);
    const now = Date.now();
    const schedule = { cron: '0 10 * * 1', timezone: NY };
    // The reported case: Monday 10:00 in New York with quiet hours 21:00-08:00 is not quiet.
    const weekly = campaignSchema.parse({ key: 'ny', name: 'ny', content: { text: '您好' }, schedule, quietHours: { start: '21:00', end: '08:00' } });
    const monday = nextRunAt(weekly, h.config.OPS_TIMEZONE, now)!.getTime();
    expect(quietHoursOf(h.ctx, weekly)).toEqual({ start: '21:00', end: '08:00', timezone: NY });
    expect(nextAllowedTime(monday, quietHoursOf(h.ctx, weekly))).toBe(monday);
    // A zone of its own still wins; a cron without one is in OPS_TIMEZONE; none at all: CAMPAIGN_QUIET_HOURS.
    expect(quietHoursOf(h.ctx, { ...weekly, quietHours: { start: '21:00', end: '08:00', timezone: TZ } })?.timezone).toBe(TZ);
    const berlin = { config: { ...h.config, OPS_TIMEZONE: 'Europe/Berlin' } };
    expect(quietHoursOf(berlin, { ...weekly, schedule: { cron: '0 10 * * 1' } })?.timezone).toBe('Europe/Berlin');

    // Through runs: quiet now in Shanghai but not in New York goes out; quiet now in New York waits for their end there.
    const [sent] = await seedLeads(h.sandbox, [{ name: '纽约白天', tags: ['测试/nyday'] }]);
    const before = h.sandbox.state.okCallsTo(API).length;
    const day = await launch(await campaign('nyday', { schedule, quietHours: { start: at(TZ, now - 3_600_000), end: at(TZ, now + 3_600_000) } }));
    expect(day.status).toBe('finished');
    expect(massCalls(before).map((c) => c.external_userid)).toEqual([[sent!.externalUserId]]);
    await seedLeads(h.sandbox, [{ name: '纽约夜间', tags: ['测试/nynight'] }]);
    const quiet = { start: at(NY, now - 3_600_000), end: at(NY, now + 2 * 3_600_000) };
    const night = await launch(await campaign('nynight', { schedule, quietHours: quiet }));
    expect(night.status).toBe('waiting');
    expect(at(NY, night.nextAt!.getTime())).toBe(quiet.end);
  });

  it('a lead over its daily cap waits for the next day\'s pass (not dropped); past the window it counts as over the cap', async () => {
    const [x, y] = await seedLeads(h.sandbox, [{ name: '今天已发' }, { name: '今天未发' }].map((l) => ({ ...l, tags: ['测试/cap'] })));
    const today = localDay(Date.now(), TZ);
    await takeFence({ id: `day|${x!.id}|${today}|0`, kind: 'day', for: 'nurture|earlier|0' });
    const run = await launch(await campaign('cap'));
    expect(run).toMatchObject({ status: 'waiting', pass: 1 });
    expect(run.nextAt!.getTime()).toBe(startOfNextDay(Date.now(), TZ));
    expect(await CampaignDeferral.find({ runId: run._id }).lean()).toMatchObject([{ pass: 1, leadId: x!.id, reason: 'daily_cap' }]);
    expect((await Delivery.find({ runId: run._id }).lean()).map((d) => d.externalUserId)).toEqual([y!.externalUserId]);
    expect((await campaignDetail(run.campaignKey))!.runs[0]!.results).toMatchObject({ targeted: 2, deferred: 1, waitingForOwner: 1 });
    // The next day: the cap is free again and the run's second pass sends it.
    await Fence.deleteOne({ _id: `day|${x!.id}|${today}|0` });
    await CampaignRun.updateOne({ _id: run._id }, { $set: { nextAt: new Date() } });
    await (await h.ctx.queues.get('campaign-run').getJob(jobIds.campaignRun(run._id)))!.promote();
    await h.drain('campaign-run');
    expect(await CampaignRun.findById(run._id).lean()).toMatchObject({ status: 'finished', pass: 1 });
    expect((await Delivery.find({ runId: run._id }).lean()).map((d) => d.externalUserId).sort()).toEqual([x!.externalUserId, y!.externalUserId].sort());
    expect((await campaignDetail(run.campaignKey))!.runs[0]!.results).toMatchObject({ targeted: 2, deferred: 0, waitingForOwner: 2 });

    const [z] = await seedLeads(h.sandbox, [{ name: '窗口太短', tags: ['测试/window'] }]);
    await takeFence({ id: `day|${z!.id}|${today}|0`, kind: 'day', for: 'nurture|earlier|0' });
    const short = await launch(await campaign('window', { window: '1m' }));
    expect(short).toMatchObject({ status: 'finished', pass: 1 });
    expect(await Delivery.findOne({ runId: short._id }).lean()).toMatchObject({ status: 'skipped', reason: 'cap_reached' });
    expect((await campaignDetail(short.campaignKey))!.runs[0]!.results).toMatchObject({ overCap: 1, deferred: 0 });
  });
});

describe('pause, resume, cancel', () => {
  /** Six leads of one owner, each its own task ({{name}}), and every add_msg_template answered slowly. */
  async function slowScene(tag: string) {
    const leads = await seedLeads(h.sandbox, Array.from({ length: 6 }, (_, i) => ({ name: `${tag}${i}`, tags: [`测试/${tag}`] })));
    const key = await campaign(tag, { content: { text: '{{name}}您好' } });
    h.sandbox.state.inject({ api: API, delayMs: 250, times: 6 });
    return { leads, key };
  }
  const targetsOf = (ids: string[]) => ids.map((id) => h.sandbox.state.okCallsTo(API).filter((c) => (c.body as { external_userid: string[] }).external_userid.includes(id)).length);

  it('pause stops the remaining sends at once; resume sends the rest, nothing twice', async () => {
    const { leads, key } = await slowScene('pause');
    const { run } = await launchCampaign(h.ctx, key);
    const draining = h.drain('campaign-run');
    await waitFor(async () => (await Delivery.countDocuments({ runId: run._id })) >= 2, 'two sent');
    await pauseCampaign(h.ctx, key, 'lisi');
    await draining;
    const paused = (await CampaignRun.findById(run._id).lean())!;
    expect(paused.status).toBe('paused');
    const sent = await Delivery.countDocuments({ runId: run._id });
    expect(sent).toBeGreaterThanOrEqual(2);
    expect(sent).toBeLessThan(6);
    // Nothing fenced was left behind without a send.
    expect(await Fence.countDocuments({ _id: { $regex: `^campaign\\|${run._id.replace('|', '\\|')}\\|.*#` } })).toBe(sent);
    expect((await resumeCampaign(h.ctx, key, 'lisi')).runs).toBe(1);
    await h.drain('campaign-run');
    expect((await CampaignRun.findById(run._id).lean())!.status).toBe('finished');
    expect(targetsOf(leads.map((l) => l.externalUserId))).toEqual([1, 1, 1, 1, 1, 1]);
    expect(await Delivery.countDocuments({ runId: run._id })).toBe(6);
  });

  it('a run left paused when the resume came as it was pausing goes on: the reconciler adds its job again', async () => {
    // The state such a race leaves: the run recorded paused, its job gone, its campaign no longer paused (the
    // resume found the job still running, so it had nothing to wake). A run of a campaign still paused stays.
    const leads = await seedLeads(h.sandbox, Array.from({ length: 3 }, (_, i) => ({ name: `恢复${i}`, tags: ['测试/lateresume'] })));
    const [still] = await seedLeads(h.sandbox, [{ name: '仍暂停', tags: ['测试/stillpaused'] }]);
    const resumed = await campaign('lateresume');
    const held = await campaign('stillpaused');
    const runs: Record<string, string> = {};
    for (const key of [resumed, held]) {
      runs[key] = (await launchCampaign(h.ctx, key)).run._id;
      await pauseCampaign(h.ctx, key, 'lisi');
    }
    await h.drain('campaign-run');
    for (const key of [resumed, held]) expect((await CampaignRun.findById(runs[key]).lean())?.status).toBe('paused');
    await resume(h.ctx, { kind: 'campaign', target: resumed }, { actor: 'lisi' });
    const queue = h.ctx.queues.get('campaign-run');
    expect(await queue.getJob(jobIds.campaignRun(runs[resumed]!))).toBeUndefined();

    await reconcileCampaigns(h.ctx);
    expect(await queue.getJob(jobIds.campaignRun(runs[resumed]!))).toBeTruthy();
    expect(await queue.getJob(jobIds.campaignRun(runs[held]!))).toBeUndefined();
    await h.drain('campaign-run');
    expect((await CampaignRun.findById(runs[resumed]).lean())?.status).toBe('finished');
    expect(targetsOf(leads.map((l) => l.externalUserId))).toEqual([1, 1, 1]);
    expect((await CampaignRun.findById(runs[held]).lean())?.status).toBe('paused');
    expect(targetsOf([still!.externalUserId])).toEqual([0]);
  });

  it('cancel ends the run where it is, removes the schedule, and refuses a launch', async () => {
    const { leads, key } = await slowScene('cancel');
    await syncSchedule(h.ctx, key);
    expect(await h.ctx.queues.get('campaign-tick').getJobScheduler(`campaign|${key}`)).toMatchObject({ pattern: '0 10 * * 1', tz: 'Asia/Shanghai' });
    const { run } = await launchCampaign(h.ctx, key);
    const draining = h.drain('campaign-run');
    await waitFor(async () => (await Delivery.countDocuments({ runId: run._id })) >= 1, 'one sent');
    await cancelCampaign(h.ctx, key, 'lisi');
    await draining;
    const ended = (await CampaignRun.findById(run._id).lean())!;
    expect(ended.status).toBe('cancelled');
    const sent = await Delivery.countDocuments({ runId: run._id });
    expect(sent).toBeLessThan(6);
    await new Promise((r) => setTimeout(r, 500));
    expect(await Delivery.countDocuments({ runId: run._id })).toBe(sent);
    expect(targetsOf(leads.map((l) => l.externalUserId)).reduce((a, b) => a + b, 0)).toBe(sent);
    expect(await h.ctx.queues.get('campaign-tick').getJobScheduler(`campaign|${key}`)).toBeFalsy();
    await expect(launchCampaign(h.ctx, key)).rejects.toMatchObject({ code: 'state' });
    await expect(resumeCampaign(h.ctx, key, 'lisi')).rejects.toMatchObject({ code: 'state' });
    expect(await Alert.findById(`campaign|${run._id}`).lean()).toMatchObject({ title: expect.stringContaining('已取消') });
    // The tasks the owner had not confirmed were withdrawn: confirming one now sends nothing, and the next poll settles
    // its customers as withdrawn.
    const groups = await CampaignGroup.find({ runId: run._id, via: 'mass' }).lean();
    expect(groups).toHaveLength(sent);
    expect(groups.every((g) => g.withdrawnAt)).toBe(true);
    for (const g of groups) expect(h.sandbox.state.mass.confirm(g.msgid!, 'zhangsan')).toEqual([]);
    for (const j of await h.ctx.queues.get('mass-result').getJobs(['delayed'])) await j.promote();
    await h.drain('mass-result');
    expect(await Delivery.countDocuments({ runId: run._id, status: 'skipped', reason: 'campaign_cancelled' })).toBe(sent);
    expect((await campaignDetail(key))!.runs[0]!.results).toMatchObject({ withdrawn: sent, waitingForOwner: 0, confirmed: 0 });
  });
});

describe('schedules', () => {
  it('a cron campaign\'s job scheduler fires a run per slot, each once, with the slot as its id; a slot hours late is missed', async () => {
    await seedLeads(h.sandbox, [{ name: '定时', tags: ['测试/cron'] }]);
    const key = await campaign('cron', { schedule: { cron: '*/2 * * * * *', timezone: TZ } });
    await syncSchedule(h.ctx, key);
    await syncSchedule(h.ctx, key); // a second worker registering it changes nothing
    const [worker] = startWorkers(h.ctx, [campaignTickJob]);
    try {
      await waitFor(async () => (await CampaignRun.countDocuments({ campaignKey: key })) >= 2, 'two slots run', 15_000);
    } finally {
      await cancelCampaign(h.ctx, key, 'test');
      await worker!.close();
    }
    const runs = await CampaignRun.find({ campaignKey: key }).sort({ scheduledFor: 1 }).lean();
    for (const r of runs) {
      expect(r._id).toBe(`${key}|${new Date(r.scheduledFor).toISOString().replace(/[-:]/g, '').replace('.000', '')}`);
      expect(r.scheduledFor.getTime() % 2000).toBe(0);
      expect(r.trigger).toBe('schedule');
    }
    expect(new Set(runs.map((r) => r.scheduledFor.getTime())).size).toBe(runs.length);
    const late = await startRun(h.ctx, (await campaign('late')), { trigger: 'schedule', at: Date.now() - 7 * 3_600_000 });
    expect(late?.run).toMatchObject({ status: 'missed' });
  });

  it('a cron slot that came due while no worker ran is run after a restart, not dropped by the schedule being registered again', async () => {
    const key = await campaign('restart', { schedule: { cron: '*/5 * * * * *', timezone: TZ } });
    await syncSchedule(h.ctx, key);
    const due = (await h.ctx.queues.get('campaign-tick').getJobScheduler(`campaign|${key}`))!.next!;
    // No worker at the slot's time (the bot was down)...
    await new Promise((r) => setTimeout(r, due - Date.now() + 300));
    // ...then the bot starts: its schedules are registered again, and its workers take what is due.
    await syncSchedule(h.ctx, key);
    const [worker] = startWorkers(h.ctx, [campaignTickJob]);
    try {
      await waitFor(() => CampaignRun.exists({ _id: `${key}|${slotOf(due)}` }), `the run of the slot due at ${new Date(due).toISOString()}`, 3_000);
    } finally {
      await cancelCampaign(h.ctx, key, 'test');
      await worker!.close();
    }
  });

  it('a cron without a time zone of its own fires in OPS_TIMEZONE, the zone its segment\'s days are read in', async () => {
    const key = await campaign('opstz', { schedule: { cron: '0 10 * * 1' } });
    const berlin = { ...h.ctx, config: { ...h.ctx.config, OPS_TIMEZONE: 'Europe/Berlin' } };
    await syncSchedule(berlin, key);
    try {
      expect(await h.ctx.queues.get('campaign-tick').getJobScheduler(`campaign|${key}`)).toMatchObject({ pattern: '0 10 * * 1', tz: 'Europe/Berlin' });
      const next = (await campaignList('Europe/Berlin')).find((c) => c.key === key)!.nextRunAt!;
      expect(new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', weekday: 'short', hour: '2-digit', minute: '2-digit' }).format(next)).toBe('Mon 10:00');
    } finally {
      await cancelCampaign(h.ctx, key, 'test');
    }
  });

  /** A weekly cron at the wall time `ms` has in `tz` (a zone without daylight saving). */
  const weeklyAt = (ms: number, hoursAhead: number) => {
    const d = new Date(ms + hoursAhead * 3_600_000);
    return `${d.getUTCMinutes()} ${d.getUTCHours()} * * ${d.getUTCDay()}`;
  };
  const editSchedule = (key: string, schedule: { cron: string; timezone: string }) => CampaignRecord.updateOne({ _id: key }, { $set: { 'definition.schedule': schedule } });

  it('a schedule edited after its slot ran does not run that occurrence again (its time zone moved eight hours later); the next week\'s slot runs', async () => {
    const ran = Math.floor((Date.now() - 30 * 60_000) / 60_000) * 60_000;
    const cron = weeklyAt(ran, 8); // Shanghai's wall time of 30 minutes ago
    const key = await campaign('tzedit', { schedule: { cron, timezone: 'Asia/Shanghai' } });
    try {
      expect((await startRun(h.ctx, key, { trigger: 'schedule', at: ran }))?.run).toMatchObject({ status: 'running' });
      // Ops move it to UTC: the same wall time comes eight hours later, the same Monday (or whichever day).
      await editSchedule(key, { cron, timezone: 'UTC' });
      const moved = ran + 8 * 3_600_000;
      expect(nextRunAt((await campaignOf(key))!.campaign, 'UTC', Date.now())?.getTime()).toBe(moved);
      const again = await startRun(h.ctx, key, { trigger: 'schedule', at: moved });
      expect(again?.run).toMatchObject({ _id: `${key}|${slotOf(moved)}`, status: 'skipped', reason: `served by ${key}|${slotOf(ran)}: the schedule changed since` });
      expect(await h.ctx.queues.get('campaign-run').getJob(jobIds.campaignRun(again!.run._id))).toBeFalsy();
      // A week on, the slot runs as usual.
      const nextWeek = moved + 7 * 86_400_000;
      expect((await startRun(h.ctx, key, { trigger: 'schedule', at: nextWeek }))?.run).toMatchObject({ status: 'running' });
    } finally {
      await cancelCampaign(h.ctx, key, 'test');
    }
  });

  it('a daily schedule made weekly runs its weekly slot: the daily run of the day before was its own occurrence, not this one', async () => {
    const slot = Math.floor((Date.now() - 30 * 60_000) / 60_000) * 60_000;
    const at = new Date(slot);
    const key = await campaign('dailyweekly', { schedule: { cron: `${at.getUTCMinutes()} ${at.getUTCHours()} * * *`, timezone: 'UTC' } });
    try {
      // Yesterday's daily run (it went out; made here after the fact, so its status is set as it ended).
      const yesterday = slot - 86_400_000;
      const ran = await startRun(h.ctx, key, { trigger: 'schedule', at: yesterday });
      await CampaignRun.updateOne({ _id: ran!.run._id }, { $set: { status: 'finished', reason: null } });
      // Ops make it weekly, on today's weekday at the same time: today's slot is one of the old schedule's too.
      await editSchedule(key, { cron: weeklyAt(slot, 0), timezone: 'UTC' });
      expect((await startRun(h.ctx, key, { trigger: 'schedule', at: slot }))?.run).toMatchObject({ _id: `${key}|${slotOf(slot)}`, status: 'running' });
    } finally {
      await cancelCampaign(h.ctx, key, 'test');
    }
  });

  it("the old schedule's slot run late, after the edit, still serves its occurrence's new slot", async () => {
    const slot = Math.floor((Date.now() - 30 * 60_000) / 60_000) * 60_000;
    // Edited from UTC+5 to UTC: the old slot was five hours before the new one. The bot was down then, so the old
    // scheduler's due slot is ticked at start-up (syncSchedule), after the edit: its run holds the new definition.
    const key = await campaign('lateold', { schedule: { cron: weeklyAt(slot, 0), timezone: 'UTC' } });
    const old = slot - 5 * 3_600_000;
    try {
      expect((await startRun(h.ctx, key, { trigger: 'schedule', at: old }))?.run).toMatchObject({ status: 'running' });
      expect((await startRun(h.ctx, key, { trigger: 'schedule', at: slot }))?.run).toMatchObject({ status: 'skipped', reason: `served by ${key}|${slotOf(old)}: the schedule changed since` });
    } finally {
      await cancelCampaign(h.ctx, key, 'test');
    }
  });

  it("the old schedule's due slot and the new schedule's late one, ticked together at start-up, run one occurrence once", async () => {
    const slot = Math.floor((Date.now() - 30 * 60_000) / 60_000) * 60_000;
    // Edited from UTC-2 to UTC while the bot was down over both slots: syncSchedule queues the old scheduler's due
    // slot and the new schedule's slot, and the tick worker (concurrency 2) takes both at once.
    const key = await campaign('bothticks', { schedule: { cron: weeklyAt(slot, 0), timezone: 'UTC' } });
    const old = slot + 2 * 60_000 - 2 * 3_600_000;
    try {
      const runs = await Promise.all([startRun(h.ctx, key, { trigger: 'schedule', at: old }), startRun(h.ctx, key, { trigger: 'schedule', at: slot })]);
      expect(runs.map((r) => r?.run.status).sort()).toEqual(['running', 'skipped']);
    } finally {
      await cancelCampaign(h.ctx, key, 'test');
    }
  });

  it('a schedule edited so that its slot of the day is already past runs that slot now (hours late at most), unless a run near it served it', async () => {
    // Registered for UTC two hours from now; moved to UTC+3, the same wall time was an hour ago.
    const cron = weeklyAt(Math.floor(Date.now() / 60_000) * 60_000, 2);
    const key = await campaign('tzback', { schedule: { cron, timezone: 'UTC' } });
    const served = await campaign('tzserved', { schedule: { cron, timezone: 'UTC' } });
    const ticks = h.ctx.queues.get('campaign-tick');
    try {
      await syncSchedule(h.ctx, key);
      await syncSchedule(h.ctx, served);
      const past = nextRunAt((await campaignOf(key))!.campaign, 'UTC')!.getTime() - 3 * 3_600_000;
      // The other one ran at its old slot a week ago... and, for this test, at a slot forty minutes after the new one.
      expect((await startRun(h.ctx, served, { trigger: 'schedule', at: past + 40 * 60_000 }))?.run).toMatchObject({ status: 'running' });
      for (const k of [key, served]) {
        await editSchedule(k, { cron, timezone: 'Etc/GMT-3' });
        await syncSchedule(h.ctx, k);
        await syncSchedule(h.ctx, k); // registering it again, unchanged, adds nothing
      }
      expect(await ticks.getJob(jobIds.campaignTick(key, past))).toMatchObject({ data: { key, at: past } });
      expect(await ticks.getJob(jobIds.campaignTick(served, past))).toBeFalsy();
      expect((await startRun(h.ctx, key, { trigger: 'schedule', at: past }))?.run).toMatchObject({ status: 'running' });
    } finally {
      await cancelCampaign(h.ctx, key, 'test');
      await cancelCampaign(h.ctx, served, 'test');
    }
  });

  it('a one-off campaign skipped while paused at its time runs when launched after resuming, once', async () => {
    const [lead] = await seedLeads(h.sandbox, [{ name: '单次', tags: ['测试/oneoff'] }]);
    const at = Date.now() + 3_600_000;
    const key = await campaign('oneoff', { schedule: { at: new Date(at).toISOString() } });
    await pauseCampaign(h.ctx, key, 'test');
    expect((await startRun(h.ctx, key, { trigger: 'schedule', at }))?.run).toMatchObject({ status: 'skipped' });
    await resumeCampaign(h.ctx, key, 'test');
    const launches = await Promise.all([launchCampaign(h.ctx, key), launchCampaign(h.ctx, key)]);
    expect(launches.filter((l) => l.created)).toHaveLength(1);
    expect(launches.find((l) => l.created)!.run).toMatchObject({ _id: `${key}|at`, status: 'running', trigger: 'launch' });
    await h.drain('campaign-run');
    expect(h.sandbox.state.okCallsTo(API).filter((c) => (c.body as { external_userid: string[] }).external_userid.includes(lead!.externalUserId))).toHaveLength(1);
    // Launched again once it ran: nothing more.
    expect((await launchCampaign(h.ctx, key)).created).toBe(false);
  });
});

describe('exactly once', () => {
  it('one run per slot however many ticks or launches; two runners of one run send each lead once', async () => {
    const leads = await seedLeads(h.sandbox, Array.from({ length: 12 }, (_, i) => ({ name: `一次${i}`, owner: i % 2 ? 'lisi' : 'zhangsan', tags: ['测试/once'] })));
    const key = await campaign('once');
    const slot = Date.parse('2026-11-30T02:00:00Z');
    const starts = await Promise.all([startRun(h.ctx, key, { trigger: 'schedule', at: slot }), startRun(h.ctx, key, { trigger: 'schedule', at: slot }), h.runJob('campaign-tick', { key, at: slot }).then(() => null)]);
    expect(starts.filter((s) => s?.created)).toHaveLength(1);
    expect(await CampaignRun.countDocuments({ campaignKey: key })).toBe(1);
    const launches = await Promise.all([launchCampaign(h.ctx, key), launchCampaign(h.ctx, key), launchCampaign(h.ctx, key)]);
    expect(launches.filter((l) => l.created)).toHaveLength(1);
    // Two runners of the same run at once (as after Redis lost a job that was running): the fences decide.
    const runId = launches[0]!.run._id;
    for (const r of await CampaignRun.find({ campaignKey: key }).lean()) await h.ctx.queues.get('campaign-run').remove(jobIds.campaignRun(r._id));
    h.sandbox.state.inject({ api: API, delayMs: 100, times: 10 });
    await Promise.all([processRun(h.ctx, runId, { lastAttempt: false, runner: 'a' }), processRun(h.ctx, runId, { lastAttempt: false, runner: 'a' })]);
    const ids = leads.map((l) => l.externalUserId);
    expect(ids.map((id) => h.sandbox.state.okCallsTo(API).filter((c) => (c.body as { external_userid: string[] }).external_userid.includes(id) && (c.body as { text?: { content: string } }).text?.content === '您好，新案例请查收。').length)).toEqual(ids.map(() => 1));
    expect(await Delivery.countDocuments({ runId })).toBe(12);
  });
});
