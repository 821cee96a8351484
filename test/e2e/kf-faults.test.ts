import type { ChildProcess } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { reconcileKf } from '../../src/domain/kf/reconcile.js';
import { KfCursor, KfHandled, KfMessage } from '../../src/store/models/kf.js';
import { Lead } from '../../src/store/models/lead.js';
import { deleteMatching } from '../fixtures/test-corp.js';
import { startTestBot, TEST_CORP, type TestBot } from '../helpers/test-bot.js';
import { waitFor } from '../helpers/wait-for.js';
import { killWorker, startWorkerProcess } from '../helpers/worker-process.js';

// This process only receives callbacks; worker processes do the work, and are killed as in a crash.
const KF = 'wkFAULTS01';
let t: TestBot;
const children: ChildProcess[] = [];
beforeAll(async () => {
  t = await startTestBot('kf_faults', {
    role: 'web',
    env: { JOB_LOCK_MS: '2000', SERVICE_HOURS: 'Mon-Sun 00:00-24:00', KF_REPLIES_PER_MINUTE: '100' },
    sandbox: { kfAccounts: [{ openKfid: KF, servicers: ['zhangsan'] }] },
  });
  t.sandbox.state.callback = { url: `${t.url}/wecom/callback`, token: TEST_CORP.token, encodingAesKey: TEST_CORP.encodingAesKey };
});
afterEach(async () => {
  for (const c of children.splice(0)) await killWorker(c);
});
afterAll(async () => t?.stop());

const worker = () => {
  const c = startWorkerProcess(t.env);
  children.push(c);
  return c;
};
const kf = () => t.sandbox.state.kf;
const replies = (ext: string) => kf().sent.filter((m) => m.touser === ext);
const allHandled = (ids: string[]) =>
  waitFor(async () => (await Promise.all(ids.map((id) => KfHandled.findById(`${KF}|${id}`).lean()))).every((m) => m?.at), `${ids.length} messages handled`, 40_000);
/** No sync of the account runs: every request covered, and the last sync ended (the account no longer `syncing`). */
const syncIdle = () =>
  waitFor(async () => {
    const { redis, keys } = t.bot.ctx;
    const [asked, done] = (await redis.mget(keys.kfSyncRequested(KF), keys.kfSyncDone(KF))).map((v) => Number(v) || 0);
    return done! >= asked! && (await KfCursor.findById(`${TEST_CORP.corpId}:${KF}`).lean())?.syncing === null;
  }, 'the sync over');
/** Each message got exactly one reply (every text here matches an intent with a reply). */
const answeredOnce = async (ext: string, n: number) => {
  await new Promise((r) => setTimeout(r, 500));
  expect(replies(ext)).toHaveLength(n);
  expect(new Set(replies(ext).map((m) => m.msgid)).size).toBe(n);
};

