import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createCampaign } from '../../src/domain/campaigns/catalog.js';
import { cancelCampaign, launchCampaign } from '../../src/domain/campaigns/control.js';
import { campaignDetail } from '../../src/domain/campaigns/overview.js';
import { reconcileCampaigns } from '../../src/domain/campaigns/reconcile.js';
import { pollMassResult, type MassPoll } from '../../src/domain/delivery/mass-result.js';
import { reconcile } from '../../src/domain/nurture/reconcile.js';
import { jobIds } from '../../src/queues/job-ids.js';
import { Alert } from '../../src/store/models/alert.js';
import { CampaignGroup } from '../../src/store/models/campaign-group.js';
import { CampaignRun } from '../../src/store/models/campaign-run.js';
import { Delivery } from '../../src/store/models/delivery.js';
import { Enrollment } from '../../src/store/models/enrollment.js';
import { Fence } from '../../src/store/models/fence.js';
import { Lead, leadId } from '../../src/store/models/lead.js';
import { timelineOf } from '../../src/store/timeline.js';
import { TEST_CORP } from '../fixtures/test-corp.js';
import { wecomXml } from '../fixtures/wecom/index.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { seedLeads } from '../helpers/seed-leads.js';

const RESULT = 'externalcontact/get_groupmsg_send_result';
/** The poll schedule: attempts 0, 1 and 2 (the last). */
const SCHEDULE = '1h,2h,3h';
const LAST = 2;

let h: Harness;
beforeAll(async () => {
  // WeCom's quota is 1 mass message a day per customer (an admin's rule [D:92135]); the bot's view stays the default.
  h = await startHarness('mass-result', { env: { MASS_RESULT_POLL_SCHEDULE: SCHEDULE, CAMPAIGN_QUIET_HOURS: 'none', NURTURE_DAILY_CAP: '0' }, sandbox: { massQuota: '1/day' } });
});
afterAll(async () => h?.stop());
// Faults left over by a test go with it.
afterEach(() => h.sandbox.state.reset());

/** A nurture step sent as a mass message and recorded `submitted`; returns its key and its polls' data. */
async function submitted(ext: string) {
  h.sandbox.state.contacts.addCustomer({ externalUserId: ext, name: '测试', userId: 'zhangsan', state: 'slowseq' });
  await h.handle(wecomXml('contact/add_external_contact', { ToUserName: TEST_CORP.corpId, ExternalUserID: ext, State: 'slowseq', WelcomeCode: null, CreateTime: Math.floor(Date.now() / 1000) }));
  const e = (await Enrollment.findOne({ externalUserId: ext }))!;
  await h.ctx.queues.get('nurture').remove(jobIds.nurtureStep(e.id, 0));
  await Enrollment.updateOne({ _id: e._id }, { $set: { dueAt: new Date(Date.now() - 1000) } });
  expect((await h.runJob('nurture', { e: e.id, s: 0, l: leadId(TEST_CORP.corpId, ext) })).result).toBe('submitted');
  await h.drain('records');
  const d = (await Delivery.findOne({ externalUserId: ext, step: 0 }).lean())!;
  expect(d.status).toBe('submitted');
  const poll = (attempt: number): MassPoll => ({ deliveryKey: d.key, attempt, msgid: d.msgid!, userId: d.userId, corpId: TEST_CORP.corpId, externalUserId: ext, submittedAt: d.createdAt.getTime() });
  return { key: d.key, poll };
}

/** Whether the lead holds a unit of its mass-message quota (any period). */
const holdsMassUnit = async (lead: { id: string }) => Boolean(await Fence.exists({ _id: { $regex: `^mass\\|${lead.id.replace(/[|\\^$.*+?()[\]{}]/g, '\\$&')}\\|` } }));
const pollJob = (key: string, attempt: number) => h.ctx.queues.get('mass-result').getJob(jobIds.massPoll(key, attempt));
/** Drops every poll job of `key`, as a job failed for good or a flushed Redis leaves it, for the reconciler to find. */
async function dropPolls(key: string) {
  for (let a = 0; a <= LAST; a++) await h.ctx.queues.get('mass-result').remove(jobIds.massPoll(key, a));
}

