import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { enroll } from '../../src/domain/nurture/enroll.js';
import { Delivery } from '../../src/store/models/delivery.js';
import { Enrollment } from '../../src/store/models/enrollment.js';
import { KfHandled } from '../../src/store/models/kf.js';
import { Lead } from '../../src/store/models/lead.js';
import { timelineOf } from '../../src/store/timeline.js';
import { buildKfEventXml } from '../../src/sandbox/index.js';
import { startTestBot, TEST_CORP, type TestBot } from '../helpers/test-bot.js';
import { waitFor } from '../helpers/wait-for.js';
import { touchesOf } from '../../src/store/touch-log.js';

// 微信客服 conversations through the HTTP receiver: the sandbox plays customers and servicers and POSTs encrypted
// kf_msg_or_event callbacks as WeCom does; the bot pulls kf/sync_msg, answers, hands off, and keeps its records.
const KF = 'wkSANDBOXKF01';
let t: TestBot;
beforeAll(async () => {
  t = await startTestBot('kf', {
    env: { SERVICE_HOURS: 'Mon-Sun 00:00-24:00', WECOM_OPS_WEBHOOK_KEY: 'ops-webhook-key-1', NURTURE_DAILY_CAP: '0', KF_REPLIES_PER_MINUTE: '3' },
    sandbox: { kfAccounts: [{ openKfid: KF, name: '官方客服', servicers: ['zhangsan', 'lisi'] }], members: ['zhangsan', 'lisi', 'wangwu'] },
  });
  t.sandbox.state.callback = { url: `${t.url}/wecom/callback`, token: TEST_CORP.token, encodingAesKey: TEST_CORP.encodingAesKey };
});
afterAll(async () => t?.stop());
beforeEach(() => t.sandbox.state.reset());

let n = 0;
const customer = () => `wmKF${Date.now().toString(36)}${(n++).toString(36).padStart(4, '0')}`;
const kf = () => t.sandbox.state.kf;
const sentTo = (ext: string) => kf().sent.filter((m) => m.touser === ext);
const say = async (ext: string, text: string, opts: { menuId?: string } = {}) => {
  const r = await kf().customerSays(KF, ext, text, { nickname: '刘女士', ...opts });
  expect(r.status).toBe(200);
  return r.msgid;
};
const handled = (msgid: string) => waitFor(async () => (await KfHandled.findById(`${KF}|${msgid}`).lean())?.at, `message ${msgid} handled`, 15_000);
const lead = (ext: string) => Lead.findOne({ externalUserId: ext }).lean();
/** Asks for a person; the servicer the session went to. */
const handedTo = async (ext: string) => {
  await handled(await say(ext, '转人工'));
  return (await waitFor(() => kf().transfers.find((x) => x.externalUserId === ext && x.to === 3), 'handed off')).servicer;
};
/** A contact of lisi's (through channel expo2026, whose owner is zhangsan), with its lead. */
const contactOfLisi = async (name: string) => {
  const c = t.newContact({ state: 'expo2026', userId: 'lisi', name });
  expect((await t.post(c.xml)).status).toBe(200);
  await waitFor(() => lead(c.externalUserId), 'contact lead');
  return c.externalUserId;
};
const steps = async (ext: string) => (await timelineOf(TEST_CORP.corpId, ext)).map((e) => e.type);
const settle = () => new Promise((r) => setTimeout(r, 400));
/** A contact of channel expo2026 who wrote to the 客服 account and got the bot's reply (its window open). */
const contactWhoWrote = async (name: string) => {
  const c = t.newContact({ state: 'expo2026', name });
  expect((await t.post(c.xml)).status).toBe(200);
  await waitFor(() => lead(c.externalUserId), 'lead');
  await handled(await say(c.externalUserId, '谢谢'));
  await waitFor(() => sentTo(c.externalUserId).length === 1, 'the reply');
  return c;
};
/** Enrolls the lead in sequence `five` (five steps a moment apart) and waits until it has run them all. */
const runFive = async (ext: string) => {
  await enroll(t.bot.ctx, { corpId: TEST_CORP.corpId, externalUserId: ext }, 'five', 'zhangsan');
  await waitFor(async () => (await Enrollment.findOne({ externalUserId: ext, sequenceKey: 'five' }).lean())?.status === 'completed', 'sequence done', 30_000);
};

