import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syncChannels } from '../../src/domain/channels/sync-channels.js';
import { ChannelRecord } from '../../src/store/models/channel-record.js';
import { CorpTag } from '../../src/store/models/corp-tag.js';
import { startTestBot, type TestBot } from '../helpers/test-bot.js';

let t: TestBot;
beforeAll(async () => {
  t = await startTestBot('channels_sync', { sandbox: { kfAccounts: [{ openKfid: 'wkSYNC01', name: '官方客服' }] } });
});
afterAll(async () => t?.stop());

describe('channels:sync', () => {
  it('creates a 联系我 QR code per channel with state = key, and stores config_id and qr_code', async () => {
    const results = await syncChannels(t.bot.ctx);
    expect(results.find((r) => r.key === 'expo2026')).toMatchObject({ action: 'created' });
    // notext has no owners: a code needs at least one member.
    expect(results.find((r) => r.key === 'notext')).toMatchObject({ action: 'skipped' });
    expect(results.some((r) => r.key === 'organic')).toBe(false);

    const call = t.sandbox.state.okCallsTo('externalcontact/add_contact_way').find((c) => (c.body as { state: string }).state === 'expo2026')!;
    expect(call.body).toMatchObject({ type: 1, scene: 2, state: 'expo2026', user: ['zhangsan'] });
    const rec = await ChannelRecord.findOne({ key: 'expo2026' }).lean();
    expect(rec?.configId).toBeTruthy();
    expect(rec?.qrCode).toMatch(/^https?:\/\//);
    expect(t.sandbox.state.contactWays.ways.has(rec!.configId!)).toBe(true);

    // Channel tags were resolved to ids, creating the missing ones, and cached.
    const cached = await CorpTag.find().lean();
    expect(cached.map((c) => `${c.group}/${c.name}`).sort()).toEqual(['渠道/2026工业展', '渠道/培育', '渠道/客服广告', '渠道/无欢迎语', '行业/制造业']);
    expect(t.sandbox.state.okCallsTo('externalcontact/add_corp_tag').length).toBeGreaterThan(0);
  });

  it('updates the existing code on the next run instead of creating another', async () => {
    t.sandbox.state.reset();
    const results = await syncChannels(t.bot.ctx);
    expect(results.find((r) => r.key === 'expo2026')).toMatchObject({ action: 'updated' });
    expect(t.sandbox.state.callsTo('externalcontact/add_contact_way')).toHaveLength(0);
    // One update per channel with owners (expo2026, nurture, slowseq, kfad).
    expect(t.sandbox.state.okCallsTo('externalcontact/update_contact_way')).toHaveLength(4);
    // Cached tag ids: no tag list or creation calls the second time.
    expect(t.sandbox.state.callsTo('externalcontact/get_corp_tag_list')).toHaveLength(0);
  });

  it('a channel that declares kf gets its 微信客服 link on the account, scene = its kf scene; others get none', async () => {
    t.sandbox.state.reset();
    const results = await syncChannels(t.bot.ctx);
    expect(results.find((r) => r.key === 'kfad')?.kfUrl).toContain('wkSYNC01');
    expect(results.find((r) => r.key === 'expo2026')?.kfUrl).toBeUndefined();
    expect(t.sandbox.state.okCallsTo('kf/add_contact_way').map((c) => c.body)).toEqual([{ open_kfid: 'wkSYNC01', scene: 'kfad' }]);
    expect(await ChannelRecord.findOne({ key: 'kfad' }).lean()).toMatchObject({ kfOpenKfid: 'wkSYNC01', kfUrl: expect.stringContaining('wkSYNC01') });
  });

  it('re-creates a code WeCom no longer knows', async () => {
    await ChannelRecord.updateOne({ key: 'expo2026' }, { $set: { configId: 'deleted-config' } });
    t.sandbox.state.reset();
    const results = await syncChannels(t.bot.ctx);
    expect(results.find((r) => r.key === 'expo2026')).toMatchObject({ action: 'created' });
    expect((await ChannelRecord.findOne({ key: 'expo2026' }).lean())?.configId).not.toBe('deleted-config');
  });

  it('a channel going from one owner to several gets a new code (a 单人 code takes one member) and says the old one still works; back to one owner, it is updated', async () => {
    const channel = t.bot.ctx.channels.all().find((c) => c.key === 'expo2026')!;
    const owners = [...channel.owners];
    const old = (await ChannelRecord.findOne({ key: 'expo2026' }).lean())!;
    t.sandbox.state.reset();
    channel.owners.push('lisi');
    try {
      const result = (await syncChannels(t.bot.ctx)).find((r) => r.key === 'expo2026')!;
      expect(result).toMatchObject({ action: 'replaced', reason: expect.stringContaining(old.configId!) });
      expect(result.configId).not.toBe(old.configId);
      // No update WeCom would refuse (a 单人 code takes one member), one new 多人 code with the same state.
      expect(t.sandbox.state.callsTo('externalcontact/update_contact_way').filter((c) => (c.body as { config_id: string }).config_id === old.configId)).toHaveLength(0);
      expect(t.sandbox.state.okCallsTo('externalcontact/add_contact_way').find((c) => (c.body as { state: string }).state === 'expo2026')!.body).toMatchObject({ type: 2, user: ['zhangsan', 'lisi'] });
      expect(await ChannelRecord.findOne({ key: 'expo2026' }).lean()).toMatchObject({ configId: result.configId, userIds: ['zhangsan', 'lisi'] });
      // The old code is left live: printed copies still attribute to the channel.
      expect(t.sandbox.state.contactWays.ways.has(old.configId!)).toBe(true);
      expect((await ChannelRecord.findOne({ key: 'expo2026' }).lean())!.retiredConfigIds).toEqual([old.configId]);
      // The next run updates the new code.
      t.sandbox.state.reset();
      expect((await syncChannels(t.bot.ctx)).find((r) => r.key === 'expo2026')).toMatchObject({ action: 'updated', configId: result.configId });
      // Back to one owner: a 多人 code may keep one member, so it is updated in place, not replaced.
      channel.owners.splice(1);
      t.sandbox.state.reset();
      expect((await syncChannels(t.bot.ctx)).find((r) => r.key === 'expo2026')).toMatchObject({ action: 'updated', configId: result.configId });
      expect(t.sandbox.state.okCallsTo('externalcontact/update_contact_way').find((c) => (c.body as { config_id: string }).config_id === result.configId)!.body).toMatchObject({ user: ['zhangsan'] });
      expect(t.sandbox.state.callsTo('externalcontact/add_contact_way').filter((c) => (c.body as { state: string }).state === 'expo2026')).toHaveLength(0);
      // A code stored before its type was kept (a 多人 one, two members) goes down to one owner and back to two: both
      // updates in place, the type learnt at the first.
      await ChannelRecord.updateOne({ key: 'expo2026' }, { $set: { wayType: null, userIds: ['zhangsan', 'lisi'] } });
      t.sandbox.state.reset();
      expect((await syncChannels(t.bot.ctx)).find((r) => r.key === 'expo2026')).toMatchObject({ action: 'updated', configId: result.configId });
      channel.owners.push('lisi');
      expect((await syncChannels(t.bot.ctx)).find((r) => r.key === 'expo2026')).toMatchObject({ action: 'updated', configId: result.configId });
      expect(t.sandbox.state.callsTo('externalcontact/add_contact_way').filter((c) => (c.body as { state: string }).state === 'expo2026')).toHaveLength(0);
    } finally {
      channel.owners.splice(0, channel.owners.length, ...owners);
    }
  });
});

describe('channels:sync and a long channel name', () => {
  it('cuts the 联系我 remark to 30 characters [D:92228] without splitting an emoji (no lone surrogate), when creating and when updating', async () => {
    const channel = t.bot.ctx.channels.all().find((c) => c.key === 'expo2026')!;
    const name = channel.name;
    // 29 characters, then an emoji (two UTF-16 units): a cut at 30 UTF-16 units would keep half of it.
    channel.name = `${'展'.repeat(29)}😀后面的字`;
    try {
      const remarks = () => [...t.sandbox.state.okCallsTo('externalcontact/add_contact_way'), ...t.sandbox.state.okCallsTo('externalcontact/update_contact_way')]
        .map((c) => c.body as { state?: string; config_id?: string; remark?: string })
        .map((b) => b.remark);
      t.sandbox.state.reset();
      await syncChannels(t.bot.ctx);
      const updated = remarks().filter((r) => r?.startsWith('展'));
      expect(updated).toEqual([`${'展'.repeat(29)}😀`]);
      await ChannelRecord.updateOne({ key: 'expo2026' }, { $set: { configId: 'deleted-config' } });
      t.sandbox.state.reset();
      await syncChannels(t.bot.ctx);
      expect(remarks().filter((r) => r?.startsWith('展'))).toEqual([`${'展'.repeat(29)}😀`]);
    } finally {
      channel.name = name;
    }
  });
});

describe('channels:sync when WeCom refuses one channel', () => {
  it('says which channel and why, and still syncs the others', async () => {
    t.sandbox.state.reset();
    // The first channel's update is refused (60111: an owner's userid WeCom does not know [D:92228]).
    t.sandbox.state.inject({ api: 'externalcontact/update_contact_way', errcode: 60111 });
    const results = await syncChannels(t.bot.ctx);
    expect(results.find((r) => r.key === 'expo2026')).toMatchObject({ action: 'failed', reason: expect.stringContaining('60111') });
    expect(results.filter((r) => r.action === 'updated').map((r) => r.key)).toEqual(['nurture', 'slowseq', 'kfad']);
    // The kf link of a channel after the refused one is made too.
    expect(results.find((r) => r.key === 'kfad')?.kfUrl).toContain('wkSYNC01');
  });
});
