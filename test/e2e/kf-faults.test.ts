import type { ChildProcess } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { kfMsgid } from '../../src/domain/delivery/via.js';
import type { InboundBatch } from '../../src/domain/kf/inbound.js';
import { reconcileKf } from '../../src/domain/kf/reconcile.js';
import { drainSetAside } from '../../src/domain/kf/set-aside.js';
import { Delivery } from '../../src/store/models/delivery.js';
import { KfCursor, KfHandled, KfMessage } from '../../src/store/models/kf.js';
import { Lead } from '../../src/store/models/lead.js';
import { timelineOf } from '../../src/store/timeline.js';
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

  it('a worker shut down (SIGTERM) while a sync pages: it fetches no further page, stores the cursor of what it handled and exits; the next worker answers the rest, once', async () => {
    const ext = `wmTERM${Date.now().toString(36)}`;
    const first = worker();
    const before = (await kf().customerSays(KF, ext, '你好')).msgid;
    await allHandled([before]);
    await syncIdle();
    // The next sync's first page is empty with more to come (has_more 1), and WeCom holds it 2 s on the way back: the
    // shutdown comes while it is in flight.
    kf().injectEmptyPages(KF, 1);
    t.sandbox.state.inject({ api: 'kf/sync_msg', delayAfterMs: 2000 });
    const ids: string[] = [];
    for (const text of ['谢谢', 'hello']) ids.push((await kf().customerSays(KF, ext, text, { post: false })).msgid);
    const syncs = t.sandbox.state.callsTo('kf/sync_msg').length;
    await kf().postCallback(KF);
    await waitFor(() => t.sandbox.state.callsTo('kf/sync_msg').length > syncs, 'the page in flight', 10_000);
    const exited = new Promise<number | null>((r) => first.once('exit', (code) => r(code)));
    first.kill('SIGTERM');
    expect(await exited).toBe(0);
    // No page was asked for after the one in flight; what it handled (nothing) is behind the stored cursor, and the
    // sync is no longer marked running.
    expect(t.sandbox.state.callsTo('kf/sync_msg').length).toBe(syncs + 1);
    expect(await KfHandled.countDocuments({ _id: { $in: ids.map((id) => `${KF}|${id}`) } })).toBe(0);
    expect((await KfCursor.findById(`${TEST_CORP.corpId}:${KF}`).lean())?.syncing).toBeNull();
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

  it("a customer set aside after a failure writes again before the retry: their messages are handled in the order written, each once, and the others are not held up", async () => {
    const ext = `wmORDER${Date.now().toString(36)}`;
    const other = `wmOTHER${Date.now().toString(36)}`;
    const { redis, keys } = t.bot.ctx;
    const w = worker();
    // WeCom reports a failed send whose record the bot has not written yet (its handling fails until it has), then the
    // customer opts out: one run of theirs, which fails, and is set aside.
    const lateMsgid = `late${Date.now().toString(36)}`;
    const failed = kf().appendEvent(KF, { event_type: 'msg_send_fail', open_kfid: KF, external_userid: ext, fail_msgid: lateMsgid, fail_type: 4 });
    const optOut = (await kf().customerSays(KF, ext, '退订')).msgid;
    const jobId = await waitFor(() => redis.hget(keys.kfSetAside(KF), ext), 'the customer set aside', 20_000);
    expect((await KfMessage.findById(`${KF}|${optOut}`).lean())?.pending).toBe(true);
    // The worker dies while the set-aside job waits for its retry; another worker takes over.
    await killWorker(w);
    worker();
    // The customer writes again (subscribing again), and another customer writes.
    const optIn = (await kf().customerSays(KF, ext, '订阅')).msgid;
    const hello = (await kf().customerSays(KF, other, '你好')).msgid;
    await allHandled([hello]);
    await waitFor(() => replies(other).length === 1, 'the other customer answered');
    // The later message waits behind the set-aside run: stored, not handled, not answered.
    const stored = await waitFor(async () => (await KfHandled.exists({ _id: `${KF}|${optIn}` })) ?? (await KfMessage.findById(`${KF}|${optIn}`).lean())?.pending, 'the later message synced');
    expect(stored).toBe(true);
    expect(replies(ext)).toHaveLength(0);
    // The failed send's record arrives: the retry (brought forward) handles the customer's messages in order.
    await Delivery.create({ _id: `nurture|late|${lateMsgid}`, key: `nurture|late|${lateMsgid}`, kind: 'nurture', corpId: TEST_CORP.corpId, externalUserId: ext, userId: 'zhangsan', status: 'sent', via: 'kf', msgid: lateMsgid });
    const job = await t.bot.ctx.queues.get('kf-inbound').getJob(jobId!);
    await job?.promote().catch(() => undefined);
    await allHandled([failed, optOut, optIn]);
    // Answered once each, in the order written: the opt-out's confirmation, then the re-subscription's.
    await answeredOnce(ext, 2);
    expect(replies(ext).map((m) => m.msgid)).toEqual([optOut, optIn].map((m) => kfMsgid(`kf-reply|${KF}|${m}`)));
    expect(replies(ext)[0]!.content).toContain('退订');
    // The lead's moves in that order: opted out (an opt-out alone engages no one), then back from `unsubscribed`,
    // engaged by the 订阅 (out of order, the 订阅 found nothing to undo and the lead stayed opted out).
    const moves = (await timelineOf(TEST_CORP.corpId, ext)).filter((st) => st.type === 'stage_changed' && ['unsubscribe', 'resubscribe'].includes(st.detail.source as string));
    expect(moves.map((st) => `${st.detail.source}:${st.detail.from}>${st.detail.to}`).sort()).toEqual(['resubscribe:unsubscribed>engaged', 'unsubscribe:added>unsubscribed']);
    expect((await Lead.findOne({ externalUserId: ext }).lean())?.stage).toBe('engaged');
    // Done: the customer is back on the sync's path, and nothing of theirs is pending.
    await waitFor(async () => (await redis.hget(keys.kfSetAside(KF), ext)) === null, 'no longer set aside');
    expect(await KfMessage.countDocuments({ _id: { $in: [failed, optOut, optIn].map((m) => `${KF}|${m}`) }, pending: true })).toBe(0);
    const next = (await kf().customerSays(KF, ext, 'hello')).msgid;
    await allHandled([next]);
    await answeredOnce(ext, 3);
    expect((await KfMessage.findById(`${KF}|${next}`).lean())?.pending).toBeUndefined();
  });

  it('Redis flushed while a customer is set aside: the next sync sets them aside again from MongoDB before it handles anything, so their later message still waits its turn', async () => {
    const ext = `wmFLORDER${Date.now().toString(36)}`;
    const { redis, keys } = t.bot.ctx;
    worker();
    const lateMsgid = `late${Date.now().toString(36)}`;
    const failed = kf().appendEvent(KF, { event_type: 'msg_send_fail', open_kfid: KF, external_userid: ext, fail_msgid: lateMsgid, fail_type: 4 });
    const optOut = (await kf().customerSays(KF, ext, '退订')).msgid;
    await waitFor(() => redis.hget(keys.kfSetAside(KF), ext), 'the customer set aside', 20_000);
    // Redis loses everything of the bot: the set-aside queue, its job, the sync counters. MongoDB keeps `pending`.
    const flush = new Redis(t.config.REDIS_URL);
    await deleteMatching(flush, `${t.config.QUEUE_PREFIX}:*`);
    flush.disconnect();
    const optIn = (await kf().customerSays(KF, ext, '订阅')).msgid;
    const stored = await waitFor(async () => (await KfHandled.exists({ _id: `${KF}|${optIn}` })) ?? (await KfMessage.findById(`${KF}|${optIn}`).lean())?.pending, 'the later message synced');
    expect(stored).toBe(true);
    expect(replies(ext)).toHaveLength(0);
    await Delivery.create({ _id: `nurture|late|${lateMsgid}`, key: `nurture|late|${lateMsgid}`, kind: 'nurture', corpId: TEST_CORP.corpId, externalUserId: ext, userId: 'zhangsan', status: 'sent', via: 'kf', msgid: lateMsgid });
    // A job lost with the flush while it ran leaves its customer to the reconciler, which gives them a new one.
    await reconcileKf(t.bot.ctx);
    const job = await t.bot.ctx.queues.get('kf-inbound').getJob((await redis.hget(keys.kfSetAside(KF), ext))!);
    await job?.promote().catch(() => undefined);
    await allHandled([failed, optOut, optIn]);
    await answeredOnce(ext, 2);
    expect(replies(ext).map((m) => m.msgid)).toEqual([optOut, optIn].map((m) => kfMsgid(`kf-reply|${KF}|${m}`)));
    expect((await Lead.findOne({ externalUserId: ext }).lean())?.stage).toBe('engaged');
    await waitFor(async () => (await redis.hget(keys.kfSetAside(KF), ext)) === null, 'no longer set aside');
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

  it('a set-aside customer whose job is gone (or failed for good) gets a new one from the reconciler, which goes on from the head of their queue', async () => {
    const ext = `wmGONE${Date.now().toString(36)}`;
    const { redis, keys } = t.bot.ctx;
    // Set aside as a sync leaves it (pending, queued, named job), the job itself gone.
    const { msgid } = await kf().customerSays(KF, ext, '谢谢', { post: false });
    const raw = { msgid, open_kfid: KF, external_userid: ext, send_time: Math.floor(Date.now() / 1000), origin: 3, msgtype: 'text', text: { content: '谢谢' } };
    await KfMessage.create({ _id: `${KF}|${msgid}`, openKfid: KF, externalUserId: ext, origin: 3, msgtype: 'text', sendTime: new Date(), raw, pending: true, storedAt: new Date() });
    await redis.hset(keys.kfSetAside(KF), ext, `kf-in|${KF}|${msgid}|1`);
    await redis.rpush(keys.kfSetAsideQueue(KF, ext), JSON.stringify([raw]));
    expect((await reconcileKf(t.bot.ctx)).setAside.revived).toBe(1);
    worker();
    await allHandled([msgid]);
    await answeredOnce(ext, 1);
    await waitFor(async () => (await redis.hget(keys.kfSetAside(KF), ext)) === null, 'no longer set aside');
    expect((await KfMessage.findById(`${KF}|${msgid}`).lean())?.pending).toBeUndefined();
  });

  it("a set-aside job's last attempt gives up only on the batch that failed before, not on one queued behind it meanwhile", async () => {
    const ext = `wmLAST${Date.now().toString(36)}`;
    const { redis, keys } = t.bot.ctx;
    // Two reports of failed sends whose records the bot has not written yet: the head failed before (its job is on its
    // last attempt); the second was queued behind it while that attempt ran.
    const stamp = Date.now().toString(36);
    const event = (msgid: string, failMsgid: string) => ({
      msgid, open_kfid: KF, send_time: Math.floor(Date.now() / 1000), origin: 4, msgtype: 'event',
      event: { event_type: 'msg_send_fail', open_kfid: KF, external_userid: ext, fail_msgid: failMsgid, fail_type: 4 },
    });
    const head = [event(`lastA${stamp}`, `goneA${stamp}`)];
    const behind = [event(`lastB${stamp}`, `lateB${stamp}`)];
    const jobId = `kf-in|${KF}|lastA${stamp}|1`;
    await redis.hset(keys.kfSetAside(KF), ext, jobId);
    await redis.rpush(keys.kfSetAsideQueue(KF, ext), JSON.stringify(head), JSON.stringify(behind));
    const batch = { openKfid: KF, externalUserId: ext, msgs: head } as unknown as InboundBatch;
    // The head is given up (recorded without its delivery); the batch behind still waits for its record.
    await expect(drainSetAside(t.bot.ctx, batch, jobId, true)).rejects.toThrow(/no delivery recorded yet/);
    expect((await KfHandled.findById(`${KF}|lastA${stamp}`).lean())?.outcome).toBe('send_failed:unmatched');
    expect(await KfHandled.exists({ _id: `${KF}|lastB${stamp}` })).toBeNull();
    expect(await redis.lrange(keys.kfSetAsideQueue(KF, ext), 0, -1)).toEqual([JSON.stringify(behind)]);
    // Its record arrives before the next attempt: the failure lands on the delivery.
    await Delivery.create({ _id: `nurture|late|lateB${stamp}`, key: `nurture|late|lateB${stamp}`, kind: 'nurture', corpId: TEST_CORP.corpId, externalUserId: ext, userId: 'zhangsan', status: 'sent', via: 'kf', msgid: `lateB${stamp}` });
    expect(await drainSetAside(t.bot.ctx, batch, jobId, false)).toEqual(['send_failed:window_expired']);
    expect((await Delivery.findById(`nurture|late|lateB${stamp}`).lean())?.status).toBe('failed');
    // Nothing left: the customer is back on the sync's path.
    expect(await redis.hget(keys.kfSetAside(KF), ext)).toBeNull();
    expect(await redis.llen(keys.kfSetAsideQueue(KF, ext))).toBe(0);
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
