import mongoose from 'mongoose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Delivery } from '../../src/store/models/delivery.js';
import { takeFence } from '../../src/store/delivery-ledger.js';
import { Enrollment } from '../../src/store/models/enrollment.js';
import { Lead, leadId } from '../../src/store/models/lead.js';
import { timelineOf } from '../../src/store/timeline.js';
import { enroll, enrollMany } from '../../src/domain/nurture/enroll.js';
import { stopEnrollments } from '../../src/domain/nurture/stop.js';
import { moveStage } from '../../src/domain/leads/stage.js';
import { jobIds } from '../../src/queues/job-ids.js';
import { buildContactEventXml, type CallRecord } from '../../src/sandbox/index.js';
import { startTestBot, TEST_CORP, type TestBot } from '../helpers/test-bot.js';
import { waitFor } from '../helpers/wait-for.js';
import { touchesOf } from '../../src/store/touch-log.js';

let t: TestBot;
beforeAll(async () => {
  // WeCom's quota tightened to 4 a month (an admin setting [D:92135]), so a 5-step sequence runs out of it.
  t = await startTestBot('nurture', { env: { NURTURE_DAILY_CAP: '0', MASS_RESULT_POLL_SCHEDULE: '1s,2s,3s', MASS_MESSAGE_CAP: '4/month' }, sandbox: { massQuota: '4/month' } });
});
afterAll(async () => t?.stop());
beforeEach(() => t.sandbox.state.reset());

type Body = { external_userid?: string[]; touser?: string; sender?: string; text?: { content: string }; attachments?: Array<{ link: { title: string; url: string; desc?: string; picurl?: string } }> };
const body = (c: CallRecord) => c.body as Body;
const massTo = (ext: string) => t.sandbox.state.okCallsTo('externalcontact/add_msg_template').filter((c) => body(c).external_userid?.includes(ext));
const enrollmentOf = (ext: string) => Enrollment.findOne({ externalUserId: ext });
const until = (ext: string, status: string, timeoutMs = 20_000) =>
  waitFor(async () => {
    const e = await enrollmentOf(ext);
    return e?.status === status ? e : null;
  }, `enrollment ${status}`, timeoutMs);

/** A customer arrives through a channel; resolves when the lead exists and its profile (industry) is synced. */
async function arrive(state: string, name = '王经理') {
  const c = t.newContact({ state, name });
  expect((await t.post(c.xml)).status).toBe(200);
  await waitFor(async () => (await Lead.findOne({ externalUserId: c.externalUserId }))?.profileSyncedAt, 'lead profiled');
  return c;
}

