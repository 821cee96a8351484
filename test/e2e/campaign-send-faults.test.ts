import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaign } from '../../src/domain/campaigns/catalog.js';
import { launchCampaign } from '../../src/domain/campaigns/control.js';
import { processRun } from '../../src/domain/campaigns/run.js';
import { campaignDeliveryKey } from '../../src/domain/campaigns/send-record.js';
import { keepTakenGroup } from '../../src/domain/campaigns/taken-groups.js';
import { CampaignGroup } from '../../src/store/models/campaign-group.js';
import { attemptFenceId, takeFence } from '../../src/store/delivery-ledger.js';
import { jobIds } from '../../src/queues/job-ids.js';
import { CampaignRun } from '../../src/store/models/campaign-run.js';
import { Delivery } from '../../src/store/models/delivery.js';
import { Fence } from '../../src/store/models/fence.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { seedLeads } from '../helpers/seed-leads.js';
import { waitFor } from '../helpers/wait-for.js';
import { startWorkers } from '../../src/app/workers.js';
import { campaignRunJob } from '../../jobs/campaign-run.js';

const API = 'externalcontact/add_msg_template';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('campaign_send_faults', { env: { CAMPAIGN_QUIET_HOURS: 'none', CAMPAIGN_MASS_BATCH: '5', NURTURE_DAILY_CAP: '0' } });
});
afterAll(async () => h?.stop());

/**
 * A 客服 send WeCom refuses because the window closed (95001, 95002, 95018) goes the next way as the lead's second
 * attempt, in the same cycle. When that cycle stops before the second attempt is sent (WeCom refuses the mass message
 * for now, a pause, an owner's limit), nothing reached the customer: both attempts are given back, and the run's next
 * execution sends the message once, instead of finding the first attempt held and calling the lead `unknown`.
 */
describe('a 客服 send that fell back to a mass message, in a cycle that stopped before it', () => {
  it('is sent on the next execution, once, not recorded as left in flight', async () => {
    const [kf] = await seedLeads(h.sandbox, [{ name: '窗口刚关', owner: 'lisi', tags: ['测试/kfback'], kfAgoMs: 3_600_000 }]);
    await createCampaign(h.ctx, { key: 'kfback', name: '客服回退', segment: { tags: { all: ['测试/kfback'] } }, content: { text: '您好，回退测试。' }, schedule: { cron: '0 10 * * 1', timezone: 'Asia/Shanghai' } }, 'test');
    // The session is served by a person (95018): the 客服 send is refused, the message goes as a mass message, which
    // WeCom refuses for now (45009) on every try of this execution.
    h.sandbox.state.inject({ api: 'kf/send_msg', errcode: 95018 });
    h.sandbox.state.inject({ api: API, errcode: 45009, times: 3 });
    const { run } = await launchCampaign(h.ctx, 'kfback');
    await h.ctx.queues.get('campaign-run').remove(jobIds.campaignRun(run._id));
    await expect(processRun(h.ctx, run._id, { lastAttempt: false, runner: 'a' })).rejects.toMatchObject({ errcode: 45009 });
    expect(await Delivery.countDocuments({ runId: run._id })).toBe(0);
    // Nothing went out, so nothing is left fenced.
    expect(await Fence.countDocuments({ kind: 'attempt', for: `campaign|${run._id}|${kf!.id}` })).toBe(0);

    // The job's retry: the message goes out once.
    expect((await processRun(h.ctx, run._id, { lastAttempt: false, runner: 'a' })).result).toBe('finished');
    expect((await CampaignRun.findById(run._id).lean())?.status).toBe('finished');
    const d = await Delivery.findOne({ runId: run._id }).lean();
    expect(d).toMatchObject({ externalUserId: kf!.externalUserId });
    expect(['sent', 'submitted']).toContain(d!.status);
    const kfSent = h.sandbox.state.kf.sent.filter((m) => m.touser === kf!.externalUserId).length;
    const massSent = h.sandbox.state.okCallsTo(API).filter((c) => (c.body as { external_userid: string[] }).external_userid.includes(kf!.externalUserId)).length;
    expect(kfSent + massSent).toBe(1);
  });
});

/**
 * A send needs an access token first: when gettoken gets no answer (a timeout, a 5xx) the send itself was never made.
 * It is tried again and goes out, instead of being recorded `unknown` like a send whose own answer was lost.
 */
