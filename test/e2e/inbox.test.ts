import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planWelcome } from '../../src/domain/welcome/plan-welcome.js';
import { createLogger } from '../../src/logger.js';
import { InboxIngest } from '../../src/inbox/ingest.js';
import { waitFor } from '../helpers/wait-for.js';
import { startTestBot, type TestBot } from '../helpers/test-bot.js';

// The receiver alone (ROLE=web): callbacks wait in the inbox stream until an ingest, started by each test, takes them.
let t: TestBot;
const ingests: InboxIngest[] = [];
beforeAll(async () => {
  t = await startTestBot('inbox', { role: 'web' });
});
afterAll(async () => {
  for (const i of ingests) await i.stop();
  await t?.stop();
});

const startIngest = (claimIdleMs?: number) => {
  const { ctx } = t.bot;
  const ingest = new InboxIngest(ctx.redis, ctx.keys.inbox(), ctx.queues, (d) => planWelcome(ctx, d), createLogger('silent'), claimIdleMs);
  ingests.push(ingest);
  ingest.start();
  return ingest;
};
const streamLength = () => t.bot.ctx.redis.xlen(t.bot.ctx.keys.inbox());
const jobCount = async (q: 'events' | 'welcome') =>
  Object.values(await t.bot.ctx.queues.get(q).getJobCounts('completed', 'waiting', 'active', 'delayed', 'failed')).reduce((a, b) => a + b, 0);

describe('the inbox between receiver and workers', () => {
  it('keeps accepted callbacks until a worker ingests them, then creates the event and welcome jobs and empties', async () => {
    const a = t.newContact({ state: 'expo2026' });
    const b = t.newContact({ state: 'expo2026' });
    for (const c of [a, b, a]) expect((await t.post(c.xml)).status).toBe(200); // a's callback retried once
    expect(await streamLength()).toBe(3);
    expect(await jobCount('events')).toBe(0);

    const ingest = startIngest();
    await waitFor(async () => (await streamLength()) === 0, 'inbox drained');
    expect(await jobCount('events')).toBe(2); // the retried callback was refused by its dedupe key
    expect(await jobCount('welcome')).toBe(2);
    const welcome = (await t.bot.ctx.queues.get('welcome').getJobs(['waiting'])).find((j) => j.data.externalUserId === a.externalUserId);
    expect(welcome?.data).toMatchObject({ welcomeCode: a.welcomeCode, channelKey: 'expo2026', userId: 'zhangsan' });
    expect(welcome!.data.deadline - welcome!.data.receivedAt).toBeLessThanOrEqual(19_000);
    await ingest.stop();
  });

  it('a callback a worker read but never acknowledged (it died) is taken over by another', async () => {
    const { redis, keys } = t.bot.ctx;
    const key = keys.inbox();
    const c = t.newContact({ state: 'organic' });
    expect((await t.post(c.xml)).status).toBe(200);
    // A consumer reads the entry and dies before acknowledging it.
    const read = (await redis.xreadgroup('GROUP', 'ingest', 'dead-worker', 'COUNT', 10, 'STREAMS', key, '>')) as Array<[string, unknown[]]>;
    expect(read[0]![1]).toHaveLength(1);
    const before = await jobCount('events');

    startIngest(300);
    await waitFor(async () => (await jobCount('events')) === before + 1, 'taken over and ingested');
    await waitFor(async () => (await streamLength()) === 0, 'inbox drained');
    const pending = (await redis.xpending(key, 'ingest')) as [number, ...unknown[]];
    expect(pending[0]).toBe(0);
  });

  it('a pass that fails is retried by the same worker at once, not after the take-over time', async () => {
    const { ctx } = t.bot;
    let failures = 1;
    // The routing step fails once (as a Redis or queue error would), then works.
    const ingest = new InboxIngest(ctx.redis, ctx.keys.inbox(), ctx.queues, (d) => {
      if (failures-- > 0) throw new Error('transient');
      return planWelcome(ctx, d);
    }, createLogger('silent'), 60_000);
    ingests.push(ingest);
    const c = t.newContact({ state: 'expo2026' });
    const before = await jobCount('welcome');
    expect((await t.post(c.xml)).status).toBe(200);
    const started = Date.now();
    ingest.start();
    await waitFor(async () => (await jobCount('welcome')) === before + 1, 'welcome job created after the retry');
    expect(Date.now() - started).toBeLessThan(5_000);
    await waitFor(async () => (await streamLength()) === 0, 'inbox drained');
    await ingest.stop();
  });

  it('a welcome that cannot be planned (the database not answering) is tried again, then its event goes on without it: never dropped', async () => {
    const { ctx } = t.bot;
    for (const i of ingests.splice(0)) await i.stop();
    let tries = 0;
    const ingest = new InboxIngest(ctx.redis, ctx.keys.inbox(), ctx.queues, () => {
      tries++;
      throw new Error('the database did not answer');
    }, createLogger('silent'), 60_000);
    ingests.push(ingest);
    const c = t.newContact({ state: 'expo2026' });
    const [events, welcomes] = [await jobCount('events'), await jobCount('welcome')];
    expect((await t.post(c.xml)).status).toBe(200);
    ingest.start();
    await waitFor(async () => (await jobCount('events')) === events + 1, 'the event job created');
    expect(tries).toBe(3);
    expect(await jobCount('welcome')).toBe(welcomes);
    await waitFor(async () => (await streamLength()) === 0, 'inbox drained');
  });

  it('items that are not callbacks are set aside; the valid ones of the same entry go through', async () => {
    const { redis, keys } = t.bot.ctx;
    const key = keys.inbox();
    startIngest(300);
    const c = t.newContact({ state: 'organic' });
    const valid = { key: 'change_external_contact.add_external_contact', dedupeKey: `poison-test|${c.externalUserId}`, receivedAt: Date.now(),
      event: { ToUserName: 'x', FromUserName: 'sys', CreateTime: 1, MsgType: 'event', Event: 'change_external_contact', ChangeType: 'add_external_contact', UserID: 'zhangsan', ExternalUserID: c.externalUserId } };
    const before = await jobCount('events');
    const id = await redis.xadd(key, '*', 'b', JSON.stringify([null, {}, valid]));
    await waitFor(async () => (await jobCount('events')) === before + 1, 'the valid item ingested');
    await waitFor(async () => ((await redis.xpending(key, 'ingest')) as [number])[0] === 0, 'all acknowledged');
    expect((await redis.xrange(key, '-', '+')).map(([x]) => x)).toContain(id);
    await redis.xdel(key, id!);
  });

  it('an entry that is not valid JSON is acknowledged and left in the stream; the others go through', async () => {
    const { redis, keys } = t.bot.ctx;
    const key = keys.inbox();
    const corruptId = await redis.xadd(key, '*', 'b', '{not json');
    const c = t.newContact({ state: 'expo2026' });
    const before = await jobCount('events');
    expect((await t.post(c.xml)).status).toBe(200);
    await waitFor(async () => (await jobCount('events')) === before + 1, 'valid callback ingested');
    await waitFor(async () => ((await redis.xpending(key, 'ingest')) as [number])[0] === 0, 'all acknowledged');
    const left = await redis.xrange(key, '-', '+');
    expect(left.map(([id]) => id)).toEqual([corruptId]);
  });
});