describe('intents', () => {
  it('a pricing question ("你好，请问报价多少？" is not small talk): one reply with the case study, stage qualified, the owner and the ops group told', async () => {
    // A customer who is already a contact of zhangsan writes to 客服: the same external_userid, the same lead.
    const c = t.newContact({ state: 'expo2026', name: '刘女士' });
    expect((await t.post(c.xml)).status).toBe(200);
    const gradeBefore = (await waitFor(() => lead(c.externalUserId), 'contact lead'))!.grade;
    const msgid = await say(c.externalUserId, '你好，请问报价多少？');
    await handled(msgid);
    await waitFor(() => sentTo(c.externalUserId).length === 1, 'reply sent');
    const reply = sentTo(c.externalUserId)[0]!;
    expect(reply.msgtype).toBe('text');
    expect(reply.content).toContain('报价');
    // The case study is folded into the one message, its link tracked.
    expect(reply.content).toMatch(/甲厂|乙厂|200 家客户/);
    expect(reply.content).toMatch(/\/r\/[\w-]+/);
    expect(reply.msgid).toMatch(/^[0-9a-zA-Z_-]{1,32}$/);
    const l = await waitFor(async () => ((await lead(c.externalUserId))?.stage === 'qualified' ? lead(c.externalUserId) : null), 'qualified');
    expect(touchesOf(l!).map((x) => x.kind)).toEqual(expect.arrayContaining(['add', 'kf_conversation', 'intent']));
    expect(l!.kf?.openKfid).toBe(KF);
    const told = await waitFor(() => t.sandbox.state.appMessages.sent.find((m) => m.touser.includes('zhangsan') && m.content?.includes('报价')), 'owner told');
    await waitFor(() => t.sandbox.state.webhook.sent.some((m) => JSON.stringify(m).includes('客户意向')), 'ops group told');
    // The notice gives the lead as the question left it: its grade after this message's touches.
    expect(l!.grade).not.toBe(gradeBefore);
    expect(told.content).toContain(`${l!.grade} 级`);
    const moved = (await timelineOf(TEST_CORP.corpId, c.externalUserId)).find((e) => e.type === 'stage_changed' && e.detail.to === 'qualified');
    expect(moved?.detail).toMatchObject({ by: 'system', source: 'intent' });
    expect(await Delivery.findOne({ externalUserId: c.externalUserId, kind: 'kf_reply' }).lean()).toBeTruthy();
    // Asked again the same day: answered again, and staff are not told twice.
    await handled(await say(c.externalUserId, '价格怎么算？'));
    await waitFor(() => sentTo(c.externalUserId).length === 2, 'second reply');
    await new Promise((r) => setTimeout(r, 1000));
    const name = l!.name ?? c.externalUserId;
    expect(t.sandbox.state.appMessages.sent.filter((m) => m.content?.includes(`【客户意向】客户「${name}」`))).toHaveLength(1);
    expect(t.sandbox.state.webhook.sent.filter((m) => JSON.stringify(m).includes(`客户「${name}」`))).toHaveLength(1);
  });

  it('a pricing question asked again when no case study is left for the lead: the answer without its lead-in to the case study, not a line left dangling', async () => {
    // A new 客服 customer (industry unknown) fits one case study (general-a); each goes to a lead once (its fence).
    const ext = customer();
    await handled(await say(ext, '报价多少？'));
    await waitFor(() => sentTo(ext).length === 1, 'first reply');
    expect(sentTo(ext)[0]!.content).toMatch(/^刘女士您好，我们会根据您的规模和需求给出报价，顾问稍后会联系您。也可以先看看同行怎么做：\n.*200 家客户.*\/r\/[\w-]+$/s);
    await handled(await say(ext, '报价多少？'));
    await waitFor(() => sentTo(ext).length === 2, 'second reply');
    expect(sentTo(ext)[1]!.content).toBe('刘女士您好，我们会根据您的规模和需求给出报价，顾问稍后会联系您。');
    const replies = await Delivery.find({ externalUserId: ext, kind: 'kf_reply' }).sort({ createdAt: 1 }).lean();
    expect(replies.map((d) => d.caseSlug)).toEqual(['general-a', null]);
  });

  it("the news of a new 客服 customer's rise to A gives the score its pricing question left, the move to qualified included (75, not 55)", async () => {
    const ext = customer();
    const nickname = `询价客户${n}`;
    await kf().customerEnters(KF, ext, { nickname });
    await waitFor(() => lead(ext), 'lead');
    const r = await kf().customerSays(KF, ext, '报价多少？', { nickname });
    await handled(r.msgid);
    // 客服 conversation 10 + reply 10 + intent 30 + engaged 5 = 55 (A) when the touches are saved; qualified +20 = 75.
    const l = await waitFor(async () => ((await lead(ext))?.stage === 'qualified' ? lead(ext) : null), 'qualified');
    expect(l).toMatchObject({ score: 75, grade: 'A' });
    const alert = await waitFor(() => t.sandbox.state.webhook.sent.find((m) => m.content?.includes(`**${nickname}** 升为 **A** 级`)), 'the A alert');
    expect(alert.content).toContain('（得分 75）');
    expect(alert.content).toMatch(/主要加分：意向 \+30、阶段 合格 \+20、/);
  });

  it('a stage is never moved backwards: a qualified lead that says hello stays qualified', async () => {
    const ext = customer();
    await handled(await say(ext, 'demo please'));
    await waitFor(async () => (await lead(ext))?.stage === 'qualified', 'qualified');
    await handled(await say(ext, '你好'));
    await waitFor(() => sentTo(ext).length === 2, 'two replies');
    expect(sentTo(ext)[1]!.msgtype).toBe('msgmenu');
    expect((await lead(ext))?.stage).toBe('qualified');
  });

  it('unsubscribe: one confirmation, every enrollment ends; a later message does not re-subscribe; 订阅 does', async () => {
    const c = t.newContact({ state: 'slowseq', name: '退订者' });
    expect((await t.post(c.xml)).status).toBe(200);
    await waitFor(() => Enrollment.findOne({ externalUserId: c.externalUserId, status: 'active' }), 'enrolled');
    await handled(await say(c.externalUserId, 'ＴＤ'));
    const l = await waitFor(async () => ((await lead(c.externalUserId))?.stage === 'unsubscribed' ? lead(c.externalUserId) : null), 'unsubscribed');
    expect(l!.unsubscribedAt).toBeTruthy();
    await waitFor(async () => (await Enrollment.findOne({ externalUserId: c.externalUserId }).lean())?.status === 'stopped', 'enrollment ended');
    expect(sentTo(c.externalUserId).map((m) => m.content)).toEqual([expect.stringContaining('退订')]);
    // The timeline tells it in the order it happened, though the message and its move share a second. An opt-out is
    // no engagement: the lead goes from added to unsubscribed, and its score gains nothing from the message.
    const told = (await timelineOf(TEST_CORP.corpId, c.externalUserId)).filter((e) => ['added', 'kf_message', 'stage_changed'].includes(e.type));
    expect(told.map((e) => (e.type === 'stage_changed' ? e.detail.to : e.type))).toEqual(['added', 'kf_message', 'unsubscribed']);
    expect(l!.scoreReasons.map((r) => r.reason).join(' ')).not.toMatch(/reply|客服|engaged/);
    // Again: nothing more is sent (one confirmation per opt-out).
    await handled(await say(c.externalUserId, '退订'));
    // A question is still answered (service, not marketing), and changes nothing.
    await handled(await say(c.externalUserId, '可以私有化部署吗'));
    await settle();
    expect(sentTo(c.externalUserId)).toHaveLength(2);
    expect((await lead(c.externalUserId))?.stage).toBe('unsubscribed');
    await handled(await say(c.externalUserId, '订阅'));
    await waitFor(async () => (await lead(c.externalUserId))?.stage === 'engaged' || (await lead(c.externalUserId))?.stage === 'added', 'subscribed again');
    expect((await lead(c.externalUserId))?.unsubscribedAt).toBeNull();
  });

  it('an FAQ: text and link folded into one text message, the link tracked', async () => {
    const ext = customer();
    await handled(await say(ext, '支持本地部署吗？'));
    await waitFor(() => sentTo(ext).length === 1, 'reply');
    expect(sentTo(ext)[0]!.msgtype).toBe('text');
    expect(sentTo(ext)[0]!.content).toMatch(/^支持公有云和私有化部署两种方式.*\n部署说明：http:\/\/127\.0\.0\.1:\d+\/r\/[\w-]+$/s);
    expect(kf().transfers.filter((x) => x.externalUserId === ext)).toHaveLength(0);
    expect((await lead(ext))?.kf?.clock).toBeNull();
  });

  it('a menu click names its intent (menu_id)', async () => {
    const ext = customer();
    await handled(await say(ext, '获取报价', { menuId: 'qualify' }));
    await waitFor(async () => (await lead(ext))?.stage === 'qualified', 'qualified by the click');
  });
});

