import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Lead } from '../../src/store/models/lead.js';
import { timelineOf } from '../../src/store/timeline.js';
import { jobIds } from '../../src/queues/job-ids.js';
import { TEST_CORP } from '../fixtures/test-corp.js';
import { wecomXml } from '../fixtures/wecom/index.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { touchesOf } from '../../src/store/touch-log.js';
import { ChannelRecord } from '../../src/store/models/channel-record.js';
import { Enrollment } from '../../src/store/models/enrollment.js';
import { rememberEarlyEnd } from '../../src/domain/leads/ownership.js';

// Each 客户联系 handler run alone on its documented payload [D:92130], on the real stores, nothing else running.
let h: Harness;
beforeAll(async () => {
  h = await startHarness('contact-handlers');
});
afterAll(async () => h?.stop());

let seq = 0;
const now = () => Math.floor(Date.now() / 1000);
/** A fixture for a fresh customer of the test corp (the documented sample's ids would collide across tests). */
const payload = (name: string, o: Record<string, string | number | null> = {}) =>
  wecomXml(`contact/${name}`, { ToUserName: TEST_CORP.corpId, ExternalUserID: `wm_fixture_${Date.now()}_${seq}`, CreateTime: now(), ...o });
const steps = async (ext: string) => (await timelineOf(TEST_CORP.corpId, ext)).map((e) => e.type);

beforeEach(() => {
  seq++;
});