describe('a mass-result poll WeCom refuses with an errcode', () => {
  it('an errcode not known to pass: the next poll asks again, and after the last one the delivery is unknown, alerted, and never polled again', async () => {
    const { key, poll } = await submitted(`wm_mr_refused_${Date.now()}`);
    // 60111: the sender's userid is not found (they left); nothing about it passes with time.
    h.sandbox.state.inject({ api: RESULT, errcode: 60111, times: 4 });
    // A try before the job's last: it fails, and BullMQ backs off and tries again.
    await expect(pollMassResult(h.ctx, poll(0))).rejects.toMatchObject({ errcode: 60111 });
    // The job's last try of a poll before the last: the next poll asks again at its time; the delivery waits.
    expect(await pollMassResult(h.ctx, poll(0), { lastAttempt: true })).toBe('result_refused');
    expect(await pollJob(key, 1)).toBeTruthy();
    expect((await Delivery.findById(key).lean())?.status).toBe('submitted');
    // The last poll, its last try: the delivery is unknown with the errcode, never counted as delivered.
    await expect(pollMassResult(h.ctx, poll(LAST))).rejects.toMatchObject({ errcode: 60111 });
    expect(await pollMassResult(h.ctx, poll(LAST), { lastAttempt: true })).toBe('unknown');
    expect(await Delivery.findById(key).lean()).toMatchObject({ status: 'unknown', errcode: 60111, reason: 'send_result_unavailable' });
    const lead = (await Delivery.findById(key).lean())!;
    expect((await timelineOf(TEST_CORP.corpId, lead.externalUserId)).find((s) => s.type === 'mass_unknown')?.detail).toMatchObject({ errcode: 60111 });
    expect(await Alert.findOne({ kind: 'mass_result_unavailable', _id: { $regex: '^mass-result\\|60111\\|' } }).lean()).toBeTruthy();
    expect(h.sandbox.state.callsTo(RESULT)).toHaveLength(4);
    // Nothing is left to poll: the reconciler, which used to add such a poll again every cycle, adds none.
    await dropPolls(key);
    await reconcile(h.ctx);
    for (let a = 0; a <= LAST; a++) expect(await pollJob(key, a)).toBeUndefined();
  });

  it('a msgid WeCom does not know (41047): the first try settles the delivery unknown, alerted, never retried nor polled again', async () => {
    const { key, poll } = await submitted(`wm_mr_41047_${Date.now()}`);
    // WeCom (here the sandbox after a restart) has forgotten the task: every answer about it is 41047.
    h.sandbox.state.mass.msgs.delete(poll(0).msgid);
    // The poll's job, its first try of its first poll: it completes, with no retry (no backoff) and no next poll.
    const { result, error, delayed } = await h.runJob('mass-result', poll(0));
    expect({ result, error, delayed }).toEqual({ result: 'unknown', error: undefined, delayed: undefined });
    expect(await Delivery.findById(key).lean()).toMatchObject({ status: 'unknown', errcode: 41047, reason: 'send_result_unavailable' });
    expect(h.sandbox.state.callsTo(RESULT)).toHaveLength(1);
    for (let a = 1; a <= LAST; a++) expect(await pollJob(key, a)).toBeUndefined();
    expect(await Alert.findOne({ kind: 'mass_result_unavailable', _id: { $regex: '^mass-result\\|41047\\|' } }).lean()).toBeTruthy();
    await dropPolls(key);
    await reconcile(h.ctx);
    for (let a = 0; a <= LAST; a++) expect(await pollJob(key, a)).toBeUndefined();
  });

  it('a campaign group whose msgid WeCom does not know (41047): settled at once, its customers unknown, no further poll', async () => {
    const [a, b] = await seedLeads(h.sandbox, [{ name: '忘记甲' }, { name: '忘记乙' }].map((x) => ({ ...x, owner: 'zhangsan', tags: ['测试/forgot'] })));
    const key = `c-forgot-${Date.now()}`;
    await createCampaign(h.ctx, { key, name: '任务遗失', segment: { tags: { all: ['测试/forgot'] } }, content: { text: '您好' }, schedule: { cron: '0 10 * * 1', timezone: 'Asia/Shanghai' } }, 'test');
    const { run } = await launchCampaign(h.ctx, key);
    await h.drain('campaign-run');
    const g = (await CampaignGroup.findOne({ runId: run._id }).lean())!;
    h.sandbox.state.mass.msgs.delete(g.msgid!);
    const poll: MassPoll = { deliveryKey: g._id, attempt: 0, msgid: g.msgid!, userId: g.sender, corpId: TEST_CORP.corpId, externalUserId: '*', submittedAt: g.createdAt.getTime(), group: { deliveryKeyPrefix: g.deliveryKeyPrefix } };
    expect(await pollMassResult(h.ctx, poll)).toBe('unknown');
    for (const x of [a!, b!]) expect(await Delivery.findById(`campaign|${run._id}|${x.id}`).lean()).toMatchObject({ status: 'unknown', errcode: 41047, reason: 'send_result_unavailable' });
    expect(await CampaignGroup.findById(g._id).lean()).toMatchObject({ status: 'settled', tally: { unsent: 0, unknown: 2 } });
    expect((await campaignDetail(key))!.runs[0]!.results).toMatchObject({ unknown: 2, waitingForOwner: 0 });
    await dropPolls(g._id);
    await reconcileCampaigns(h.ctx);
    for (let at = 0; at <= LAST; at++) expect(await pollJob(g._id, at)).toBeUndefined();
  });

  it('a token WeCom keeps refusing and its rate limits are retried as before, however long they last', async () => {
    const { key, poll } = await submitted(`wm_mr_transient_${Date.now()}`);
    // 42001 (the token expired), again after the client refreshed it: the job's last try of the last poll fails.
    h.sandbox.state.inject({ api: RESULT, errcode: 42001, times: 2 });
    await expect(pollMassResult(h.ctx, poll(LAST), { lastAttempt: true })).rejects.toMatchObject({ errcode: 42001 });
    h.sandbox.state.inject({ api: RESULT, errcode: 45009, times: 20 });
    await expect(pollMassResult(h.ctx, poll(LAST), { lastAttempt: true })).rejects.toMatchObject({ errcode: 45009 });
    expect((await Delivery.findById(key).lean())?.status).toBe('submitted');
    // The job failed for good: the reconciler adds the poll again.
    await dropPolls(key);
    await reconcile(h.ctx);
    expect(await pollJob(key, 0)).toBeTruthy();
  });

  it("a campaign group: after the last poll its customers not known to be sent are unknown; the tally and the run's results say so", async () => {
    const [a, b] = await seedLeads(h.sandbox, [{ name: '确认甲' }, { name: '未知乙' }].map((x) => ({ ...x, owner: 'zhangsan', tags: ['测试/refused'] })));
    const key = `c-refused-${Date.now()}`;
    await createCampaign(h.ctx, { key, name: '查询失败', segment: { tags: { all: ['测试/refused'] } }, content: { text: '您好' }, schedule: { cron: '0 10 * * 1', timezone: 'Asia/Shanghai' } }, 'test');
    const { run } = await launchCampaign(h.ctx, key);
    await h.drain('campaign-run');
    expect((await CampaignRun.findById(run._id).lean())?.status).toBe('finished');
    const g = (await CampaignGroup.findOne({ runId: run._id }).lean())!;
    const poll = (attempt: number): MassPoll => ({ deliveryKey: g._id, attempt, msgid: g.msgid!, userId: g.sender, corpId: TEST_CORP.corpId, externalUserId: '*', submittedAt: g.createdAt.getTime(), group: { deliveryKeyPrefix: g.deliveryKeyPrefix } });
    // 甲 gets it; 乙 not yet.
    h.sandbox.state.mass.msgs.get(g.msgid!)!.targets.find((t) => t.externalUserId === a!.externalUserId)!.status = 1;
    expect(await pollMassResult(h.ctx, poll(0))).toBe('unsent_yet');
    h.sandbox.state.inject({ api: RESULT, errcode: 60111 });
    expect(await pollMassResult(h.ctx, poll(LAST), { lastAttempt: true })).toBe('unknown');
    const status = async (x: { id: string }) => (await Delivery.findById(`campaign|${run._id}|${x.id}`).lean());
    expect((await status(a!))?.status).toBe('sent');
    expect(await status(b!)).toMatchObject({ status: 'unknown', errcode: 60111, reason: 'send_result_unavailable' });
    expect(await CampaignGroup.findById(g._id).lean()).toMatchObject({ status: 'settled', tally: { sent: 1, unsent: 0, unknown: 1 } });
    expect((await campaignDetail(key))!.runs[0]!.results).toMatchObject({ confirmed: 1, unknown: 1, waitingForOwner: 0 });
    await dropPolls(g._id);
    await reconcileCampaigns(h.ctx);
    for (let at = 0; at <= LAST; at++) expect(await pollJob(g._id, at)).toBeUndefined();
  });
});

