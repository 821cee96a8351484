import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { pruneKfMessages } from '../../src/domain/kf/retention.js';
import { KfHandled, KfMessage, kfMessageId } from '../../src/store/models/kf.js';
import { startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('kf_retention', { env: { KF_MESSAGE_RETENTION_DAYS: '5' } });
});
afterAll(async () => h?.stop());

const DAY = 86_400_000;

describe('客服 messages past their retention (src/domain/kf/retention.ts)', () => {
  it('deletes the copies sent and the marks written before KF_MESSAGE_RETENTION_DAYS, keeps the rest and what still waits, once an hour', async () => {
    const kf = `wkRET${Date.now().toString(36)}`;
    const now = Date.now();
    const message = (msgid: string, daysAgo: number, pending?: true) => ({
      _id: kfMessageId(kf, msgid),
      openKfid: kf,
      externalUserId: 'wmRET',
      origin: 3,
      msgtype: 'text',
      sendTime: new Date(now - daysAgo * DAY),
      raw: { msgid },
      storedAt: new Date(now - daysAgo * DAY),
      ...(pending ? { pending } : {}),
    });
    await KfMessage.insertMany([message('old', 6), message('oldWaiting', 6, true), message('recent', 4), message('today', 0)]);
    await KfHandled.insertMany([
      { _id: kfMessageId(kf, 'old'), at: new Date(now - 6 * DAY + 1_000), outcome: 'intent:thanks:replied' },
      { _id: kfMessageId(kf, 'recent'), at: new Date(now - 4 * DAY), outcome: 'intent:thanks:replied' },
    ]);
    await h.ctx.redis.del(h.ctx.keys.kfPruned());

    expect(await pruneKfMessages(h.ctx, now)).toEqual({ messages: 1, marks: 1 });
    const left = async () => ({
      messages: (await KfMessage.find({ openKfid: kf }, { _id: 1 }).lean()).map((m) => m._id).sort(),
      marks: (await KfHandled.find({ _id: { $in: ['old', 'recent'].map((m) => kfMessageId(kf, m)) } }, { _id: 1 }).lean()).map((m) => m._id),
    });
    // A message still waiting in a job of its own stays until it is handled, however old.
    expect(await left()).toEqual({ messages: ['oldWaiting', 'recent', 'today'].map((m) => kfMessageId(kf, m)).sort(), marks: [kfMessageId(kf, 'recent')] });

    // Within the hour another run (this or another process) does nothing; an hour later it deletes what aged meanwhile.
    expect(await pruneKfMessages(h.ctx, now + 2 * DAY)).toBeNull();
    await h.ctx.redis.del(h.ctx.keys.kfPruned());
    expect(await pruneKfMessages(h.ctx, now + 2 * DAY)).toEqual({ messages: 1, marks: 1 });
    expect(await left()).toEqual({ messages: ['oldWaiting', 'today'].map((m) => kfMessageId(kf, m)).sort(), marks: [] });
  });

  it('refuses a retention WeCom could still return a message within', () => {
    const env = { WECOM_CORP_ID: 'ww1', WECOM_TOKEN: 't', WECOM_ENCODING_AES_KEY: 'a'.repeat(43), WECOM_SECRET: 's', WECOM_AGENT_ID: '1' };
    expect(loadConfig(env).KF_MESSAGE_RETENTION_DAYS).toBe(7);
    expect(() => loadConfig({ ...env, KF_MESSAGE_RETENTION_DAYS: '3' })).toThrow(/KF_MESSAGE_RETENTION_DAYS: must be at least 4: WeCom returns 3 days/);
  });
});