describe('hand-off', () => {
  it('转人工: the customer is told, then the session goes to a servicer on duty; while a person serves the bot is silent; the reply stops the clock', async () => {
    const ext = customer();
    await handled(await say(ext, '转人工'));
    await waitFor(() => kf().transfers.some((x) => x.externalUserId === ext && x.to === 3), 'transferred');
    const tr = kf().transfers.find((x) => x.externalUserId === ext)!;
    expect(['zhangsan', 'lisi']).toContain(tr.servicer);
    expect(sentTo(ext).map((m) => m.content)).toEqual([expect.stringContaining('人工')]);
    // The told-first order matters: after the hand-off the API may not send (state 3).
    expect(sentTo(ext)[0]!.at).toBeLessThanOrEqual(tr.at);
    const l = await waitFor(async () => ((await lead(ext))?.kf?.state === 3 ? lead(ext) : null), 'a person serves');
    expect(l!.kf?.servicer).toBe(tr.servicer);
    expect(l!.kf?.clock?.msgid).toBeTruthy();
    await handled(await say(ext, '人呢？'));
    await settle();
    expect(sentTo(ext)).toHaveLength(1);
    expect(t.sandbox.state.callsTo('kf/send_msg').filter((c) => (c.body as { touser?: string }).touser === ext)).toHaveLength(1);
    await kf().servicerSays(KF, ext, tr.servicer!, '您好，我是人工客服');
    await waitFor(async () => (await lead(ext))?.kf?.clock === null, 'clock stopped');
    await waitFor(async () => (await steps(ext)).includes('kf_servicer_replied'), 'the reply on the timeline');
  });

  it('退订 while a person serves: the bot stays silent but the lead opts out (and 订阅 undoes it)', async () => {
    const c = t.newContact({ state: 'slowseq', name: '人工退订' });
    expect((await t.post(c.xml)).status).toBe(200);
    await waitFor(() => Enrollment.findOne({ externalUserId: c.externalUserId, status: 'active' }), 'enrolled');
    const ext = c.externalUserId;
    await handled(await say(ext, '转人工'));
    await waitFor(async () => (await lead(ext))?.kf?.state === 3, 'a person serves');
    const before = sentTo(ext).length;
    await handled(await say(ext, '不要再发了'));
    await waitFor(async () => (await lead(ext))?.stage === 'unsubscribed', 'unsubscribed');
    await waitFor(async () => (await Enrollment.findOne({ externalUserId: ext }).lean())?.status === 'stopped', 'enrollment ended');
    await handled(await say(ext, '订阅'));
    await waitFor(async () => (await lead(ext))?.stage !== 'unsubscribed', 'subscribed again');
    await settle();
    expect(sentTo(ext)).toHaveLength(before);
  });

  it('95018 after a hand-off the bot did not see: nothing sent, silence from then on, the clock runs', async () => {
    const ext = customer();
    await handled(await say(ext, '你好'));
    await waitFor(() => sentTo(ext).length === 1, 'first reply');
    // A servicer took the session in the client; its event has not reached the bot.
    kf().session(KF, ext)!.state = 3;
    kf().session(KF, ext)!.servicer = 'lisi';
    await handled(await say(ext, '谢谢'));
    await waitFor(() => t.sandbox.state.callsTo('kf/send_msg').some((c) => c.errcode === 95018), '95018');
    const l = await waitFor(async () => ((await lead(ext))?.kf?.state === 3 ? lead(ext) : null), 'silent from now on');
    expect(l!.kf?.clock).toBeTruthy();
    await waitFor(async () => (await Delivery.findOne({ externalUserId: ext, status: 'failed', reason: 'person_serves' }).lean()) !== null, 'delivery failed: a person serves');
    await handled(await say(ext, '还在吗'));
    await settle();
    expect(t.sandbox.state.callsTo('kf/send_msg').filter((c) => (c.body as { touser?: string }).touser === ext)).toHaveLength(2);
  });

  it('anything unmatched inside service hours: the fallback reply, then a person', async () => {
    const ext = customer();
    await handled(await say(ext, '我们的设备型号比较老，能对接吗'));
    await waitFor(() => kf().transfers.some((x) => x.externalUserId === ext && x.to === 3), 'handed off');
    expect(sentTo(ext)[0]!.content).toContain('人工客服');
  });

  it("who takes the session: the lead's owner when a servicer on duty, else the servicers on duty in turn; one WeCom refuses (95014) is skipped", async () => {
    // Two of lisi's contacts in a row both go to lisi, though the turn moves on between them.
    expect(await handedTo(await contactOfLisi('李的客户一'))).toBe('lisi');
    expect(await handedTo(await contactOfLisi('李的客户二'))).toBe('lisi');
    // The owner off duty: the next servicer on duty.
    kf().setServicerStatus(KF, 'lisi', 1);
    try {
      expect(await handedTo(await contactOfLisi('李的客户三'))).toBe('zhangsan');
    } finally {
      kf().setServicerStatus(KF, 'lisi', 0);
    }
    // Customers with no owner: the servicers on duty take them in turn.
    const [a, b] = [await handedTo(customer()), await handedTo(customer())];
    expect(new Set([a, b])).toEqual(new Set(['zhangsan', 'lisi']));
    // A servicer listed on duty whom WeCom refuses (not activated, or just stopped: 95014): the next one takes it.
    t.sandbox.state.inject({ api: 'kf/service_state/trans', errcode: 95014 });
    const ext = customer();
    const took = await handedTo(ext);
    const tries = t.sandbox.state.callsTo('kf/service_state/trans').filter((c) => (c.body as { external_userid?: string }).external_userid === ext);
    expect(tries.map((c) => c.errcode)).toEqual([95014, 0]);
    const refused = (tries[0]!.body as { servicer_userid?: string }).servicer_userid;
    expect(took).not.toBe(refused);
    const l = await waitFor(async () => ((await lead(ext))?.kf?.state === 3 ? lead(ext) : null), 'a person serves');
    expect(l!.kf?.servicer).toBe(took);
  });

  it("a lead whose own owner is off duty goes to the servicers on duty in turn, not to its channel's owner every time", async () => {
    kf().setServicerStatus(KF, 'wangwu', 0);
    kf().setServicerStatus(KF, 'lisi', 1);
    try {
      const took = [await handedTo(await contactOfLisi('李的客户四')), await handedTo(await contactOfLisi('李的客户五'))];
      expect(new Set(took)).toEqual(new Set(['zhangsan', 'wangwu']));
    } finally {
      kf().setServicerStatus(KF, 'lisi', 0);
      kf().setServicerStatus(KF, 'wangwu', 1);
    }
  });

  it('no servicer on duty: the queue (state 2)', async () => {
    kf().setServicerStatus(KF, 'zhangsan', 1);
    kf().setServicerStatus(KF, 'lisi', 1);
    try {
      const ext = customer();
      await handled(await say(ext, 'agent please'));
      await waitFor(() => kf().transfers.some((x) => x.externalUserId === ext && x.to === 2), 'queued');
      await waitFor(async () => (await lead(ext))?.kf?.state === 2, 'queued on the lead');
    } finally {
      kf().setServicerStatus(KF, 'zhangsan', 0);
      kf().setServicerStatus(KF, 'lisi', 0);
    }
  });
});

