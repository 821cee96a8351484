import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Delivery } from '../../src/store/models/delivery.js';
import { Lead } from '../../src/store/models/lead.js';
import { CorpTag } from '../../src/store/models/corp-tag.js';
import { Enrollment } from '../../src/store/models/enrollment.js';
import { stopEnrollments } from '../../src/domain/nurture/stop.js';
import { timelineOf } from '../../src/store/timeline.js';
import { buildContactEventXml } from '../../src/sandbox/index.js';
import { startTestBot, TEST_CORP, type TestBot } from '../helpers/test-bot.js';
import { waitFor } from '../helpers/wait-for.js';
import { touchesOf } from '../../src/store/touch-log.js';

let t: TestBot;
beforeAll(async () => {
  t = await startTestBot('inbound');
});
afterAll(async () => {
  await t?.stop();
});
beforeEach(() => t.sandbox.state.reset());

const lead = (externalUserId: string) => Lead.findOne({ corpId: TEST_CORP.corpId, externalUserId }).lean();
const steps = async (externalUserId: string) => (await timelineOf(TEST_CORP.corpId, externalUserId)).map((e) => e.type);
const welcomesTo = (externalUserId: string) => t.sandbox.state.welcome.sent.filter((w) => w.externalUserId === externalUserId);
const markTagsFor = (externalUserId: string) =>
  t.sandbox.state.okCallsTo('externalcontact/mark_tag').filter((c) => (c.body as { external_userid: string }).external_userid === externalUserId);