describe('a 客服 account under faults', () => {
  it('two workers, many callbacks for one account: kf/sync_msg never overlaps, every message answered once', async () => {
    worker();
    worker();
    // Each sync call answers, then holds its answer 300 ms: overlapping calls would arrive less than 300 ms apart.
    t.sandbox.state.inject({ api: 'kf/sync_msg', delayAfterMs: 300, times: Infinity });
    try {
      const customers = ['wmTWOa', 'wmTWOb', 'wmTWOc'].map((c) => `${c}${Date.now().toString(36)}`);
      const ids: string[] = [];
      // Two waves: the second arrives after the first is handled, so at least two syncs run whenever the workers start.
      for (const wave of [['你好', '谢谢'], ['hello', '在吗']]) {
        await Promise.all(customers.map(async (ext) => {
          for (const text of wave) ids.push((await kf().customerSays(KF, ext, text)).msgid);
        }));
        await allHandled(ids);
      }
      for (const ext of customers) await answeredOnce(ext, 4);
      const calls = t.sandbox.state.callsTo('kf/sync_msg').map((c) => c.at).sort((a, b) => a - b);
      expect(calls.length).toBeGreaterThan(1);
      for (let i = 1; i < calls.length; i++) expect(calls[i]! - calls[i - 1]!).toBeGreaterThanOrEqual(290);
    } finally {
      t.sandbox.state.reset();
    }
  });

  it('a worker killed mid-page: another takes over from the stored cursor; nothing answered twice, nothing lost', async () => {
    const ext = `wmKILL${Date.now().toString(36)}`;
    // An earlier message, answered: the cursor is past it.
    const first = worker();
    const before = (await kf().customerSays(KF, ext, '你好')).msgid;
    await allHandled([before]);
    await waitFor(() => replies(ext).length === 1, 'first reply');
    // The sync is over: its pages handled and the cursor stored behind them (a message is marked handled just before).
    await syncIdle();
    const cursorBefore = (await KfCursor.findById(`${TEST_CORP.corpId}:${KF}`).lean())?.cursor;
    // The next page is answered by WeCom but the worker dies before it stores anything.
    t.sandbox.state.inject({ api: 'kf/sync_msg', delayAfterMs: 4000 });
    const ids: string[] = [];
    for (const text of ['谢谢', 'hello']) ids.push((await kf().customerSays(KF, ext, text, { post: false })).msgid);
    const syncs = t.sandbox.state.callsTo('kf/sync_msg').length;
    await kf().postCallback(KF);
    // WeCom has answered the page (held 4 s on the way back): the worker is waiting for it when it dies.
    await waitFor(() => t.sandbox.state.callsTo('kf/sync_msg').length > syncs, 'the page in flight', 10_000);
    await new Promise((r) => setTimeout(r, 300));
    await killWorker(first);
    const left = await KfCursor.findById(`${TEST_CORP.corpId}:${KF}`).lean();
    expect(left?.cursor).toBe(cursorBefore);
    // The dead sync's mark stays: what the reconciler would find if Redis were lost too.
    expect(left?.syncing).toBeInstanceOf(Date);
    worker();
    await allHandled(ids);
    await answeredOnce(ext, 3);
    await syncIdle();
  });

  it('a worker killed while the opt-out confirmation is in flight: the retry opts the lead out, and the customer gets one confirmation', async () => {
    const ext = `wmTDKILL${Date.now().toString(36)}`;
    const w = worker();
    await allHandled([(await kf().customerSays(KF, ext, '你好')).msgid]);
    await syncIdle();
    // WeCom takes the confirmation, and holds its answer 4 s: the worker dies waiting for it.
    t.sandbox.state.inject({ api: 'kf/send_msg', delayAfterMs: 4000 });
    const sends = t.sandbox.state.callsTo('kf/send_msg').length;
    const td = (await kf().customerSays(KF, ext, '退订')).msgid;
    await waitFor(() => t.sandbox.state.callsTo('kf/send_msg').length > sends, 'the confirmation in flight', 10_000);
    await killWorker(w);
    // The confirmation goes before the move: the run died before opting the lead out, so its retry does both.
    expect((await Lead.findOne({ externalUserId: ext }).lean())?.stage).not.toBe('unsubscribed');
    worker();
    await allHandled([td]);
    await waitFor(async () => (await Lead.findOne({ externalUserId: ext }).lean())?.stage === 'unsubscribed', 'opted out');
    await answeredOnce(ext, 2);
    expect(replies(ext)[1]!.content).toContain('退订');
  });

  it('Redis flushed (queues, locks, tokens, counters, the inbox): the cursor and the msgid fences in MongoDB hold; nothing answered twice', async () => {
    const ext = `wmFLUSH${Date.now().toString(36)}`;
    const w = worker();
    const done = [(await kf().customerSays(KF, ext, '你好')).msgid, (await kf().customerSays(KF, ext, '谢谢')).msgid];
    await allHandled(done);
    await waitFor(() => replies(ext).length === 2, 'two replies');
    // No worker runs; a message arrives (its callback waits in the inbox), then Redis loses everything of the bot.
    await killWorker(w);
    const lost = (await kf().customerSays(KF, ext, 'hello')).msgid;
    const redis = new Redis(t.config.REDIS_URL);
    await deleteMatching(redis, `${t.config.QUEUE_PREFIX}:*`);
    redis.disconnect();
    worker();
    // The next callback syncs from the stored cursor: the lost message and the new one, each answered once.
    const next = (await kf().customerSays(KF, ext, '在吗')).msgid;
    await allHandled([lost, next]);
    await answeredOnce(ext, 4);
  });

  it('Redis flushed while a sync waits for its page: the sync does not pass the next requests off as done', async () => {
    const ext = `wmMIDFLUSH${Date.now().toString(36)}`;
    worker();
    // Requests counted well past what follows the flush.
    for (const text of ['你好', '谢谢', 'hello', '在吗']) await allHandled([(await kf().customerSays(KF, ext, text)).msgid]);
    await syncIdle();
    // The next page is held 1.5 s on its way back; Redis loses everything of the bot meanwhile.
    t.sandbox.state.inject({ api: 'kf/sync_msg', delayAfterMs: 1500 });
    const syncs = t.sandbox.state.callsTo('kf/sync_msg').length;
    const held = (await kf().customerSays(KF, ext, '你好')).msgid;
    await waitFor(() => t.sandbox.state.callsTo('kf/sync_msg').length > syncs, 'the page in flight', 10_000);
    const redis = new Redis(t.config.REDIS_URL);
    await deleteMatching(redis, `${t.config.QUEUE_PREFIX}:*`);
    redis.disconnect();
    await allHandled([held]);
    // Counted from 1 again: this request is below the count the sync had, and must still be synced.
    const next = (await kf().customerSays(KF, ext, '谢谢')).msgid;
    await allHandled([next]);
    await answeredOnce(ext, 6);
  });

  it('a stored message whose job Redis lost is queued again by the reconciler, and handled once', async () => {
    const ext = `wmRECON${Date.now().toString(36)}`;
    // Stored and set aside in a job of its own (pending), the job lost (as after a flush before it ran).
    const { msgid } = await kf().customerSays(KF, ext, '谢谢', { post: false });
    const raw = { msgid, open_kfid: KF, external_userid: ext, send_time: Math.floor(Date.now() / 1000), origin: 3, msgtype: 'text', text: { content: '谢谢' } };
    await KfMessage.create({ _id: `${KF}|${msgid}`, openKfid: KF, externalUserId: ext, origin: 3, msgtype: 'text', sendTime: new Date(), raw, pending: true, storedAt: new Date(Date.now() - 120_000) });
    worker();
    expect((await reconcileKf(t.bot.ctx)).messages).toBeGreaterThanOrEqual(1);
    expect((await reconcileKf(t.bot.ctx)).messages).toBeGreaterThanOrEqual(1);
    await allHandled([msgid]);
    await answeredOnce(ext, 1);
    // Handled by its job: no longer pending, so the reconciler stops queuing it.
    await waitFor(async () => (await KfMessage.findById(`${KF}|${msgid}`).lean())?.pending === undefined, 'no longer pending');
  });

  it('a sync that died with its page stored but not handled, and Redis lost its request: the reconciler syncs the account again', async () => {
    const w = worker();
    const ext = `wmDIED${Date.now().toString(36)}`;
    await allHandled([(await kf().customerSays(KF, ext, '你好')).msgid]);
    await syncIdle();
    await killWorker(w);
    const id = `${TEST_CORP.corpId}:${KF}`;
    expect((await KfCursor.findById(id).lean())?.syncing).toBeNull();
    // What a sync that died after storing a page leaves: the message stored, no mark, no job, no request, the account
    // still marked as syncing since before the grace.
    const { msgid } = await kf().customerSays(KF, ext, '谢谢', { post: false });
    const raw = { msgid, open_kfid: KF, external_userid: ext, send_time: Math.floor(Date.now() / 1000), origin: 3, msgtype: 'text', text: { content: '谢谢' } };
    await KfMessage.create({ _id: `${KF}|${msgid}`, openKfid: KF, externalUserId: ext, origin: 3, msgtype: 'text', sendTime: new Date(), raw, storedAt: new Date(Date.now() - 120_000) });
    await KfCursor.updateOne({ _id: id }, { $set: { syncing: new Date(Date.now() - 120_000) } });
    worker();
    // While the account's lock is held, its sync is taken to be running: left alone.
    const { redis, keys } = t.bot.ctx;
    await redis.set(keys.kfSyncLock(KF), 'a live sync', 'PX', 10_000);
    expect(await reconcileKf(t.bot.ctx)).toMatchObject({ messages: 0, syncs: 0 });
    await redis.del(keys.kfSyncLock(KF));
    // Neither a pending message nor a request counter would find it.
    expect(await reconcileKf(t.bot.ctx)).toMatchObject({ messages: 0, syncs: 1 });
    await allHandled([msgid]);
    await answeredOnce(ext, 2);
    await syncIdle();
    expect((await KfCursor.findById(id).lean())?.syncing).toBeNull();
  });

});