describe('the window, the cap and nurture', () => {
  it('at most 3 replies per customer per minute; the message left unanswered waits for a person, on the service clock', async () => {
    const ext = customer();
    for (const text of ['你好', '在吗', '谢谢']) await handled(await say(ext, text));
    expect((await lead(ext))?.kf?.clock ?? null).toBeNull();
    const capped = await say(ext, '可以私有化部署吗');
    await handled(capped);
    await settle();
    expect(sentTo(ext)).toHaveLength(3);
    await waitFor(async () => (await Delivery.countDocuments({ externalUserId: ext, status: 'skipped', reason: 'rate_capped' })) === 1, 'one capped');
    expect((await lead(ext))?.kf?.clock?.msgid).toBe(capped);
  });

  it('a customer message ends the enrollments whose sequence lists stopOn: reply (and only those)', async () => {
    const c = t.newContact({ state: 'nurture', name: '回复者' });
    expect((await t.post(c.xml)).status).toBe(200);
    const fast = await waitFor(() => Enrollment.findOne({ externalUserId: c.externalUserId, sequenceKey: 'fast' }).lean(), 'enrolled in fast');
    await enroll(t.bot.ctx, { corpId: TEST_CORP.corpId, externalUserId: c.externalUserId }, 'slow', 'zhangsan');
    await handled(await say(c.externalUserId, '收到'));
    await waitFor(async () => (await Enrollment.findById(fast._id).lean())?.stopReason === 'reply', 'fast stopped by the reply');
    expect((await Enrollment.findOne({ externalUserId: c.externalUserId, sequenceKey: 'slow' }).lean())?.status).not.toBe('stopped');
    await waitFor(async () => (await lead(c.externalUserId))?.kf?.lastInboundAt, 'the 客服 window is open on the lead');
  });

  it('5 messages per 48 h window, shared by replies and nurture: the sixth goes another way, and WeCom never says 95001', async () => {
    const c = await contactWhoWrote('窗口客户');
    // Five nurture steps while the window is open: four fit, the fifth falls back to a mass message.
    await runFive(c.externalUserId);
    expect(sentTo(c.externalUserId)).toHaveLength(5);
    expect(t.sandbox.state.callsTo('kf/send_msg').some((x) => x.errcode === 95001)).toBe(false);
    expect(t.sandbox.state.okCallsTo('externalcontact/add_msg_template').some((x) => JSON.stringify(x.body).includes(c.externalUserId))).toBe(true);
  });
});