describe('a customer scans a channel QR code', () => {
  it('is stored as a lead of that channel, tagged, and welcomed inside the 20 s window', async () => {
    const c = t.newContact({ state: 'expo2026', userId: 'zhangsan', name: '王经理' });
    const started = Date.now();
    const res = await t.post(c.xml);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');

    const welcome = await waitFor(() => welcomesTo(c.externalUserId)[0], 'welcome sent');
    expect(welcome.at - started).toBeLessThan(20_000);
    expect(welcome.welcomeCode).toBe(c.welcomeCode);
    expect(welcome.text).toBe('王经理您好，感谢在2026 工业展与我们交流！');
    expect(welcome.attachments).toEqual([
      { msgtype: 'link', link: { title: '案例集', url: 'https://example.com/cases', desc: '同行怎么做', picurl: 'https://example.com/c.png' } },
    ]);

    const saved = await waitFor(async () => {
      const l = await lead(c.externalUserId);
      return l?.profileSyncedAt && l.tags.length === 2 ? l : null;
    }, 'lead tagged and profiled');
    expect(saved.firstTouch?.channelKey).toBe('expo2026');
    expect(saved.owners.map((o) => [o.userId, o.status, o.channelKey])).toEqual([['zhangsan', 'active', 'expo2026']]);
    expect(saved.name).toBe('王经理');
    expect(saved.industry).toBe('制造业');
    expect(saved.stage).toBe('added');

    // The channel's tags were created in WeCom (group 渠道 for the bare string) and marked by id.
    const tags = t.sandbox.state.tags.tagsOf('zhangsan', c.externalUserId);
    expect(tags.map((x) => `${x.group_name}/${x.tag_name}`).sort()).toEqual(['渠道/2026工业展', '行业/制造业']);
    expect(markTagsFor(c.externalUserId)).toHaveLength(1);
    // One profile lookup per new contact: the welcome's name lookup is reused by the contact-sync job.
    expect(t.sandbox.state.callsTo('externalcontact/get').filter((x) => x.query.external_userid === c.externalUserId)).toHaveLength(1);

    const delivery = await Delivery.findOne({ externalUserId: c.externalUserId }).lean();
    expect(delivery?.status).toBe('sent');
    await waitFor(async () => (await steps(c.externalUserId)).includes('profile_synced'), 'timeline complete');
    expect(await steps(c.externalUserId)).toEqual(expect.arrayContaining(['added', 'welcome_sent', 'tags_marked', 'profile_synced']));
  });

  it('handles the same callback delivered 3 times in sequence exactly once', async () => {
    const c = t.newContact({ state: 'expo2026' });
    for (let i = 0; i < 3; i++) expect((await t.post(c.xml)).status).toBe(200);
    await waitFor(async () => (await steps(c.externalUserId)).includes('profile_synced'), 'processed');
    await new Promise((r) => setTimeout(r, 300)); // give any wrongly duplicated job the chance to show itself
    expect(await Lead.countDocuments({ externalUserId: c.externalUserId })).toBe(1);
    expect(welcomesTo(c.externalUserId)).toHaveLength(1);
    expect(t.sandbox.state.callsTo('externalcontact/send_welcome_msg')).toHaveLength(1);
    expect(markTagsFor(c.externalUserId)).toHaveLength(1);
    expect(touchesOf((await lead(c.externalUserId))!)).toHaveLength(1);
  });

  it('handles the same callback delivered 3 times concurrently exactly once', async () => {
    const c = t.newContact({ state: 'expo2026' });
    const answers = await Promise.all([t.post(c.xml), t.post(c.xml), t.post(c.xml)]);
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200]);
    await waitFor(async () => (await steps(c.externalUserId)).includes('profile_synced'), 'processed');
    await new Promise((r) => setTimeout(r, 300));
    expect(await Lead.countDocuments({ externalUserId: c.externalUserId })).toBe(1);
    expect(t.sandbox.state.callsTo('externalcontact/send_welcome_msg')).toHaveLength(1);
    expect(markTagsFor(c.externalUserId)).toHaveLength(1);
  });

  it('re-resolves a channel tag whose cached id WeCom no longer knows (40068) and marks it', async () => {
    const channelTags = t.bot.ctx.channels.get('expo2026')!.tags;
    await t.bot.ctx.tags.resolve(channelTags);
    // An admin deleted and recreated the tags: our cache still holds ids that are gone.
    await t.bot.ctx.tags.forget(channelTags);
    await CorpTag.insertMany(channelTags.map((x, i) => ({ group: x.group, name: x.name, tagId: `etGONE${i}`, groupId: 'etGONEGROUP' })));
    const c = t.newContact({ state: 'expo2026' });
    await t.post(c.xml);
    await waitFor(async () => (await steps(c.externalUserId)).includes('tags_marked'), 'tags marked', 15_000);
    expect(t.sandbox.state.callsTo('externalcontact/mark_tag').some((x) => x.errcode === 40068)).toBe(true);
    expect(t.sandbox.state.tags.tagsOf('zhangsan', c.externalUserId).map((x) => x.tag_name).sort()).toEqual(['2026工业展', '制造业']);
  });

  it('keeps two different contacts with the same CreateTime apart', async () => {
    const createTime = Math.floor(Date.now() / 1000);
    const a = t.newContact({ state: 'expo2026', createTime, name: '甲' });
    const b = t.newContact({ state: 'expo2026', createTime, name: '乙' });
    await Promise.all([t.post(a.xml), t.post(b.xml)]);
    await waitFor(async () => welcomesTo(a.externalUserId).length && welcomesTo(b.externalUserId).length, 'both welcomed');
    await waitFor(async () => (await lead(a.externalUserId)) && (await lead(b.externalUserId)), 'both leads stored');
    expect(await Lead.countDocuments({ externalUserId: { $in: [a.externalUserId, b.externalUserId] } })).toBe(2);
    expect(welcomesTo(a.externalUserId)[0]?.text).toContain('甲');
    expect(welcomesTo(b.externalUserId)[0]?.text).toContain('乙');
  });

  it('attributes unknown and missing State to the organic channel', async () => {
    const unknown = t.newContact({ state: 'no-such-channel' });
    const none = t.newContact({});
    await Promise.all([t.post(unknown.xml), t.post(none.xml)]);
    for (const c of [unknown, none]) {
      const l = await waitFor(() => lead(c.externalUserId), 'lead stored');
      expect(l.firstTouch?.channelKey).toBe('organic');
      // organic has no welcome in the fixture templates: nothing is sent, the skip is recorded.
      await waitFor(async () => (await steps(c.externalUserId)).includes('welcome_skipped'), 'skip recorded');
    }
    expect(t.sandbox.state.callsTo('externalcontact/send_welcome_msg')).toHaveLength(0);
  });

  it('a lead who adds a second member is one lead with two owners and two touches', async () => {
    const c = t.newContact({ state: 'expo2026', userId: 'zhangsan' });
    await t.post(c.xml);
    await waitFor(() => lead(c.externalUserId), 'first add stored');
    const second = buildContactEventXml({
      toUserName: TEST_CORP.corpId,
      createTime: Math.floor(Date.now() / 1000) + 1,
      changeType: 'add_external_contact',
      userId: 'lisi',
      externalUserId: c.externalUserId,
      state: 'notext',
    });
    expect((await t.post(second)).status).toBe(200);
    const l = await waitFor(async () => {
      const x = await lead(c.externalUserId);
      return x?.owners.length === 2 ? x : null;
    }, 'second owner');
    expect(l.firstTouch?.channelKey).toBe('expo2026');
    expect(touchesOf(l).map((x) => x.channelKey)).toEqual(['expo2026', 'notext']);
    expect(await Lead.countDocuments({ externalUserId: c.externalUserId })).toBe(1);
  });
});

