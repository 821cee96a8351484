import type { CommandStartedEvent } from 'mongodb';
import mongoose from 'mongoose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { kfMsgid } from '../../src/domain/delivery/via.js';
import { handledObservers } from '../../src/domain/kf/inbound.js';
import { reconcileKf } from '../../src/domain/kf/reconcile.js';
import { Delivery } from '../../src/store/models/delivery.js';
import { Fence } from '../../src/store/models/fence.js';
import { KfCursor, KfHandled, KfMessage } from '../../src/store/models/kf.js';
import { Lead, leadId } from '../../src/store/models/lead.js';
import { timelineOf } from '../../src/store/timeline.js';
import { startTestBot, TEST_CORP, testEnv, type TestBot } from '../helpers/test-bot.js';
import { waitFor } from '../helpers/wait-for.js';
import { touchesOf } from '../../src/store/touch-log.js';

// How a busy 客服 account is handled: a sync page at a time, each customer's messages of a page as one run (one lead
// write for them), one waiting sync job per account however many callbacks arrive, and a failing customer set aside.
const KF = 'wkBATCHKF01';
let t: TestBot;
const commands: CommandStartedEvent[] = [];
beforeAll(async () => {
  // The driver reports every command it sends (monitorCommands): how a run's lead reads and writes are counted.
  const base = testEnv('x', 'http://x').MONGODB_URI!;
  t = await startTestBot('kf-batches', {
    env: { MONGODB_URI: `${base.replace(/\/[^/]*$/, '')}/t_kfb_${Date.now()}?monitorCommands=true`, SERVICE_HOURS: 'Mon-Sun 00:00-24:00', KF_REPLIES_PER_MINUTE: '20', NURTURE_DAILY_CAP: '0' },
    sandbox: { kfAccounts: [{ openKfid: KF, name: '官方客服', servicers: ['zhangsan'] }], members: ['zhangsan'] },
  });
  mongoose.connection.getClient().on('commandStarted', (e) => commands.push(e));
  t.sandbox.state.callback = { url: `${t.url}/wecom/callback`, token: TEST_CORP.token, encodingAesKey: TEST_CORP.encodingAesKey };
});
afterAll(async () => t?.stop());
beforeEach(() => t.sandbox.state.reset());

let n = 0;
const customer = () => `wmKFB${Date.now().toString(36)}${(n++).toString(36).padStart(4, '0')}`;
const kf = () => t.sandbox.state.kf;
const sentTo = (ext: string) => kf().sent.filter((m) => m.touser === ext);
const handled = (msgid: string) => waitFor(async () => (await KfHandled.findById(`${KF}|${msgid}`).lean())?.at, `message ${msgid} handled`, 15_000);
/** Messages WeCom holds for the bot, without their callbacks (one callback then fetches them as one page). */
const writes = async (ext: string, texts: string[]) => {
  const ids: string[] = [];
  for (const text of texts) ids.push((await kf().customerSays(KF, ext, text, { post: false })).msgid);
  return ids;
};