describe('a lead enrolled through its channel', () => {
  it('gets every step in order at its time, matched case studies never repeating, then the owner route when the mass quota is used', async () => {
    const c = await arrive('nurture');
    const e = await until(c.externalUserId, 'completed', 30_000);
    expect(e.sequenceKey).toBe('fast');
    expect(e.history.map((h) => h.outcome)).toEqual(['submitted', 'submitted', 'submitted', 'submitted', 'reminded']);

    // Steps 1–4 went out as mass messages from the owner (the monthly quota is 4), in order, ~1 s apart.
    const calls = massTo(c.externalUserId);
    expect(calls.map((x) => body(x).sender)).toEqual(['zhangsan', 'zhangsan', 'zhangsan', 'zhangsan']);
    expect(body(calls[0]!).text?.content).toBe('王经理您好，给您整理了一份选型清单。');
    const cases = calls.slice(1).map((x) => body(x).attachments?.[0]?.link.title);
    // Lead industry 制造业 (from the channel tag): both manufacturing cases first, then the general one; none twice.
    expect(cases).toEqual(['甲厂：排产效率提升 32%', '乙厂：库存周转提升 40%', '200 家客户的投入产出复盘']);
    const enrolledAt = e.enrolledAt.getTime();
    calls.forEach((x, i) => expect(x.at).toBeGreaterThanOrEqual(enrolledAt + (i + 1) * 1000 - 50));
    for (let i = 1; i < calls.length; i++) expect(calls[i]!.at - calls[i - 1]!.at).toBeGreaterThanOrEqual(950);

    // Case attachments carry title, summary, picture and a tracked link.
    const link = body(calls[1]!).attachments![0]!.link;
    expect(link).toMatchObject({ desc: '甲厂：排产效率提升 32% 的摘要', picurl: 'https://example.com/cases/mfg-a.png' });
    expect(link.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/r\/[\w-]+$/);

    // Step 5: quota used → the owner is reminded with the content to forward.
    const reminder = t.sandbox.state.okCallsTo('message/send').find((x) => body(x).text?.content.includes(c.externalUserId));
    expect(body(reminder!).touser).toBe('zhangsan');
    expect(body(reminder!).text?.content).toContain('需要我们安排一次演示吗？');
    expect(await Delivery.countDocuments({ externalUserId: c.externalUserId, kind: 'nurture' })).toBe(5);
  });

  it('tracked links redirect and count the click as a touch that makes the lead engaged', async () => {
    const c = await arrive('nurture', '点击者');
    await waitFor(() => massTo(c.externalUserId).length >= 2, 'case study sent', 15_000);
    const tracked = body(massTo(c.externalUserId)[1]!).attachments![0]!.link.url;
    const res = await fetch(tracked, { redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('https://example.com/cases/mfg-a');
    const lead = await waitFor(async () => {
      const l = await Lead.findOne({ externalUserId: c.externalUserId }).lean();
      return l && touchesOf(l).some((x) => x.kind === 'case_opened' && x.ref === 'mfg-a') && l.stage !== 'added' ? l : null;
    }, 'click recorded (a case study opened) and the stage moved');
    expect(lead.stage).toBe('engaged');
    expect((await fetch(`${t.url}/r/doesnotexist`, { redirect: 'manual' })).status).toBe(404);
    await stopEnrollments(t.bot.ctx, { corpId: TEST_CORP.corpId, externalUserId: c.externalUserId }, 'unsubscribe');
  });

  it('churn mid-sequence stops the rest and drops the pending job', async () => {
    const c = await arrive('slowseq');
    await waitFor(() => massTo(c.externalUserId).length === 1, 'first step sent', 10_000);
    const churn = buildContactEventXml({ toUserName: TEST_CORP.corpId, createTime: Math.floor(Date.now() / 1000), changeType: 'del_follow_user', userId: 'zhangsan', externalUserId: c.externalUserId });
    expect((await t.post(churn)).status).toBe(200);
    const e = await until(c.externalUserId, 'stopped');
    expect(e.stopReason).toBe('churn');
    expect(await t.bot.ctx.queues.get('nurture').getJob(jobIds.nurtureStep(e.id, e.step))).toBeUndefined();
    await new Promise((r) => setTimeout(r, 4500)); // past when steps 2 and 3 were due
    expect(massTo(c.externalUserId)).toHaveLength(1);
  });

  it('stage:qualified (in stopOn) ends the enrollment; a customer is never enrolled', async () => {
    const c = await arrive('slowseq');
    const seqFast = await arrive('expo2026');
    await enroll(t.bot.ctx, { corpId: TEST_CORP.corpId, externalUserId: seqFast.externalUserId }, 'fast', 'zhangsan');
    await moveStage(t.bot.ctx, { corpId: TEST_CORP.corpId, externalUserId: seqFast.externalUserId }, 'qualified', { by: 'staff', source: 'test' });
    expect((await until(seqFast.externalUserId, 'stopped')).stopReason).toBe('stage:qualified');
    // `slow` does not stop on qualified...
    await moveStage(t.bot.ctx, { corpId: TEST_CORP.corpId, externalUserId: c.externalUserId }, 'qualified', { by: 'staff', source: 'test' });
    expect((await enrollmentOf(c.externalUserId))?.status).toBe('active');
    // ...but nobody who became a customer gets marketing.
    await moveStage(t.bot.ctx, { corpId: TEST_CORP.corpId, externalUserId: c.externalUserId }, 'customer', { by: 'staff', source: 'test' });
    expect((await until(c.externalUserId, 'stopped')).stopReason).toBe('stage:customer');
    const customer = await arrive('expo2026');
    await moveStage(t.bot.ctx, { corpId: TEST_CORP.corpId, externalUserId: customer.externalUserId }, 'customer', { by: 'staff', source: 'test' });
    expect(await enroll(t.bot.ctx, { corpId: TEST_CORP.corpId, externalUserId: customer.externalUserId }, 'fast', 'zhangsan')).toBeNull();
    expect(await enrollmentOf(customer.externalUserId)).toBeNull();
  });

  it('reply and unsubscribe end enrollments (reply only where stopOn lists it)', async () => {
    const a = await arrive('slowseq');
    // The enrollments looked up for a reply: only of the sequences that stop on one (fast; not slow or five).
    const prefix = `${leadId(TEST_CORP.corpId, a.externalUserId)}|`;
    const looked: string[] = [];
    mongoose.set('debug', (coll: string, _method: string, query: { _id?: unknown }) => {
      if (coll === Enrollment.collection.collectionName && String(query?._id).startsWith(prefix)) looked.push(String(query._id).slice(prefix.length));
    });
    try {
      expect(await stopEnrollments(t.bot.ctx, { corpId: TEST_CORP.corpId, externalUserId: a.externalUserId }, 'reply')).toBe(0); // slow: stopOn [churn]
    } finally {
      mongoose.set('debug', false);
    }
    expect(looked).toEqual(['fast']);
    // Opting out is a stage move: every enrollment ends, whatever its stopOn.
    await moveStage(t.bot.ctx, { corpId: TEST_CORP.corpId, externalUserId: a.externalUserId }, 'unsubscribed', { by: 'system', source: 'test' });
    expect(await Enrollment.countDocuments({ externalUserId: a.externalUserId, status: 'stopped', stopReason: 'unsubscribe' })).toBe(1);
    // Opting out sticks to the lead: no sequence enrolls it again.
    expect((await Lead.findOne({ externalUserId: a.externalUserId }))?.stage).toBe('unsubscribed');
    expect(await enroll(t.bot.ctx, { corpId: TEST_CORP.corpId, externalUserId: a.externalUserId }, 'fast', 'zhangsan')).toBeNull();
    const b = await arrive('nurture');
    expect(await stopEnrollments(t.bot.ctx, { corpId: TEST_CORP.corpId, externalUserId: b.externalUserId }, 'reply')).toBe(1);
  });
});

describe('bulk enrollment', () => {
  it('enrolls eligible leads once, skipping customers and leads already in the sequence', async () => {
    const [fresh, already, customer] = [await arrive('expo2026', '批量甲'), await arrive('expo2026', '批量乙'), await arrive('expo2026', '批量丙')];
    await enroll(t.bot.ctx, { corpId: TEST_CORP.corpId, externalUserId: already.externalUserId }, 'slow', 'zhangsan');
    await moveStage(t.bot.ctx, { corpId: TEST_CORP.corpId, externalUserId: customer.externalUserId }, 'customer', { by: 'staff', source: 'test' });
    const enrollees = [fresh, already, customer].map((c) => ({ corpId: TEST_CORP.corpId, externalUserId: c.externalUserId, ownerUserId: 'zhangsan' }));
    expect(await enrollMany(t.bot.ctx, enrollees, 'slow')).toBe(1);
    expect(await Enrollment.countDocuments({ externalUserId: { $in: enrollees.map((x) => x.externalUserId) }, sequenceKey: 'slow' })).toBe(2);
    await until(fresh.externalUserId, 'completed', 20_000);
    expect(massTo(fresh.externalUserId).map((x) => body(x).text?.content)).toEqual(['第一步', '第二步', '第三步']);
    expect(await enrollMany(t.bot.ctx, enrollees, 'slow')).toBe(0);
  });

  it('reads eligibility in one streaming pass when the input is a large share of all leads, with the same result', async () => {
    const [a, b] = [await arrive('expo2026', '流式甲'), await arrive('expo2026', '流式乙')];
    await moveStage(t.bot.ctx, { corpId: TEST_CORP.corpId, externalUserId: b.externalUserId }, 'unsubscribed', { by: 'staff', source: 'test' });
    const enrollees = [a, b].map((c) => ({ corpId: TEST_CORP.corpId, externalUserId: c.externalUserId, ownerUserId: 'zhangsan' }));
    // batchSize 1 and scanShare 0 force the streaming pass even for two leads.
    expect(await enrollMany(t.bot.ctx, enrollees, 'fast', Date.now(), { batchSize: 1, scanShare: 0 })).toBe(1);
    expect((await enrollmentOf(a.externalUserId))?.sequenceKey).toBe('fast');
    expect(await Enrollment.countDocuments({ externalUserId: b.externalUserId })).toBe(0);
    await stopEnrollments(t.bot.ctx, { corpId: TEST_CORP.corpId, externalUserId: a.externalUserId }, 'unsubscribe');
  });

  it('takes eligibility from enrollees that carry their lead state (a campaign audience), batch after batch', async () => {
    const [a, b, c, d] = [await arrive('expo2026', '受众甲'), await arrive('expo2026', '受众乙'), await arrive('expo2026', '受众丙'), await arrive('expo2026', '受众丁')];
    const audience = [
      { c: a, stage: 'added', unsubscribedAt: null },
      { c: b, stage: 'customer', unsubscribedAt: null },
      { c: c, stage: 'engaged', unsubscribedAt: new Date() },
      { c: d, stage: 'engaged', unsubscribedAt: null },
    ].map(({ c: x, stage, unsubscribedAt }) => ({ corpId: TEST_CORP.corpId, externalUserId: x.externalUserId, ownerUserId: 'zhangsan', stage, unsubscribedAt }));
    // One lead per batch: each batch's insert overlaps the previous batch's job creation.
    expect(await enrollMany(t.bot.ctx, audience, 'slow', Date.now(), { batchSize: 1 })).toBe(2);
    expect(await Enrollment.countDocuments({ externalUserId: { $in: [b.externalUserId, c.externalUserId] }, sequenceKey: 'slow' })).toBe(0);
    // The stored enrollments hold only what has a value; the step runner loads them with their defaults and runs them.
    for (const x of [a, d]) {
      const e = await enrollmentOf(x.externalUserId);
      expect(e && (await t.bot.ctx.queues.get('nurture').getJob(jobIds.nurtureStep(e.id, 0)))).toBeTruthy();
    }
    await until(a.externalUserId, 'completed', 20_000);
    await until(d.externalUserId, 'completed', 20_000);
    expect(massTo(d.externalUserId).map((x) => body(x).text?.content)).toEqual(['第一步', '第二步', '第三步']);
    expect((await enrollmentOf(a.externalUserId))?.history.map((h) => h.outcome)).toEqual(['submitted', 'submitted', 'submitted']);
  });
});

describe('exactly once', () => {
  it('a step is claimed by one runner only: a unique fence for each attempt', async () => {
    // What two runners that both believe they hold the lead (a lock lost to a Redis failover) race on.
    const key = `nurture|race-${Date.now()}|0`;
    for (const n of [1, 2]) {
      const fences = await Promise.all(Array.from({ length: 8 }, () => takeFence({ id: `${key}#${n}`, kind: 'attempt', for: key })));
      expect(fences.filter(Boolean)).toHaveLength(1);
    }
  });

  it('the same step job executed twice and concurrently sends once', async () => {
    const c = await arrive('slowseq');
    const e = (await enrollmentOf(c.externalUserId))!;
    // Two extra copies of step 0's job (other ids, same data) run at once, alongside the real one when it is due.
    await Promise.all([
      t.bot.ctx.queues.get('nurture').add('nurture', { e: e.id, s: 0 }, { jobId: `dup-a-${e.id.replace(/:/g, '_')}` }),
      t.bot.ctx.queues.get('nurture').add('nurture', { e: e.id, s: 0 }, { jobId: `dup-b-${e.id.replace(/:/g, '_')}` }),
    ]);
    await until(c.externalUserId, 'completed', 20_000);
    // And once more after it all finished.
    const late = await t.bot.ctx.queues.get('nurture').add('step', { e: e.id, s: 0 }, { jobId: `dup-c-${e.id.replace(/:/g, '_')}` });
    await waitFor(async () => (await late.getState()) === 'unknown' || (await late.isCompleted()), 'late duplicate processed');
    expect(massTo(c.externalUserId).map((x) => body(x).text?.content)).toEqual(['第一步', '第二步', '第三步']);
  });
});

describe('routes', () => {
  async function leadOnChannelWithoutSequence(name: string) {
    const c = await arrive('expo2026', name);
    return c;
  }

  it('an open 客服 window sends with kf/send_msg, automatically', async () => {
    const c = await leadOnChannelWithoutSequence('客服客户');
    t.sandbox.state.kf.customerMessage('wkSANDBOX', c.externalUserId);
    await Lead.updateOne({ externalUserId: c.externalUserId }, { $set: { kf: { openKfid: 'wkSANDBOX', lastInboundAt: new Date(), sentSinceInbound: 0 } } });
    await enroll(t.bot.ctx, { corpId: TEST_CORP.corpId, externalUserId: c.externalUserId }, 'slow', 'zhangsan');
    await until(c.externalUserId, 'completed', 20_000);
    const kf = t.sandbox.state.kf.sent.filter((m) => m.touser === c.externalUserId);
    expect(kf.map((m) => m.content)).toEqual(['第一步', '第二步', '第三步']);
    expect(massTo(c.externalUserId)).toHaveLength(0);
    // Outcomes are recorded by the records queue, moments after the steps.
    await waitFor(async () => (await Lead.findOne({ externalUserId: c.externalUserId }))?.kf?.sentSinceInbound === 3, 'the window shows 3 messages used');
    const d = await waitFor(async () => {
      const all = await Delivery.find({ externalUserId: c.externalUserId, kind: 'nurture' }).sort({ step: 1 }).lean();
      return all.length === 3 ? all : null;
    }, 'three deliveries recorded');
    expect(d.map((x) => [x.via, x.status])).toEqual([['kf', 'sent'], ['kf', 'sent'], ['kf', 'sent']]);
  });

  it('a 客服 window WeCom says is closed (95002) falls back to a mass message', async () => {
    const c = await leadOnChannelWithoutSequence('窗口已关');
    await Lead.updateOne({ externalUserId: c.externalUserId }, { $set: { kf: { openKfid: 'wkSANDBOX', lastInboundAt: new Date(), sentSinceInbound: 0 } } });
    await enroll(t.bot.ctx, { corpId: TEST_CORP.corpId, externalUserId: c.externalUserId }, 'slow', 'zhangsan');
    await waitFor(() => massTo(c.externalUserId).length === 1, 'fell back to mass', 10_000);
    expect(t.sandbox.state.callsTo('kf/send_msg').some((x) => x.errcode === 95002)).toBe(true);
    await stopEnrollments(t.bot.ctx, { corpId: TEST_CORP.corpId, externalUserId: c.externalUserId }, 'unsubscribe');
  });

  it('a mass message is followed up: confirmed → sent; WeCom status 3 → capped', async () => {
    const sent = await leadOnChannelWithoutSequence('确认者');
    await enroll(t.bot.ctx, { corpId: TEST_CORP.corpId, externalUserId: sent.externalUserId }, 'slow', 'zhangsan');
    const d = await waitFor(() => Delivery.findOne({ externalUserId: sent.externalUserId, status: 'submitted' }), 'submitted', 10_000);
    t.sandbox.state.mass.confirm(d.msgid!, 'zhangsan');
    await waitFor(async () => (await Delivery.findOne({ key: d.key }))?.status === 'sent', 'result polled: sent', 10_000);

    // Another customer already got this month's 4 corp mass messages (from elsewhere): ours is skipped by WeCom.
    const full = await leadOnChannelWithoutSequence('已满额');
    for (let i = 0; i < 4; i++) {
      const { msgid } = await t.bot.ctx.wecom.addMsgTemplate({ chat_type: 'single', external_userid: [full.externalUserId], sender: 'zhangsan', text: { content: `其他群发 ${i}` } });
      t.sandbox.state.mass.confirm(msgid, 'zhangsan');
    }
    await enroll(t.bot.ctx, { corpId: TEST_CORP.corpId, externalUserId: full.externalUserId }, 'slow', 'zhangsan');
    const capped = await waitFor(() => Delivery.findOne({ externalUserId: full.externalUserId, status: 'submitted' }), 'submitted', 10_000);
    t.sandbox.state.mass.confirm(capped.msgid!, 'zhangsan');
    await waitFor(async () => (await Delivery.findOne({ key: capped.key }))?.status === 'capped', 'result polled: capped', 10_000);
    // Knowing the quota is gone, the next step reminds the owner instead.
    await waitFor(() => t.sandbox.state.okCallsTo('message/send').some((x) => body(x).text?.content.includes(full.externalUserId)), 'owner reminded', 10_000);
    expect((await timelineOf(TEST_CORP.corpId, full.externalUserId)).map((x) => x.type)).toContain('mass_capped');
    await stopEnrollments(t.bot.ctx, { corpId: TEST_CORP.corpId, externalUserId: sent.externalUserId }, 'unsubscribe');
    await stopEnrollments(t.bot.ctx, { corpId: TEST_CORP.corpId, externalUserId: full.externalUserId }, 'unsubscribe');
  });

  it('a permanent WeCom error fails that step only, recorded; retryable ones back off and succeed', async () => {
    const c = await leadOnChannelWithoutSequence('错误码');
    t.sandbox.state.inject({ api: 'externalcontact/add_msg_template', errcode: 40096 });
    await enroll(t.bot.ctx, { corpId: TEST_CORP.corpId, externalUserId: c.externalUserId }, 'slow', 'zhangsan');
    await waitFor(() => massTo(c.externalUserId).length === 1, 'second step sent', 10_000);
    t.sandbox.state.inject({ api: 'externalcontact/add_msg_template', errcode: 45009 });
    const e = await until(c.externalUserId, 'completed', 20_000);
    expect(e.history.map((h) => h.outcome)).toEqual(['failed', 'submitted', 'submitted']);
    expect(e.history[0]?.detail).toMatchObject({ errcode: 40096 });
    expect(massTo(c.externalUserId).map((x) => body(x).text?.content)).toEqual(['第二步', '第三步']);
    const first = await Delivery.findOne({ externalUserId: c.externalUserId, step: 0 }).lean();
    expect([first?.status, first?.errcode]).toEqual(['failed', 40096]);
  });

  it('never confirmed by the owner → unconfirmed after the last poll', async () => {
    const c = await leadOnChannelWithoutSequence('未确认');
    await enroll(t.bot.ctx, { corpId: TEST_CORP.corpId, externalUserId: c.externalUserId }, 'slow', 'zhangsan');
    const d = await waitFor(() => Delivery.findOne({ externalUserId: c.externalUserId, step: 0 }), 'claimed', 10_000);
    await waitFor(async () => (await Delivery.findOne({ key: d.key }))?.status === 'unconfirmed', 'unconfirmed', 15_000);
    await stopEnrollments(t.bot.ctx, { corpId: TEST_CORP.corpId, externalUserId: c.externalUserId }, 'unsubscribe');
  });
});