describe('concurrent changes to one lead', () => {
  it('keeps every owner and touch when many members are added at once', async () => {
    const c = t.newContact({ state: 'expo2026', userId: 'zhangsan' });
    const base = Math.floor(Date.now() / 1000);
    const members = Array.from({ length: 12 }, (_, i) => `member${i}`);
    const answers = await Promise.all([
      t.post(c.xml),
      ...members.map((userId, i) =>
        t.post(buildContactEventXml({ toUserName: TEST_CORP.corpId, createTime: base + i, changeType: 'add_external_contact', userId, externalUserId: c.externalUserId, state: 'notext' })),
      ),
    ]);
    expect(answers.every((r) => r.status === 200)).toBe(true);
    const l = await waitFor(async () => {
      const x = await lead(c.externalUserId);
      return x?.owners.length === members.length + 1 && x.profileSyncedAt ? x : null;
    }, 'every owner recorded');
    expect(touchesOf(l)).toHaveLength(members.length + 1);
    expect(new Set(l.owners.map((o) => o.userId))).toEqual(new Set(['zhangsan', ...members]));
    expect(await Lead.countDocuments({ externalUserId: c.externalUserId })).toBe(1);
  });
});

describe('welcome rules', () => {
  /** The welcome's recorded outcome (written once, after WeCom answered). */
  const welcomeOutcome = (externalUserId: string, timeoutMs?: number) =>
    waitFor(() => Delivery.findOne({ externalUserId, kind: 'welcome' }).lean(), 'welcome outcome recorded', timeoutMs);
  /** A welcome job for `c` as the ingest would create it, with the given clock. */
  const queueWelcome = (c: { externalUserId: string; welcomeCode: string }, eventKey: string, receivedAt: number, deadline: number) =>
    t.bot.ctx.queues.get('welcome').add('welcome', {
      corpId: TEST_CORP.corpId,
      externalUserId: c.externalUserId,
      userId: 'zhangsan',
      channelKey: 'expo2026',
      welcomeCode: c.welcomeCode,
      dedupeKey: eventKey,
      receivedAt,
      deadline,
    });

  it('skips the welcome when the event has no WelcomeCode', async () => {
    const c = t.newContact({ state: 'expo2026' });
    const xml = c.xml.replace(/<WelcomeCode>.*<\/WelcomeCode>/, '');
    expect(xml).not.toContain('WelcomeCode');
    await t.post(xml);
    await waitFor(async () => (await steps(c.externalUserId)).includes('welcome_skipped'), 'skip recorded');
    expect(t.sandbox.state.callsTo('externalcontact/send_welcome_msg')).toHaveLength(0);
  });

  it('stops at once on 41051 (chat already started)', async () => {
    t.sandbox.state.inject({ api: 'externalcontact/send_welcome_msg', errcode: 41051 });
    const c = t.newContact({ state: 'expo2026' });
    await t.post(c.xml);
    const d = await welcomeOutcome(c.externalUserId);
    expect(d.status).toBe('skipped');
    expect(d.reason).toBe('chat_already_started');
    expect(t.sandbox.state.callsTo('externalcontact/send_welcome_msg')).toHaveLength(1);
  });

  it('a 41051 after an attempt WeCom clearly refused is "chat already started", not "sent"', async () => {
    t.sandbox.state.inject({ api: 'externalcontact/send_welcome_msg', errcode: -1 });
    t.sandbox.state.inject({ api: 'externalcontact/send_welcome_msg', errcode: 41051 });
    const c = t.newContact({ state: 'expo2026' });
    await t.post(c.xml);
    const d = await welcomeOutcome(c.externalUserId);
    expect([d.status, d.reason]).toEqual(['skipped', 'chat_already_started']);
    expect(t.sandbox.state.callsTo('externalcontact/send_welcome_msg').map((x) => x.errcode)).toEqual([-1, 41051]);
  });

  it('a 41051 after a timed-out attempt means that attempt got through: recorded as sent', async () => {
    // WeCom accepts the welcome but answers after our 5 s call timeout... shortened here by holding the answer.
    t.sandbox.state.inject({ api: 'externalcontact/send_welcome_msg', delayAfterMs: 6_000 });
    const c = t.newContact({ state: 'expo2026' });
    await t.post(c.xml);
    const d = await welcomeOutcome(c.externalUserId, 20_000);
    expect(d.status).toBe('sent');
    expect(welcomesTo(c.externalUserId)).toHaveLength(1);
    expect(t.sandbox.state.callsTo('externalcontact/send_welcome_msg').map((x) => x.errcode)).toEqual([0, 41051]);
  });

  it('retries briefly on 41096 (another app delivering) and then sends', async () => {
    t.sandbox.state.inject({ api: 'externalcontact/send_welcome_msg', errcode: 41096, times: 2 });
    const c = t.newContact({ state: 'expo2026' });
    await t.post(c.xml);
    await waitFor(() => welcomesTo(c.externalUserId)[0], 'welcome sent after retries');
    expect(t.sandbox.state.callsTo('externalcontact/send_welcome_msg').map((x) => x.errcode)).toEqual([41096, 41096, 0]);
  });

  it('records a welcome that could not be sent in time instead of sending it late', async () => {
    // WeCom keeps answering "system busy": the retries run out of window and nothing goes out late.
    t.sandbox.state.inject({ api: 'externalcontact/send_welcome_msg', errcode: -1, times: Infinity });
    const c = t.newContact({ state: 'expo2026' });
    const started = Date.now();
    await t.post(c.xml);
    const d = await welcomeOutcome(c.externalUserId, 30_000);
    expect(d.status).toBe('expired');
    const calls = t.sandbox.state.callsTo('externalcontact/send_welcome_msg');
    expect(calls.length).toBeGreaterThan(1);
    expect(Math.max(...calls.map((x) => x.at)) - started).toBeLessThan(20_000);
    await waitFor(async () => (await steps(c.externalUserId)).includes('welcome_expired'), 'the expiry on the timeline');
    t.sandbox.state.reset();
  });

  it('records a welcome whose last call got no answer inside the window as unknown, not expired', async () => {
    // WeCom holds every answer past our call timeout: it may have delivered the welcome, so "expired" would be a guess.
    t.sandbox.state.inject({ api: 'externalcontact/send_welcome_msg', delayMs: 6_000, times: Infinity });
    const c = t.newContact({ state: 'expo2026' });
    await queueWelcome(c, `short-${c.externalUserId}`, Date.now(), Date.now() + 3_000);
    const d = await welcomeOutcome(c.externalUserId, 15_000);
    expect(d).toMatchObject({ status: 'unknown', attempts: 1 });
    await waitFor(async () => (await steps(c.externalUserId)).includes('welcome_unknown'), 'the unknown outcome on the timeline');
    t.sandbox.state.reset();
  });

  it('does not send once the window has passed (a late job)', async () => {
    const c = t.newContact({ state: 'expo2026' });
    await queueWelcome(c, `late-${c.externalUserId}`, Date.now() - 25_000, Date.now() - 6_000);
    await waitFor(async () => (await steps(c.externalUserId)).includes('welcome_expired'), 'expiry recorded');
    expect(t.sandbox.state.callsTo('externalcontact/send_welcome_msg')).toHaveLength(0);
  });

  // WeCom's clock (CreateTime, the signed timestamp) a minute off ours: the code still lives 20 s from its event.
  for (const [label, offsetSeconds] of [['a minute behind ours', -60], ['a minute ahead of ours', 60]] as const) {
    it(`welcomes a new contact when WeCom's clock is ${label}`, async () => {
      const wecomNow = Math.floor(Date.now() / 1000) + offsetSeconds;
      const c = t.newContact({ state: 'expo2026', createTime: wecomNow });
      expect((await t.post(c.xml, { timestamp: wecomNow })).status).toBe(200);
      const d = await welcomeOutcome(c.externalUserId);
      expect([d.status, d.reason]).toEqual(['sent', null]);
      expect(welcomesTo(c.externalUserId)).toHaveLength(1);
    });
  }
});

