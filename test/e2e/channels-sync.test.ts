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
});