describe('a mass message whose access token could not be fetched', () => {
  it('is sent on the next try, not recorded unknown', async () => {
    const leads = await seedLeads(h.sandbox, [{ name: '令牌甲', owner: 'zhangsan' }, { name: '令牌乙', owner: 'zhangsan' }].map((x) => ({ ...x, tags: ['测试/token'] })));
    await createCampaign(h.ctx, { key: 'token', name: '令牌测试', segment: { tags: { all: ['测试/token'] } }, content: { text: '您好，令牌测试。' }, schedule: { cron: '0 10 * * 1', timezone: 'Asia/Shanghai' } }, 'test');
    // WeCom expired the token the bot holds, and the gettoken that follows dies with a 502.
    h.sandbox.state.tokens.expire();
    h.sandbox.state.inject({ api: 'gettoken', httpStatus: 502 });
    const { run } = await launchCampaign(h.ctx, 'token');
    await h.drain('campaign-run');
    expect((await CampaignRun.findById(run._id).lean())?.status).toBe('finished');
    expect(h.sandbox.state.callsTo('gettoken').filter((c) => c.httpStatus === 502)).toHaveLength(1);
    const deliveries = await Delivery.find({ runId: run._id }).lean();
    expect(deliveries.map((d) => [d.status, d.via])).toEqual([['submitted', 'mass'], ['submitted', 'mass']]);
    const calls = h.sandbox.state.okCallsTo(API).filter((c) => (c.body as { external_userid: string[] }).external_userid.includes(leads[0]!.externalUserId));
    expect(calls).toHaveLength(1);
  });
});

/**
 * A cycle takes its leads' budget and attempts first, then writes what it found (leads left in flight by a crash,
 * leads deferred): when one of those writes fails, the fences the cycle took for the others are given back, so the
 * run's next execution sends them once, instead of finding their attempts held and calling them `unknown`.
 */
describe('a cycle that fails after taking its budget, before its sends', () => {
  it('gives every fence it took back: the next execution sends those leads once', async () => {
    const [crashed, fresh] = await seedLeads(h.sandbox, [{ name: '上次在途', owner: 'zhangsan' }, { name: '这次待发', owner: 'zhangsan' }].map((x) => ({ ...x, tags: ['测试/prefail'] })));
    await createCampaign(h.ctx, { key: 'prefail', name: '发送前失败', segment: { tags: { all: ['测试/prefail'] } }, content: { text: '您好，发送前失败测试。' }, schedule: { cron: '0 10 * * 1', timezone: 'Asia/Shanghai' } }, 'test');
    const { run } = await launchCampaign(h.ctx, 'prefail');
    await h.ctx.queues.get('campaign-run').remove(jobIds.campaignRun(run._id));
    // An earlier runner died in the call for one lead (its attempt held, nothing recorded), and what Redis kept of the
    // run's taken groups cannot be read: recording that lead fails, after the other lead's fences were taken.
    const crashedKey = campaignDeliveryKey(run._id, crashed!.id);
    await takeFence({ id: attemptFenceId(crashedKey, 1), kind: 'attempt', for: crashedKey });
    await h.ctx.redis.hset(h.ctx.keys.campaignTakenGroups(run._id), 'broken', '{not json');
    await expect(processRun(h.ctx, run._id, { lastAttempt: false, runner: 'a' })).rejects.toThrow(SyntaxError);
    const freshKey = campaignDeliveryKey(run._id, fresh!.id);
    expect(await Fence.countDocuments({ for: freshKey })).toBe(0);
    expect(h.sandbox.state.okCallsTo(API).filter((c) => (c.body as { external_userid: string[] }).external_userid.includes(fresh!.externalUserId))).toHaveLength(0);

    await h.ctx.redis.del(h.ctx.keys.campaignTakenGroups(run._id));
    expect((await processRun(h.ctx, run._id, { lastAttempt: false, runner: 'a' })).result).toBe('finished');
    expect(await Delivery.findOne({ key: freshKey }).lean()).toMatchObject({ status: 'submitted', via: 'mass' });
    expect(await Delivery.findOne({ key: crashedKey }).lean()).toMatchObject({ status: 'unknown', reason: 'left_in_flight' });
    expect(h.sandbox.state.okCallsTo(API).filter((c) => (c.body as { external_userid: string[] }).external_userid.includes(fresh!.externalUserId))).toHaveLength(1);
  });
});

/**
 * WeCom took a mass message whose records the database then refused (what it answered is kept in Redis, taken-groups.ts),
 * and its customers left the audience before the run's retry reached them (unsubscribed, untagged): the run still
 * records it when it ends, so the owner's send is learnt and counted, instead of leaving it in Redis until it expires.
 */