describe('events', () => {
  it('enter_session through a channel\'s kf link: a lead of that channel, and its kf welcome once, within the code\'s 20 s', async () => {
    const ext = customer();
    const { welcomeCode, status } = await kf().customerEnters(KF, ext, { scene: 'kfad', nickname: '广告客户' });
    expect(status).toBe(200);
    expect(welcomeCode).toBeTruthy();
    await waitFor(() => sentTo(ext).length === 1, 'welcome sent');
    expect(sentTo(ext)[0]).toMatchObject({ via: 'welcome', msgtype: 'msgmenu' });
    const l = await waitFor(() => lead(ext), 'lead');
    expect(l.firstTouch?.channelKey).toBe('kfad');
    expect(l.name).toBe('广告客户');
    // The same callback again, and another one for the account: nothing is sent twice.
    await kf().postCallback(KF);
    await settle();
    expect(sentTo(ext)).toHaveLength(1);
    expect(t.sandbox.state.callsTo('kf/send_msg_on_event')).toHaveLength(1);
    // Entering, then writing: one conversation (counted once for the grade), the message a reply within it.
    await handled(await say(ext, '你好'));
    const kinds = touchesOf((await lead(ext))!).map((x) => x.kind);
    expect(kinds.filter((k) => k === 'kf_conversation')).toHaveLength(1);
    expect(kinds).toContain('reply');
  });

  it("a new customer's channel: the link's scene from kf/customer/batchget when the bot saw no enter_session, and a scene_param naming a channel", async () => {
    // Entered by kfad's link before the bot read the account (the event is behind its cursor); WeCom still keeps the
    // session's context (48 h).
    const first = customer();
    kf().customers.set(first, { nickname: '老访客', scene: 'kfad', sceneParam: '', enteredAt: Date.now() });
    await handled(await say(first, '谢谢'));
    expect(await lead(first)).toMatchObject({ name: '老访客', firstTouch: { channelKey: 'kfad' } });
    expect(t.sandbox.state.callsTo('kf/customer/batchget').map((c) => c.body)).toContainEqual({ external_userid_list: [first], need_enter_session_context: 1 });
    // A link made by hand with scene_param = a channel key (the link's scene is no channel's).
    const second = customer();
    await kf().customerEnters(KF, second, { scene: 'poster', sceneParam: 'expo2026' });
    const l = await waitFor(() => lead(second), 'lead');
    expect(l.firstTouch?.channelKey).toBe('expo2026');
    expect((await timelineOf(TEST_CORP.corpId, second)).find((e) => e.type === 'kf_entered')?.detail).toMatchObject({ scene: 'poster', sceneParam: 'expo2026', channel: 'expo2026' });
  });

  it('msg_send_fail marks the delivery failed with its reason', async () => {
    const ext = customer();
    await handled(await say(ext, '谢谢'));
    await waitFor(() => sentTo(ext).length === 1, 'reply');
    const msgid = sentTo(ext)[0]!.msgid;
    await waitFor(() => Delivery.findOne({ msgid }).lean(), 'recorded');
    await kf().failLater(msgid, 10);
    await waitFor(async () => (await Delivery.findOne({ msgid }).lean())?.status === 'failed', 'failed');
    expect((await Delivery.findOne({ msgid }).lean())?.reason).toBe('rejected_by_customer');
    await waitFor(async () => (await steps(ext)).includes('kf_send_failed'), 'the failure on the timeline');
  });

  it('msg_send_fail over the 5 (fail_type 6) spends the window it was sent in, not one the customer opened since', async () => {
    const failed = async (ext: string, msgid: string) => {
      await waitFor(() => Delivery.findOne({ msgid }).lean(), 'recorded');
      await kf().failLater(msgid, 6);
      await waitFor(async () => (await Delivery.findOne({ msgid }).lean())?.status === 'failed', 'failed');
      expect((await Delivery.findOne({ msgid }).lean())?.reason).toBe('over_5_messages');
    };
    // In the customer's latest window: nurture goes another way for the rest of it.
    const spent = await contactWhoWrote('窗口已满');
    await failed(spent.externalUserId, sentTo(spent.externalUserId)[0]!.msgid);
    // In an earlier window: the customer wrote again (and was answered) before the failure came. A moment later: a
    // message's send_time is in whole seconds.
    const again = await contactWhoWrote('再次来信');
    const old = sentTo(again.externalUserId)[0]!.msgid;
    await new Promise((r) => setTimeout(r, 1100));
    await handled(await say(again.externalUserId, '在吗'));
    await waitFor(() => sentTo(again.externalUserId).length === 2, 'the second reply');
    await failed(again.externalUserId, old);
    await Promise.all([runFive(spent.externalUserId), runFive(again.externalUserId)]);
    expect(sentTo(spent.externalUserId)).toHaveLength(1);
    // The new window's 5: its reply and four of the five steps.
    expect(sentTo(again.externalUserId)).toHaveLength(6);
    const massTo = (ext: string) => t.sandbox.state.okCallsTo('externalcontact/add_msg_template').filter((x) => JSON.stringify(x.body).includes(ext)).length;
    expect([massTo(spent.externalUserId), massTo(again.externalUserId)]).toEqual([5, 1]);
  });

  it('session_status_change from the client is recorded; a session a servicer ended is the bot\'s again at the next message', async () => {
    const ext = customer();
    await handled(await say(ext, '报价'));
    await waitFor(() => sentTo(ext).length === 1, 'reply');
    kf().session(KF, ext)!.state = 2;
    await kf().servicerPicks(KF, ext, 'lisi');
    await waitFor(async () => (await lead(ext))?.kf?.servicer === 'lisi', 'picked by lisi');
    await kf().servicerEnds(KF, ext);
    await waitFor(async () => (await lead(ext))?.kf?.state === 4, 'ended');
    await handled(await say(ext, '谢谢'));
    await waitFor(() => sentTo(ext).length === 2, 'the bot answers again');
  });

  it('a session a servicer ended takes no API sends: nurture goes by mass message until the customer writes again', async () => {
    const c = await contactWhoWrote('结束会话');
    kf().session(KF, c.externalUserId)!.state = 2;
    await kf().servicerPicks(KF, c.externalUserId, 'lisi');
    await kf().servicerEnds(KF, c.externalUserId);
    await waitFor(async () => (await lead(c.externalUserId))?.kf?.state === 4, 'ended');
    await runFive(c.externalUserId);
    const tried = t.sandbox.state.callsTo('kf/send_msg').filter((x) => (x.body as { touser?: string }).touser === c.externalUserId);
    expect(tried).toHaveLength(1);
    expect(t.sandbox.state.okCallsTo('externalcontact/add_msg_template').some((x) => JSON.stringify(x.body).includes(c.externalUserId))).toBe(true);
  });
});