describe('other contact events', () => {
  async function arrived() {
    const c = t.newContact({ state: 'expo2026', userId: 'zhangsan' });
    await t.post(c.xml);
    await waitFor(async () => (await steps(c.externalUserId)).includes('profile_synced'), 'lead ready');
    return c;
  }
  const event = (changeType: string, externalUserId: string, extra: Record<string, string> = {}) =>
    buildContactEventXml({
      toUserName: TEST_CORP.corpId,
      createTime: Math.floor(Date.now() / 1000) + 5,
      changeType: changeType as 'del_follow_user',
      userId: 'zhangsan',
      externalUserId,
      ...extra,
    });

  it('del_follow_user marks the lead lost and keeps its history', async () => {
    const c = await arrived();
    expect((await t.post(event('del_follow_user', c.externalUserId))).status).toBe(200);
    const l = await waitFor(async () => {
      const x = await lead(c.externalUserId);
      return x?.stage === 'lost' ? x : null;
    }, 'lead lost');
    expect(l.owners[0]?.status).toBe('left');
    expect(l.lostAt).toBeTruthy();
    // The churn goes on the timeline right after the lead is saved.
    await waitFor(async () => (await steps(c.externalUserId)).includes('churned'), 'churn on the timeline');
    expect(await steps(c.externalUserId)).toEqual(expect.arrayContaining(['added', 'welcome_sent', 'churned']));
  });

  it('del_external_contact records the owner removing the customer', async () => {
    const c = await arrived();
    await t.post(event('del_external_contact', c.externalUserId, { source: 'DELETE_BY_TRANSFER' }));
    const l = await waitFor(async () => {
      const x = await lead(c.externalUserId);
      return x?.owners[0]?.status === 'removed' ? x : null;
    }, 'owner removed');
    expect(l.stage).toBe('added');
    const entry = await waitFor(async () => (await timelineOf(TEST_CORP.corpId, c.externalUserId)).find((e) => e.type === 'removed_by_owner'), 'recorded');
    expect(entry?.detail).toMatchObject({ owner: 'zhangsan', source: 'DELETE_BY_TRANSFER' });
  });

  it('a succession whose takeover add comes after the deletion: the lead\'s sequence moves to the takeover member, not stopped', async () => {
    const c = t.newContact({ state: 'slowseq', userId: 'zhangsan' });
    await t.post(c.xml);
    const enrolled = await waitFor(() => Enrollment.findOne({ externalUserId: c.externalUserId, status: 'active' }).lean(), 'enrolled');
    expect(enrolled.ownerUserId).toBe('zhangsan');
    // WeCom hands the customer over: the deletion for zhangsan is handled first, lisi's add a moment later.
    t.sandbox.state.contacts.addCustomer({ externalUserId: c.externalUserId, userId: 'lisi', name: '王经理' });
    await t.post(event('del_external_contact', c.externalUserId, { source: 'DELETE_BY_TRANSFER' }));
    await new Promise((r) => setTimeout(r, 300));
    await t.post(buildContactEventXml({ toUserName: TEST_CORP.corpId, createTime: Math.floor(Date.now() / 1000) + 6, changeType: 'add_external_contact', userId: 'lisi', externalUserId: c.externalUserId }));
    await waitFor(async () => (await lead(c.externalUserId))?.owners.find((o) => o.userId === 'zhangsan')?.status === 'removed', 'handover member removed', 20_000);
    // Its sequence moves on, or (before this change) stopped for want of an owner.
    const after = await waitFor(async () => {
      const x = await Enrollment.findById(enrolled._id).lean();
      return x && (x.ownerUserId !== 'zhangsan' || x.status !== 'active') ? x : null;
    }, 'the enrollment moved or ended');
    expect({ status: after?.status, owner: after?.ownerUserId, reason: after?.stopReason }).toEqual({ status: 'active', owner: 'lisi', reason: null });
  });

  it('a second owner\'s churn handled before their add: retried until the add is in, so the owner ends up left', async () => {
    const c = await arrived();
    t.sandbox.state.contacts.addCustomer({ externalUserId: c.externalUserId, userId: 'lisi', name: '王经理' });
    await t.post(event('del_follow_user', c.externalUserId, { userId: 'lisi' }));
    await new Promise((r) => setTimeout(r, 300));
    await t.post(buildContactEventXml({ toUserName: TEST_CORP.corpId, createTime: Math.floor(Date.now() / 1000) - 5, changeType: 'add_external_contact', userId: 'lisi', externalUserId: c.externalUserId }));
    await waitFor(async () => (await lead(c.externalUserId))?.owners.find((o) => o.userId === 'lisi')?.status === 'left', 'lisi left', 20_000);
    expect((await lead(c.externalUserId))?.owners.find((o) => o.userId === 'zhangsan')?.status).toBe('active');
  });

  it('edit_external_contact refreshes tags and industry from WeCom', async () => {
    const c = await arrived();
    // The member re-tags the customer in the client: industry becomes 零售.
    const { tag_group } = await t.bot.ctx.wecom.addCorpTag({ group_name: '行业', tag: [{ name: '零售' }] });
    const manufacturing = t.sandbox.state.tags.tagsOf('zhangsan', c.externalUserId).find((x) => x.tag_name === '制造业');
    await t.bot.ctx.wecom.markTag({
      userid: 'zhangsan',
      external_userid: c.externalUserId,
      add_tag: [tag_group.tag[0]!.id],
      remove_tag: [manufacturing!.tag_id!],
    });
    await t.post(event('edit_external_contact', c.externalUserId));
    const l = await waitFor(async () => {
      const x = await lead(c.externalUserId);
      return x?.industry === '零售' ? x : null;
    }, 'industry refreshed');
    expect(l.tags.map((x) => x.name).sort()).toEqual(['2026工业展', '零售']);
  });

  it('a churn handled before its add (out of order) still ends as lost, with the enrollment stopped', async () => {
    const c = t.newContact({ state: 'slowseq', userId: 'zhangsan' });
    const addTime = Number(/<CreateTime>(\d+)<\/CreateTime>/.exec(c.xml)![1]);
    const churn = buildContactEventXml({ toUserName: TEST_CORP.corpId, createTime: addTime + 3, changeType: 'del_follow_user', userId: 'zhangsan', externalUserId: c.externalUserId });
    expect((await t.post(churn)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 100));
    expect((await t.post(c.xml)).status).toBe(200);
    const l = await waitFor(async () => {
      const x = await lead(c.externalUserId);
      return x?.stage === 'lost' ? x : null;
    }, 'lost after both events', 15_000);
    expect(l.owners.map((o) => o.status)).toEqual(['left']);
    const e = await waitFor(() => Enrollment.findOne({ externalUserId: c.externalUserId, status: 'stopped' }), 'enrollment stopped');
    expect(e.stopReason).toBe('churn');
  });

  it('an add older than the churn (a late retry) does not bring the owner back', async () => {
    const c = await arrived();
    const base = Math.floor(Date.now() / 1000);
    await t.post(event('del_follow_user', c.externalUserId));
    await waitFor(async () => (await lead(c.externalUserId))?.stage === 'lost', 'lost');
    const lateAdd = buildContactEventXml({ toUserName: TEST_CORP.corpId, createTime: base + 2, changeType: 'add_external_contact', userId: 'zhangsan', externalUserId: c.externalUserId, state: 'expo2026' });
    await t.post(lateAdd);
    await waitFor(async () => touchesOf((await lead(c.externalUserId)) ?? {}).length === 2, 'late add recorded as a touch');
    const l = await lead(c.externalUserId);
    expect([l?.stage, l?.owners[0]?.status]).toEqual(['lost', 'left']);
  });

  it('when one of two owners is deleted, the enrollment is handed to the other', async () => {
    const c = t.newContact({ state: 'slowseq', userId: 'zhangsan' });
    await t.post(c.xml);
    await waitFor(() => Enrollment.findOne({ externalUserId: c.externalUserId }), 'enrolled');
    const second = buildContactEventXml({ toUserName: TEST_CORP.corpId, createTime: Math.floor(Date.now() / 1000), changeType: 'add_external_contact', userId: 'lisi', externalUserId: c.externalUserId, state: 'notext' });
    await t.post(second);
    await waitFor(async () => (await lead(c.externalUserId))?.owners.length === 2, 'two owners');
    await t.post(event('del_follow_user', c.externalUserId));
    const e = await waitFor(async () => {
      const x = await Enrollment.findOne({ externalUserId: c.externalUserId });
      return x?.ownerUserId === 'lisi' ? x : null;
    }, 'enrollment handed over');
    expect(e.status).toBe('active');
    expect((await lead(c.externalUserId))?.stage).toBe('added');
    await stopEnrollments(t.bot.ctx, { corpId: TEST_CORP.corpId, externalUserId: c.externalUserId }, 'unsubscribe');
  });

  it('transfer_fail is recorded', async () => {
    const c = await arrived();
    await t.post(event('transfer_fail', c.externalUserId, { failReason: 'customer_refused' }));
    await waitFor(async () => (await steps(c.externalUserId)).includes('transfer_failed'), 'recorded');
  });
});
