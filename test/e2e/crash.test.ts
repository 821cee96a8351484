import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Delivery } from '../../src/store/models/delivery.js';
import { Lead } from '../../src/store/models/lead.js';
import { timelineOf } from '../../src/store/timeline.js';
import { startTestBot, TEST_CORP, type TestBot } from '../helpers/test-bot.js';
import { waitFor } from '../helpers/wait-for.js';
import { killWorker, startWorkerProcess } from '../helpers/worker-process.js';
import { touchesOf } from '../../src/store/touch-log.js';

describe('a worker killed mid-processing', () => {
  let t: TestBot;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    // This process only receives callbacks; the work happens in separate worker processes.
    t = await startTestBot('crash', { role: 'web', env: { JOB_LOCK_MS: '2000' } });
  });
  afterAll(async () => {
    for (const c of children) await killWorker(c);
    await t?.stop();
  });

  it('still handles the event exactly once: one lead, one welcome, tags marked', async () => {
    // WeCom is slow to answer the welcome: the worker dies (SIGKILL) while the call is in flight, after WeCom
    // has accepted the message.
    t.sandbox.state.inject({ api: 'externalcontact/send_welcome_msg', delayMs: 1500 });
    const first = startWorkerProcess(t.env);
    children.push(first);
    const c = t.newContact({ state: 'expo2026', name: '赵总' });
    expect((await t.post(c.xml)).status).toBe(200);

    await waitFor(() => t.sandbox.state.callsTo('externalcontact/send_welcome_msg').length > 0, 'welcome call in flight', 20_000);
    await killWorker(first);
    // Nothing is written to the database before WeCom answers; the call itself was counted in Redis.
    expect(await Delivery.countDocuments({ externalUserId: c.externalUserId })).toBe(0);
    const { redis, config } = t.bot.ctx;
    const [callsKey] = await redis.keys(`${config.QUEUE_PREFIX}:welcome-calls:*${c.externalUserId}*`);
    expect(await redis.hgetall(callsKey!)).toEqual({ calls: '1' });

    // A replacement worker finds the stalled job and finishes it.
    const second = startWorkerProcess(t.env);
    children.push(second);
    const done = await waitFor(async () => {
      return Delivery.findOne({ externalUserId: c.externalUserId }).lean();
    }, 'delivery recorded', 25_000);
    await waitFor(async () => (await timelineOf(TEST_CORP.corpId, c.externalUserId)).some((e) => e.type === 'profile_synced'), 'contact synced', 25_000);

    // The customer got exactly one welcome; the second attempt was refused by WeCom as already used.
    expect(t.sandbox.state.welcome.sent.filter((w) => w.externalUserId === c.externalUserId)).toHaveLength(1);
    expect(done).toMatchObject({ status: 'sent', attempts: 2 });
    expect(await Lead.countDocuments({ externalUserId: c.externalUserId })).toBe(1);
    const l = await Lead.findOne({ externalUserId: c.externalUserId }).lean();
    expect(touchesOf(l!)).toHaveLength(1);
    expect(t.sandbox.state.tags.tagsOf('zhangsan', c.externalUserId)).toHaveLength(2);
    const welcomeSteps = (await timelineOf(TEST_CORP.corpId, c.externalUserId)).filter((e) => e.type === 'welcome_sent');
    expect(welcomeSteps).toHaveLength(1);
  });
});