describe('a case study in a mass message WeCom did not deliver', () => {
  type MassBody = { external_userid?: string[]; attachments?: Array<{ link: { title: string } }> };
  const massCases = (ext: string) =>
    h.sandbox.state.okCallsTo('externalcontact/add_msg_template').map((c) => c.body as MassBody).filter((b) => b.external_userid?.includes(ext)).map((b) => b.attachments?.[0]?.link.title);
  /** Another mass message reached the customer today: WeCom skips ours (status 3, quota 1/day). */
  const quotaUsedElsewhere = (ext: string) => {
    const other = h.sandbox.state.mass.apiAddMsgTemplate({ chat_type: 'single', external_userid: [ext], sender: 'zhangsan', text: { content: '别的群发' } }) as { msgid: string };
    h.sandbox.state.mass.confirm(other.msgid, 'zhangsan');
  };

  it('is chosen again for the lead by the next step (status 3); the step itself is not sent again', async () => {
    const ext = `wm_mr_case_${Date.now()}`;
    const lead = { corpId: TEST_CORP.corpId, externalUserId: ext };
    // A manufacturing lead in sequence `fast`, at its first case-study step (step 1).
    h.sandbox.state.contacts.addCustomer({ externalUserId: ext, name: '案例', userId: 'zhangsan', state: 'nurture' });
    await h.handle(wecomXml('contact/add_external_contact', { ToUserName: TEST_CORP.corpId, ExternalUserID: ext, State: 'nurture', WelcomeCode: null, CreateTime: Math.floor(Date.now() / 1000) }));
    await Lead.updateOne({ _id: leadId(TEST_CORP.corpId, ext) }, { $set: { industry: '制造业' } });
    const e = (await Enrollment.findOne({ externalUserId: ext }))!;
    await h.ctx.queues.get('nurture').remove(jobIds.nurtureStep(e.id, 0));
    await Enrollment.updateOne({ _id: e._id }, { $set: { step: 1, dueAt: new Date(Date.now() - 1000) } });
    quotaUsedElsewhere(ext);

    expect((await h.runJob('nurture', { e: e.id, s: 1, l: leadId(TEST_CORP.corpId, ext) })).result).toBe('submitted');
    expect(massCases(ext)).toEqual(['甲厂：排产效率提升 32%']);
    await h.drain('records');
    const d = (await Delivery.findOne({ externalUserId: ext, step: 1 }).lean())!;
    expect(d.caseSlug).toBe('mfg-a');
    // The owner sends it; WeCom skips the customer: status 3.
    expect(h.sandbox.state.mass.confirm(d.msgid!, 'zhangsan').map((t) => t.status)).toEqual([3]);
    expect(await pollMassResult(h.ctx, { deliveryKey: d.key, attempt: 0, msgid: d.msgid!, userId: d.userId, corpId: lead.corpId, externalUserId: ext, submittedAt: d.createdAt.getTime() })).toBe('capped');
    expect(await Fence.exists({ _id: `case|${leadId(TEST_CORP.corpId, ext)}|mfg-a` })).toBeNull();
    // The delivery keeps its own fence: it is never sent again.
    expect(await Fence.exists({ _id: `${d.key}#1` })).toBeTruthy();

    // The next case-study step: the mass quota is known to be used up, so the owner is reminded, with the same case.
    await h.ctx.queues.get('nurture').remove(jobIds.nurtureStep(e.id, 2));
    await Enrollment.updateOne({ _id: e._id }, { $set: { dueAt: new Date(Date.now() - 1000) } });
    const reminders = h.sandbox.state.okCallsTo('message/send').length;
    expect((await h.runJob('nurture', { e: e.id, s: 2, l: leadId(TEST_CORP.corpId, ext) })).result).toBe('reminded');
    const note = h.sandbox.state.okCallsTo('message/send').slice(reminders).map((c) => (c.body as { text?: { content: string } }).text?.content ?? '').find((t) => t.includes(ext));
    expect(note).toContain('甲厂：排产效率提升 32%');
    await h.drain('records');
    expect((await Delivery.findOne({ externalUserId: ext, step: 2 }).lean())).toMatchObject({ caseSlug: 'mfg-a', via: 'owner', status: 'sent' });
    expect(massCases(ext)).toEqual(['甲厂：排产效率提升 32%']);
    expect((await Enrollment.findById(e.id).lean())?.history.map((x) => [x.step, x.outcome])).toEqual([[1, 'submitted'], [2, 'reminded']]);
  });

  it('a nurture step a customer no longer a friend of the sender did not get (status 2) gives back its quota unit', async () => {
    const ext = `wm_mr_gone_${Date.now()}`;
    const { key, poll } = await submitted(ext);
    const lead = { id: leadId(TEST_CORP.corpId, ext) };
    expect(await holdsMassUnit(lead)).toBe(true);
    h.sandbox.state.contacts.removeRelationship('zhangsan', ext);
    h.sandbox.state.mass.confirm((await Delivery.findById(key).lean())!.msgid!, 'zhangsan');
    expect(await pollMassResult(h.ctx, poll(0))).toBe('failed');
    expect(await Delivery.findById(key).lean()).toMatchObject({ status: 'failed', reason: 'not_a_friend' });
    expect(await holdsMassUnit(lead)).toBe(false);
  });

  it("a campaign group's recipients who were not friends (status 2) get their case study back; the ones it reached keep theirs", async () => {
    const [a, b, c] = await seedLeads(h.sandbox, [
      { name: '送达甲', industry: '制造业' },
      { name: '删好友乙', industry: '制造业' },
      { name: '删好友丙', industry: '零售' },
    ].map((x) => ({ ...x, owner: 'zhangsan', tags: ['测试/casesback'] })));
    const key = `c-casesback-${Date.now()}`;
    await createCampaign(h.ctx, { key, name: '案例退回', segment: { tags: { all: ['测试/casesback'] } }, content: { caseStudy: 'auto', text: '同行案例：' }, schedule: { cron: '0 10 * * 1', timezone: 'Asia/Shanghai' } }, 'test');
    const { run } = await launchCampaign(h.ctx, key);
    await h.drain('campaign-run');
    const groups = await CampaignGroup.find({ runId: run._id }).lean();
    expect(groups.map((g) => g.caseSlug).sort()).toEqual(['mfg-a', 'retail-a']);
    // A group stored before groups kept their case study: it is read from the deliveries.
    const retail = groups.find((g) => g.caseSlug === 'retail-a')!;
    await CampaignGroup.collection.updateOne({ _id: retail._id as never }, { $unset: { caseSlug: '' } });
    h.sandbox.state.contacts.removeRelationship('zhangsan', b!.externalUserId);
    h.sandbox.state.contacts.removeRelationship('zhangsan', c!.externalUserId);
    for (const g of groups) {
      h.sandbox.state.mass.confirm(g.msgid!, 'zhangsan');
      expect(await pollMassResult(h.ctx, { deliveryKey: g._id, attempt: 0, msgid: g.msgid!, userId: g.sender, corpId: TEST_CORP.corpId, externalUserId: '*', submittedAt: g.createdAt.getTime(), group: { deliveryKeyPrefix: g.deliveryKeyPrefix } })).toBe('settled');
    }
    const status = async (x: { id: string }) => (await Delivery.findById(`campaign|${run._id}|${x.id}`).lean())?.status;
    expect([await status(a!), await status(b!), await status(c!)]).toEqual(['sent', 'failed', 'failed']);
    expect(await Fence.exists({ _id: `case|${a!.id}|mfg-a` })).toBeTruthy();
    expect(await Fence.exists({ _id: `case|${b!.id}|mfg-a` })).toBeNull();
    expect(await Fence.exists({ _id: `case|${c!.id}|retail-a` })).toBeNull();
    expect(await Fence.exists({ _id: `campaign|${run._id}|${b!.id}#1` })).toBeTruthy();
    // WeCom counts what a customer received: the ones it did not reach have their quota's unit back.
    expect([await holdsMassUnit(a!), await holdsMassUnit(b!), await holdsMassUnit(c!)]).toEqual([true, false, false]);
  });
  it("a cancelled campaign's withdrawn task gives its customers their case study back; a task the owner sent keeps it", async () => {
    const [a, b] = await seedLeads(h.sandbox, [
      { name: '已发甲', industry: '制造业' },
      { name: '撤回乙', industry: '零售' },
    ].map((x) => ({ ...x, owner: 'zhangsan', tags: ['测试/withdrawback'] })));
    const key = `c-withdrawback-${Date.now()}`;
    await createCampaign(h.ctx, { key, name: '撤回退案例', segment: { tags: { all: ['测试/withdrawback'] } }, content: { caseStudy: 'auto', text: '同行案例：' }, schedule: { cron: '0 10 * * 1', timezone: 'Asia/Shanghai' } }, 'test');
    const { run } = await launchCampaign(h.ctx, key);
    await h.drain('campaign-run');
    const groups = await CampaignGroup.find({ runId: run._id }).lean();
    const mfg = groups.find((g) => g.caseSlug === 'mfg-a')!;
    const retail = groups.find((g) => g.caseSlug === 'retail-a')!;
    // The owner sends the manufacturing task; the campaign is cancelled before they send the retail one.
    h.sandbox.state.mass.confirm(mfg.msgid!, 'zhangsan');
    expect((await cancelCampaign(h.ctx, key, 'test')).withdrawn).toBe(2);
    expect(h.sandbox.state.mass.confirm(retail.msgid!, 'zhangsan')).toEqual([]);
    for (const g of [mfg, retail]) {
      expect(await pollMassResult(h.ctx, { deliveryKey: g._id, attempt: 0, msgid: g.msgid!, userId: g.sender, corpId: TEST_CORP.corpId, externalUserId: '*', submittedAt: g.createdAt.getTime(), group: { deliveryKeyPrefix: g.deliveryKeyPrefix } })).toBe('settled');
    }
    const delivery = async (x: { id: string }) => Delivery.findById(`campaign|${run._id}|${x.id}`).lean();
    expect(await delivery(a!)).toMatchObject({ status: 'sent' });
    expect(await delivery(b!)).toMatchObject({ status: 'skipped', reason: 'campaign_cancelled' });
    expect(await Fence.exists({ _id: `case|${a!.id}|mfg-a` })).toBeTruthy();
    expect(await Fence.exists({ _id: `case|${b!.id}|retail-a` })).toBeNull();
    expect([await holdsMassUnit(a!), await holdsMassUnit(b!)]).toEqual([true, false]);
    // The message itself is never sent again.
    expect(await Fence.exists({ _id: `campaign|${run._id}|${b!.id}#1` })).toBeTruthy();
  });
});