describe('a task WeCom took whose customers left the audience before the retry', () => {
  it('is recorded when the run ends: its group, its customers\' deliveries, its result poll', async () => {
    const [gone] = await seedLeads(h.sandbox, [{ name: '已离开', owner: 'zhangsan', tags: ['测试/gone'] }]);
    await createCampaign(h.ctx, { key: 'gone', name: '客户已离开', segment: { tags: { all: ['测试/gone'] } }, content: { text: '您好，离开测试。' }, schedule: { cron: '0 10 * * 1', timezone: 'Asia/Shanghai' } }, 'test');
    const { run } = await launchCampaign(h.ctx, 'gone');
    await h.ctx.queues.get('campaign-run').remove(jobIds.campaignRun(run._id));
    // An earlier execution: its attempt taken, WeCom took the task, then its records failed (only Redis kept it).
    const key = campaignDeliveryKey(run._id, gone!.id);
    await takeFence({ id: attemptFenceId(key, 1), kind: 'attempt', for: key });
    const res = await h.ctx.wecom.addMsgTemplate({ chat_type: 'single', external_userid: [gone!.externalUserId], sender: 'zhangsan', text: { content: '您好，离开测试。' } });
    const group = `cg|${run._id}|gone1`;
    await keepTakenGroup(h.ctx, run._id, { group, msgid: res.msgid, sender: 'zhangsan', corpId: h.ctx.corpId, content: { text: '您好，离开测试。', link: null }, caseSlug: null, submittedAt: Date.now(), customers: [gone!.externalUserId], attempts: {}, refused: {}, retarget: [] });
    // The customer left the audience before the retry.
    await h.ctx.leads.mutate({ corpId: h.ctx.corpId, externalUserId: gone!.externalUserId }, null, (d) => {
      d.tags.splice(0);
    });

    expect((await processRun(h.ctx, run._id, { lastAttempt: false, runner: 'a' })).result).toBe('finished');
    expect(await CampaignGroup.findById(group).lean()).toMatchObject({ status: 'submitted', msgid: res.msgid, via: 'mass' });
    expect(await Delivery.findOne({ key }).lean()).toMatchObject({ status: 'submitted', msgid: res.msgid });
    expect(await h.ctx.redis.hlen(h.ctx.keys.campaignTakenGroups(run._id))).toBe(0);
    expect(await h.ctx.queues.get('mass-result').getJob(jobIds.massPoll(group, 0))).toBeTruthy();
    // Sent once: the retry never calls add_msg_template for it again.
    expect(h.sandbox.state.okCallsTo(API).filter((c) => (c.body as { external_userid: string[] }).external_userid.includes(gone!.externalUserId))).toHaveLength(1);
  });
});

/**
 * A deploy stops the bot while a run sends: the shutdown's wait (SHUTDOWN_TIMEOUT_SECONDS) is far shorter than a big
 * run, and a process that exits mid-cycle leaves the cycle's leads not yet sent `unknown`, never sent. The shutdown
 * stops the run between two calls instead, gives back what it has not sent, and the run goes on after the restart.
 */
describe('a shutdown while a run sends', () => {
  it('stops the run between two calls at once; after the restart every lead gets the message once, none is unknown', async () => {
    const leads = await seedLeads(h.sandbox, ['zhangsan', 'lisi', 'wangwu'].flatMap((owner) => [1, 2].map((n) => ({ name: `停机${owner}${n}`, owner, tags: ['测试/shutdown'] }))));
    await createCampaign(h.ctx, { key: 'shutdown', name: '停机测试', segment: { tags: { all: ['测试/shutdown'] } }, content: { text: '您好，停机测试。' }, schedule: { cron: '0 10 * * 1', timezone: 'Asia/Shanghai' } }, 'test');
    // Each owner's task takes WeCom 1.5 s: the run's one cycle (three tasks) takes 4.5 s.
    h.sandbox.state.inject({ api: API, delayMs: 1500, times: 3 });
    const before = h.sandbox.state.callsTo(API).length;
    const mine = () => h.sandbox.state.okCallsTo(API).filter((c) => leads.some((l) => (c.body as { external_userid: string[] }).external_userid.includes(l.externalUserId)));
    const shutdown = new AbortController();
    const running = h.ctx.stopping;
    h.ctx.stopping = shutdown.signal;
    let [worker] = startWorkers(h.ctx, [campaignRunJob]);
    try {
      const { run } = await launchCampaign(h.ctx, 'shutdown');
      await waitFor(() => h.sandbox.state.callsTo(API).length > before, 'the first task under way', 10_000, 20);
      const stopAt = Date.now();
      shutdown.abort();
      await worker!.close();
      // The close waited for the call in flight, not for the rest of the run.
      expect(Date.now() - stopAt).toBeLessThan(3000);
      expect(mine()).toHaveLength(1);
      const job = (await h.ctx.queues.get('campaign-run').getJob(jobIds.campaignRun(run._id)))!;
      expect(await job.getState()).toBe('delayed');
      expect(await CampaignRun.findById(run._id).lean()).toMatchObject({ status: 'running', runner: null });
      // What the stopped cycle had not sent holds no fence: the restart sends it.
      expect(await Fence.countDocuments({ kind: 'attempt', for: { $in: leads.map((l) => campaignDeliveryKey(run._id, l.id)) } })).toBe(2);

      h.ctx.stopping = running;
      [worker] = startWorkers(h.ctx, [campaignRunJob]);
      await waitFor(async () => (await CampaignRun.findById(run._id).lean())?.status === 'finished', 'the run to finish after the restart', 20_000, 100);
      const deliveries = await Delivery.find({ runId: run._id }).lean();
      expect(deliveries.map((d) => d.status)).toEqual(Array(6).fill('submitted'));
      for (const l of leads) expect(mine().filter((c) => (c.body as { external_userid: string[] }).external_userid.includes(l.externalUserId))).toHaveLength(1);
      expect(mine()).toHaveLength(3);
    } finally {
      h.ctx.stopping = running;
      await worker!.close();
    }
  });
});