describe('contact handlers on WeCom payloads', () => {
  it('add_external_contact: the lead, its channel, owner and last interaction, the timeline entry, and contact sync scheduled', async () => {
    const ext = `wm_add_${seq}`;
    const { dedupeKey } = await h.handle(payload('add_external_contact', { ExternalUserID: ext, State: 'notext', WelcomeCode: null }));
    const lead = await Lead.findOne({ externalUserId: ext }).lean();
    expect(lead?.firstTouch?.channelKey).toBe('notext');
    expect(lead?.owners.map((o) => [o.userId, o.status])).toEqual([['zhangsan', 'active']]);
    expect(lead?.lastInteraction?.userId).toBe('zhangsan');
    expect(await steps(ext)).toEqual(['added', 'welcome_skipped']);
    const sync = await h.ctx.queues.get('contact-sync').getJob(jobIds.contactSync(dedupeKey));
    expect(sync?.data).toMatchObject({ externalUserId: ext, userId: 'zhangsan', channelKey: 'notext' });
  });

  it('add_external_contact with the documented state "teststate" (no such channel) lands on organic', async () => {
    const ext = `wm_organic_${seq}`;
    await h.handle(payload('add_external_contact', { ExternalUserID: ext }));
    expect((await Lead.findOne({ externalUserId: ext }).lean())?.firstTouch?.channelKey).toBe('organic');
  });

  it('add_external_contact names the lead at once from the profile the welcome just read', async () => {
    const ext = `wm_named_${seq}`;
    await h.ctx.redis.set(h.ctx.keys.profileCache(TEST_CORP.corpId, ext), JSON.stringify({ errcode: 0, errmsg: 'ok', external_contact: { external_userid: ext, name: '王经理', corp_name: '甲厂' }, follow_user: [] }), 'EX', 60);
    await h.handle(payload('add_external_contact', { ExternalUserID: ext, State: 'notext', WelcomeCode: null }));
    const lead = await Lead.findOne({ externalUserId: ext }).lean();
    expect([lead?.name, lead?.corpName]).toEqual(['王经理', '甲厂']);
  });

  it('add_half_external_contact records a pending owner', async () => {
    const ext = `wm_half_${seq}`;
    await h.handle(payload('add_half_external_contact', { ExternalUserID: ext, State: 'notext' }));
    expect((await Lead.findOne({ externalUserId: ext }).lean())?.owners[0]?.pending).toBe(true);
    expect(await steps(ext)).toContain('added_half');
  });

  it('del_follow_user: the last owner gone makes the lead lost, through the stage function, with what moved it', async () => {
    const ext = `wm_churn_${seq}`;
    await h.handle(payload('add_external_contact', { ExternalUserID: ext, State: 'notext', WelcomeCode: null, CreateTime: now() - 10 }));
    await h.handle(payload('del_follow_user', { ExternalUserID: ext }));
    const lead = await Lead.findOne({ externalUserId: ext }).lean();
    expect(lead?.stage).toBe('lost');
    expect(lead?.owners[0]?.status).toBe('left');
    const moved = (await timelineOf(TEST_CORP.corpId, ext)).find((e) => e.type === 'stage_changed');
    expect(moved?.detail).toMatchObject({ from: 'added', to: 'lost', by: 'system', source: 'churn' });
    expect(await steps(ext)).toContain('churned');
  });

  it('del_external_contact (DELETE_BY_TRANSFER) removes the owner; an unknown lead is retried first, then recorded', async () => {
    const ext = `wm_del_${seq}`;
    const xml = payload('del_external_contact', { ExternalUserID: ext });
    await expect(h.handle(xml, { attempt: 0 })).rejects.toThrow(/not known yet/);
    await h.handle(xml, { attempt: 2 });
    expect((await timelineOf(TEST_CORP.corpId, ext)).find((e) => e.type === 'removed_by_owner')?.detail).toMatchObject({ owner: 'zhangsan', source: 'DELETE_BY_TRANSFER' });
  });

  it('a deletion handled before its add (after its retries) ends the owner when the add comes; a newer add starts again', async () => {
    const ext = `wm_early_${seq}`;
    const ext2 = `wm_early_removed_${seq}`;
    const t0 = now();
    // The customer deleted the member; the add's callback comes after the deletion has given up waiting for it.
    const churn = payload('del_follow_user', { ExternalUserID: ext, CreateTime: t0 });
    await expect(h.handle(churn, { attempt: 0 })).rejects.toThrow(/not known yet/);
    await h.handle(churn, { attempt: 2 });
    await h.handle(payload('add_external_contact', { ExternalUserID: ext, State: 'nurture', WelcomeCode: null, CreateTime: t0 - 5 }));
    let lead = await Lead.findOne({ externalUserId: ext }).lean();
    expect(lead?.owners.map((o) => [o.userId, o.status])).toEqual([['zhangsan', 'left']]);
    expect(lead?.stage).toBe('lost');
    expect(await Enrollment.countDocuments({ externalUserId: ext, status: 'active' })).toBe(0);
    // The member deleted the customer: the same, as removed.
    await h.handle(payload('del_external_contact', { ExternalUserID: ext2, CreateTime: t0 }), { attempt: 2 });
    await h.handle(payload('add_external_contact', { ExternalUserID: ext2, State: 'notext', WelcomeCode: null, CreateTime: t0 - 5 }));
    expect((await Lead.findOne({ externalUserId: ext2 }).lean())?.owners.map((o) => [o.userId, o.status])).toEqual([['zhangsan', 'removed']]);
    // The customer adds the member again later: active again, back in the funnel.
    await h.handle(payload('add_external_contact', { ExternalUserID: ext, State: 'nurture', WelcomeCode: null, CreateTime: t0 + 5 }));
    lead = await Lead.findOne({ externalUserId: ext }).lean();
    expect(lead?.owners.map((o) => [o.userId, o.status])).toEqual([['zhangsan', 'active']]);
    expect(lead?.stage).not.toBe('lost');
  });

  it('a deletion kept for its add is spent by a newer add (the relationship began again), and tried again once kept', async () => {
    const ext = `wm_early_again_${seq}`;
    const t0 = now();
    await h.handle(payload('del_follow_user', { ExternalUserID: ext, CreateTime: t0 - 20 }), { attempt: 2 });
    // The customer adds the member again after the deletion (the first add never came): active, and nothing kept.
    await h.handle(payload('add_external_contact', { ExternalUserID: ext, State: 'notext', WelcomeCode: null, CreateTime: t0 }));
    expect((await Lead.findOne({ externalUserId: ext }).lean())?.owners.map((o) => [o.userId, o.status])).toEqual([['zhangsan', 'active']]);
    expect(await h.ctx.redis.exists(h.ctx.keys.earlyOwnershipEnd(TEST_CORP.corpId, ext, 'zhangsan'))).toBe(0);
    // The first add, late, older than the deletion: the owner stays active.
    await h.handle(payload('add_external_contact', { ExternalUserID: ext, State: 'notext', WelcomeCode: null, CreateTime: t0 - 30 }));
    expect((await Lead.findOne({ externalUserId: ext }).lean())?.owners.map((o) => [o.userId, o.status])).toEqual([['zhangsan', 'active']]);
    // An add handled between a deletion's last try and its keeping: the keeping tries once more, ends it, keeps nothing.
    const end = { userId: 'zhangsan', externalUserId: ext, at: new Date((t0 + 5) * 1000), status: 'removed' as const, dedupeKey: `early-again-${seq}` };
    expect((await rememberEarlyEnd(h.ctx, end))?.owners.map((o) => [o.userId, o.status])).toEqual([['zhangsan', 'removed']]);
    expect(await h.ctx.redis.exists(h.ctx.keys.earlyOwnershipEnd(TEST_CORP.corpId, ext, 'zhangsan'))).toBe(0);
  });

  it('two deletions of one relationship kept at once: the newer is kept, whichever is written last', async () => {
    const ext = `wm_early_both_${seq}`;
    const t0 = now();
    const key = h.ctx.keys.earlyOwnershipEnd(TEST_CORP.corpId, ext, 'zhangsan');
    // A Redis slow to answer reads: both deletions look before either writes.
    const slow = new Proxy(h.ctx.redis, {
      get(target, p) {
        const v = Reflect.get(target, p, target) as unknown;
        if (p !== 'get') return typeof v === 'function' ? v.bind(target) : v;
        return async (k: string) => {
          const r = await target.get(k);
          await new Promise((ok) => setTimeout(ok, 50));
          return r;
        };
      },
    });
    const ctx = { ...h.ctx, redis: slow };
    const end = (at: number, status: 'left' | 'removed') => ({ userId: 'zhangsan', externalUserId: ext, at: new Date(at * 1000), status, dedupeKey: `early-both-${status}-${seq}` });
    await Promise.all([rememberEarlyEnd(ctx, end(t0, 'removed')), rememberEarlyEnd(ctx, end(t0 - 3, 'left'))]);
    expect(JSON.parse((await h.ctx.redis.get(key))!)).toMatchObject({ at: t0 * 1000, status: 'removed' });
    await h.handle(payload('add_external_contact', { ExternalUserID: ext, State: 'notext', WelcomeCode: null, CreateTime: t0 - 10 }));
    expect((await Lead.findOne({ externalUserId: ext }).lean())?.owners.map((o) => [o.userId, o.status])).toEqual([['zhangsan', 'removed']]);
  });

  it('edit_external_contact: the member becomes the last who interacted, and a profile sync is scheduled', async () => {
    const ext = `wm_edit_${seq}`;
    await h.handle(payload('add_external_contact', { ExternalUserID: ext, State: 'notext', WelcomeCode: null, CreateTime: now() - 10 }));
    const { dedupeKey } = await h.handle(payload('edit_external_contact', { ExternalUserID: ext, UserID: 'lisi' }));
    expect((await Lead.findOne({ externalUserId: ext }).lean())?.lastInteraction?.userId).toBe('lisi');
    expect((await h.ctx.queues.get('contact-sync').getJob(jobIds.contactSync(dedupeKey)))?.data.channelKey).toBeNull();
  });

  it('transfer_fail records the takeover member and the reason', async () => {
    const ext = `wm_transfer_${seq}`;
    await h.handle(payload('transfer_fail', { ExternalUserID: ext, UserID: 'lisi' }));
    expect((await timelineOf(TEST_CORP.corpId, ext)).find((e) => e.type === 'transfer_failed')?.detail).toEqual({ takeover: 'lisi', reason: 'customer_refused' });
  });

  it('a handler run twice for one event records everything once (dedupe key as the idempotency root)', async () => {
    const ext = `wm_twice_${seq}`;
    const xml = payload('add_external_contact', { ExternalUserID: ext, State: 'notext', WelcomeCode: null });
    await h.handle(xml);
    await h.handle(xml, { attempt: 1 });
    const lead = await Lead.findOne({ externalUserId: ext }).lean();
    expect(touchesOf(lead!)).toHaveLength(1);
    expect((await steps(ext)).filter((s) => s === 'added')).toHaveLength(1);
  });

  it('contact-sync marks the tag of a channel another process created, though this process has not met its state yet', async () => {
    // 渠道 new ran elsewhere, and the add was ingested and handled by other workers: only the stored record is here.
    await ChannelRecord.create({ key: `salon${seq}`, name: `沙龙${seq}`, configId: `cfg-${seq}`, userIds: ['zhangsan'], source: 'command', createdBy: 'zhangsan' });
    const { externalUserId } = h.sandbox.state.contacts.addCustomer({ name: '沙龙客户', userId: 'zhangsan', state: `salon${seq}` });
    const before = h.sandbox.state.okCallsTo('externalcontact/mark_tag').length;
    const run = await h.runJob('contact-sync', { corpId: TEST_CORP.corpId, externalUserId, userId: 'zhangsan', channelKey: `salon${seq}`, dedupeKey: `add|${externalUserId}` });
    expect(run.error).toBeUndefined();
    expect(h.sandbox.state.okCallsTo('externalcontact/mark_tag').slice(before)).toHaveLength(1);
    const lead = await Lead.findOne({ externalUserId }).lean();
    expect(lead?.firstTouch?.channelKey).toBe(`salon${seq}`);
    expect(lead?.tagKeys).toContain(`渠道/沙龙${seq}`);
    expect(await steps(externalUserId)).toContain('tags_marked');
  });
});