describe('a busy 客服 account', () => {
  it("a customer's messages in one page are one run: the lead read and written once for all, each answered once, in order", async () => {
    const ext = customer();
    const first = (await kf().customerSays(KF, ext, '你好')).msgid;
    await handled(first);
    const ids = await writes(ext, ['谢谢', 'hello', '在吗', '你好']);
    commands.length = 0;
    expect(await kf().postCallback(KF)).toBe(200);
    for (const id of ids) await handled(id);
    const id = leadId(TEST_CORP.corpId, ext);
    const leads = commands.filter((c) => c.command.find === Lead.collection.collectionName && (c.command.filter as { _id?: string })._id === id);
    const touchWrites = commands.filter((c) => c.command.update === Lead.collection.collectionName && JSON.stringify(c.command.updates).includes('touchLog'));
    // One load and one save for the four messages (one each per message before).
    expect(leads).toHaveLength(1);
    expect(touchWrites).toHaveLength(1);
    // The save is the run's only write of the lead: the four replies it sent are counted in it (an update each before).
    const leadWrites = commands.filter((c) => c.command.update === Lead.collection.collectionName && JSON.stringify(c.command.updates).includes(id));
    expect(leadWrites).toHaveLength(1);
    const lead = await Lead.findById(id).lean();
    // Every reply since the window opened (send_time is in seconds: the first message may share the last one's window).
    await waitFor(() => sentTo(ext).length === 5, 'five replies');
    expect(lead!.kf!.sentSinceInbound).toBe(sentTo(ext).filter((m) => m.at >= lead!.kf!.lastInboundAt!.getTime()).length);
    expect(touchesOf(lead!).map((x) => x.eventKey)).toEqual(expect.arrayContaining(ids.map((m) => `kf|${KF}|${m}`)));
    await waitFor(() => sentTo(ext).length === 5, 'five replies');
    // Answered in the order written (our msgid of a reply is derived from the message it answers).
    expect(sentTo(ext).slice(1).map((m) => m.msgid)).toEqual(ids.map((m) => kfMsgid(`kf-reply|${KF}|${m}`)));
    // Each message on the lead's timeline, once, with its intent.
    const said = (await timelineOf(TEST_CORP.corpId, ext)).filter((st) => st.type === 'kf_message');
    expect(said.map((st) => st.detail.text)).toEqual(['你好', '谢谢', 'hello', '在吗', '你好']);
    expect(said.map((st) => st.id)).toEqual([first, ...ids].map((m) => `kf|${KF}|${m}#kf_message`));
    expect(said.every((st) => st.detail.intent !== undefined && st.detail.openKfid === KF)).toBe(true);
  });

  it("seven messages in one page: five replies use the window, the other two are recorded as held back, and WeCom never refuses one", async () => {
    const ext = customer();
    // The last two are pricing questions, whose reply carries a case study (a fence of its own).
    const ids = await writes(ext, ['你好', '谢谢', 'hello', '在吗', '你好', '报价多少', '价格']);
    commands.length = 0;
    await kf().postCallback(KF);
    for (const id of ids) await handled(id);
    const outcomes = (await Promise.all(ids.map((id) => KfHandled.findById(`${KF}|${id}`).lean()))).map((m) => m!.outcome.replace(/^intent:[^:]+:/, ''));
    expect(outcomes).toEqual(['sent', 'sent', 'sent', 'sent', 'sent', 'window_full', 'window_full']);
    expect(sentTo(ext)).toHaveLength(5);
    // The bot never asked WeCom for a sixth (it would have answered 95001 [D:94677]).
    expect(t.sandbox.state.callsTo('kf/send_msg').filter((c) => (c.body as { touser?: string }).touser === ext)).toHaveLength(5);
    // The run wrote its outcomes before its messages were marked handled (no records job each): all seven are on record.
    const records = await Delivery.find({ _id: { $in: ids.map((m) => `kf-reply|${KF}|${m}`) } }).lean();
    expect(records.map((d) => `${d.status}${d.reason ? `:${d.reason}` : ''}`).sort()).toEqual(['sent', 'sent', 'sent', 'sent', 'sent', 'skipped:window_full', 'skipped:window_full']);
    // The five sends are counted on the lead's window by the run, in one update (one per reply before).
    const id = leadId(TEST_CORP.corpId, ext);
    expect((await Lead.findById(id).lean())!.kf!.sentSinceInbound).toBe(5);
    const counts = commands.filter((c) => c.command.update === Lead.collection.collectionName && JSON.stringify(c.command.updates).includes('kf.sentSinceInbound'));
    expect(counts).toHaveLength(1);
    // A reply that found the window full took its attempt fence and nothing else: nothing was taken only to be given back.
    expect(commands.filter((c) => c.command.delete === Fence.collection.collectionName)).toHaveLength(0);
    expect(await Fence.findById(`kf-reply|${KF}|${ids[5]}#1`).lean()).not.toBeNull();
  });

  it('a case study the lead has had is not tried again: a second pricing question takes no fence only to find it held', async () => {
    const ext = customer();
    const asked = (await kf().customerSays(KF, ext, '报价多少')).msgid;
    await handled(asked);
    // The first answer carries the one general case study (the lead has no industry).
    expect((await Delivery.findById(`kf-reply|${KF}|${asked}`).lean())!.caseSlug).toBe('general-a');
    commands.length = 0;
    await handled((await kf().customerSays(KF, ext, '价格怎么算')).msgid);
    await waitFor(() => sentTo(ext).length === 2, 'the second reply');
    const fenceReads = commands.filter((c) => c.command.find === Fence.collection.collectionName);
    const fenceDeletes = commands.filter((c) => c.command.delete === Fence.collection.collectionName);
    // Before, the reply took a unit of the window, found the first case held (a read), gave the unit back (a delete).
    expect(fenceReads).toHaveLength(0);
    expect(fenceDeletes).toHaveLength(0);
    const records = await Delivery.find({ externalUserId: ext, kind: 'kf_reply' }).lean();
    expect(records.map((d) => `${d.status}:${d.caseSlug}`).sort()).toEqual(['sent:general-a', 'sent:null']);
  });

  it("a customer's messages from later pages join their run that waits to start: one run, one read of the lead, for them", async () => {
    const ext = customer();
    const id = leadId(TEST_CORP.corpId, ext);
    const syncs = () => t.sandbox.state.callsTo('kf/sync_msg').length;
    // Each of the next two pages is held 1 s on its way back (callbacks arrive while the sync runs: it fetches on),
    // and the first reply 4 s (the customer's first run is still going while the later pages come). Each message is
    // written once the page before it was asked for, so each page holds one of them.
    t.sandbox.state.inject({ api: 'kf/sync_msg', delayAfterMs: 1000, times: 2 });
    t.sandbox.state.inject({ api: 'kf/send_msg', delayAfterMs: 4000, times: 1 });
    commands.length = 0;
    const before = syncs();
    const first = (await kf().customerSays(KF, ext, '你好')).msgid;
    await waitFor(() => syncs() >= before + 1, 'the first page asked for');
    const second = (await kf().customerSays(KF, ext, '谢谢')).msgid;
    await waitFor(() => syncs() >= before + 2, 'the second page asked for');
    const third = (await kf().customerSays(KF, ext, 'hello')).msgid;
    for (const m of [first, second, third]) await handled(m);
    expect(syncs() - before).toBeGreaterThanOrEqual(3);
    // Two runs: the first, and the second and third messages together (three before: a read of the lead each).
    const reads = commands.filter((c) => c.command.find === Lead.collection.collectionName && (c.command.filter as { _id?: string })._id === id);
    expect(reads).toHaveLength(2);
    await waitFor(() => sentTo(ext).length === 3, 'three replies');
    expect(sentTo(ext).map((m) => m.msgid)).toEqual([first, second, third].map((m) => kfMsgid(`kf-reply|${KF}|${m}`)));
    // The account idle again: no sync job of this test is left waiting for the next.
    await waitFor(async () => Object.values(await t.bot.ctx.queues.get('kf-sync').getJobCounts('active', 'waiting', 'delayed')).every((c) => c === 0), 'the account idle');
  }, 30_000);

  it('a burst of callbacks while a sync runs makes one waiting sync job, not one each (and no events job), and no message is left behind', async () => {
    const states = ['completed', 'delayed', 'waiting', 'active', 'failed'] as const;
    const before = new Set((await t.bot.ctx.queues.get('kf-sync').getJobs([...states])).map((j) => j.id));
    // Each page is held 400 ms on its way back: the callbacks arrive while a sync runs.
    t.sandbox.state.inject({ api: 'kf/sync_msg', delayAfterMs: 400, times: 3 });
    const exts = [customer(), customer(), customer()];
    const ids = (await Promise.all(exts.map(async (ext) => [(await kf().customerSays(KF, ext, '你好')).msgid, (await kf().customerSays(KF, ext, '谢谢')).msgid, (await kf().customerSays(KF, ext, 'hello')).msgid, (await kf().customerSays(KF, ext, '在吗')).msgid]))).flat();
    for (const id of ids) await handled(id);
    for (const ext of exts) await waitFor(() => sentTo(ext).length === 4, `4 replies to ${ext}`);
    const jobs = (await t.bot.ctx.queues.get('kf-sync').getJobs([...states])).filter((j) => !before.has(j.id));
    expect(jobs.length).toBeGreaterThanOrEqual(1);
    // Twelve callbacks; one job each before.
    expect(jobs.length).toBeLessThan(6);
    // The ingest asks for the sync itself: a 客服 callback is no events job (its family handles it inline).
    expect((await t.bot.ctx.queues.get('events').getJobs([...states])).filter((j) => j.name === 'kf_msg_or_event')).toHaveLength(0);
  });

  it("a customer whose message fails is set aside in a job of its own: the page's other customers are answered and the cursor moves on", async () => {
    const failing = customer();
    const ok = customer();
    // A send failure WeCom reports for a message the bot has no record of: its handling fails until its last attempt.
    const failId = kf().appendEvent(KF, { event_type: 'msg_send_fail', open_kfid: KF, external_userid: failing, fail_msgid: 'neverrecorded0001', fail_type: 4 });
    const cursorBefore = (await KfCursor.findById(`${TEST_CORP.corpId}:${KF}`).lean())?.cursor;
    const okId = (await kf().customerSays(KF, ok, '你好')).msgid;
    await handled(okId);
    await waitFor(() => sentTo(ok).length === 1, 'the other customer answered');
    const { redis, keys } = t.bot.ctx;
    const jobId = await waitFor(() => redis.hget(keys.kfSetAside(KF), failing), 'set aside');
    expect(jobId!.startsWith(`kf-in|${KF}|${failId}|`)).toBe(true);
    const job = await t.bot.ctx.queues.get('kf-inbound').getJob(jobId!);
    expect(job!.data.msgs.map((m: { msgid: string }) => m.msgid)).toEqual([failId]);
    expect((await KfMessage.findById(`${KF}|${failId}`).lean())?.pending).toBe(true);
    await waitFor(async () => (await KfCursor.findById(`${TEST_CORP.corpId}:${KF}`).lean())?.cursor !== cursorBefore, 'cursor moved past the page');
  });

  it('a sync asked for whose job was lost with its process is resumed by the reconciler', async () => {
    // No sync of the account runs or waits (earlier tests' are done).
    await waitFor(async () => Object.values(await t.bot.ctx.queues.get('kf-sync').getJobCounts('active', 'waiting', 'delayed')).every((c) => c === 0), 'the account idle');
    const ext = customer();
    const [msgid] = await writes(ext, ['你好']);
    // The callback's request counted, its job gone (the process died between the two, and the waiting mark expired).
    await t.bot.ctx.redis.incr(t.bot.ctx.keys.kfSyncRequested(KF));
    await new Promise((r) => setTimeout(r, 500));
    expect(sentTo(ext)).toHaveLength(0);
    expect((await reconcileKf(t.bot.ctx)).syncs).toBe(1);
    await handled(msgid!);
    await waitFor(() => sentTo(ext).length === 1, 'answered');
  });

  it('a page fetched again: no message is handled twice, nor one marked handled on its own document (as stored before kf_handled)', async () => {
    const ext = customer();
    const id = `${TEST_CORP.corpId}:${KF}`;
    const idle = () => waitFor(async () => ((await KfCursor.findById(id).lean())?.syncing ?? null) === null, 'the sync over');
    await idle();
    const cursorBefore = (await KfCursor.findById(id).lean())?.cursor;
    const ids = await writes(ext, ['你好', '谢谢']);
    await kf().postCallback(KF);
    for (const msgid of ids) await handled(msgid);
    await idle();
    // The first as the bot marked messages until 2026-12-06: on its own document, with no mark in kf_handled.
    await KfHandled.deleteOne({ _id: `${KF}|${ids[0]}` });
    await KfMessage.updateOne({ _id: `${KF}|${ids[0]}` }, { $set: { handledAt: new Date(), outcome: 'intent:hello:replied' } });
    // The cursor back before both: the next sync fetches them again, with a new message.
    await KfCursor.updateOne({ _id: id }, { $set: { cursor: cursorBefore ?? null } });
    const marked: string[] = [];
    const observe = (_kf: string, msgid: string) => void marked.push(msgid);
    handledObservers.add(observe);
    try {
      const [next] = await writes(ext, ['在吗']);
      await kf().postCallback(KF);
      await handled(next!);
      await idle();
      // The sync did fetch the two again: from the cursor set back.
      expect(t.sandbox.state.callsTo('kf/sync_msg').some((c) => ((c.body as { cursor?: string }).cursor ?? null) === (cursorBefore ?? null))).toBe(true);
      // Of this customer's messages, only the new one was handled (another test's job may finish meanwhile).
      expect(marked.filter((id) => [...ids, next].includes(id))).toEqual([next]);
      expect(await KfHandled.exists({ _id: `${KF}|${ids[0]}` })).toBeNull();
    } finally {
      handledObservers.delete(observe);
    }
  });
});