describe('duplicates', () => {
  it('duplicate and concurrent callbacks: every message answered once', async () => {
    const ext = customer();
    const ids: string[] = [];
    // Three messages, then the callbacks: one retried twice (same Token), and five distinct ones at once.
    for (const text of ['你好', '谢谢', 'hello']) ids.push((await kf().customerSays(KF, ext, text, { post: false })).msgid);
    const token = 'ENCduplicatetoken0001';
    // A callback WeCom retries: the same XML (same Token) twice.
    (kf() as unknown as { tokens: Map<string, { openKfid: string; expiresAt: number }> }).tokens.set(token, { openKfid: KF, expiresAt: Date.now() + 600_000 });
    const xml = buildKfEventXml({ toUserName: TEST_CORP.corpId, createTime: Math.floor(Date.now() / 1000), token, openKfid: KF });
    const statuses = await Promise.all([t.post(xml), t.post(xml), ...Array.from({ length: 5 }, () => kf().postCallback(KF).then((s) => ({ status: s })))]);
    expect(statuses.map((s) => s.status)).toEqual(Array(7).fill(200));
    for (const id of ids) await handled(id);
    await settle();
    expect(sentTo(ext)).toHaveLength(3);
    expect(new Set(sentTo(ext).map((m) => m.msgid)).size).toBe(3);
  });

  it('an empty page with has_more 1 is not the end: the sync goes on and the message is answered', async () => {
    const ext = customer();
    kf().injectEmptyPages(KF, 2);
    await handled(await say(ext, '谢谢'));
    await waitFor(() => sentTo(ext).length === 1, 'answered');
    const pages = t.sandbox.state.callsTo('kf/sync_msg').map((c) => c.body as { cursor?: string });
    expect(pages.length).toBeGreaterThanOrEqual(3);
  });

  it('a token WeCom refuses (95007, e.g. past its 10 min) is dropped and the page asked for without one', async () => {
    const ext = customer();
    const { msgid } = await kf().customerSays(KF, ext, '谢谢', { post: false });
    const xml = buildKfEventXml({ toUserName: TEST_CORP.corpId, createTime: Math.floor(Date.now() / 1000), token: 'ENCneverissuedorexpired', openKfid: KF });
    expect((await t.post(xml)).status).toBe(200);
    await handled(msgid);
    await waitFor(() => sentTo(ext).length === 1, 'answered');
    const calls = t.sandbox.state.callsTo('kf/sync_msg').map((c) => [c.errcode, (c.body as { token?: string }).token ?? null]);
    expect(calls).toContainEqual([95007, 'ENCneverissuedorexpired']);
    expect(calls).toContainEqual([0, null]);
  });
});
