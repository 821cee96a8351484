import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcileKf } from '../../src/domain/kf/reconcile.js';
import { jobIds } from '../../src/queues/job-ids.js';
import { KfHandled } from '../../src/store/models/kf.js';
import { Lead } from '../../src/store/models/lead.js';
import { timelineOf } from '../../src/store/timeline.js';
import { startTestBot, TEST_CORP, type TestBot } from '../helpers/test-bot.js';
import { waitFor } from '../helpers/wait-for.js';

// Outside service hours: hours that open three hours from now (in Asia/Shanghai), for one hour, every day.
const KF = 'wkHOURS01';
const hour = (Number(new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Shanghai', hour: '2-digit', hourCycle: 'h23' }).format(new Date())) + 3) % 24;
const HOURS = `Mon-Sun ${String(hour).padStart(2, '0')}:00-${String(hour + 1).padStart(2, '0')}:00`;
let t: TestBot;
beforeAll(async () => {
  t = await startTestBot('kf_hours', { env: { SERVICE_HOURS: HOURS }, sandbox: { kfAccounts: [{ openKfid: KF, servicers: ['zhangsan'] }] } });
  t.sandbox.state.callback = { url: `${t.url}/wecom/callback`, token: TEST_CORP.token, encodingAesKey: TEST_CORP.encodingAesKey };
});
afterAll(async () => t?.stop());

describe('outside service hours', () => {
  it('an unmatched message gets the hours and waits: the hand-off is due when they open, the clock counts from then', async () => {
    const ext = `wmHOURS${Date.now().toString(36)}`;
    const { msgid } = await t.sandbox.state.kf.customerSays(KF, ext, '你们的系统能和金蝶对接吗');
    await waitFor(async () => (await KfHandled.findById(`${KF}|${msgid}`).lean())?.at, 'handled');
    const sent = t.sandbox.state.kf.sent.filter((m) => m.touser === ext);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.content).toContain(`周一至周日 ${String(hour).padStart(2, '0')}:00-`);
    expect(t.sandbox.state.kf.transfers).toHaveLength(0);
    const lead = await waitFor(async () => {
      const l = await Lead.findOne({ externalUserId: ext }).lean();
      return l?.kf?.handoffAt && l.kf.clock ? l : null;
    }, 'hand-off and clock planned');
    const opening = lead.kf!.handoffAt!.getTime();
    expect(opening - Date.now()).toBeGreaterThan(2 * 3_600_000 - 120_000);
    expect(opening - Date.now()).toBeLessThan(3 * 3_600_000 + 60_000);
    // The clock's first deadline is the target counted from the opening (grade C: SERVICE_REPLY_TARGET_SECONDS, 600 s:
    // the templates' scoring sets a target of its own for S only).
    expect(lead.kf!.clock!.targetSeconds).toBe(600);
    expect(lead.kf!.clock!.firstDue.getTime()).toBe(opening + lead.kf!.clock!.targetSeconds * 1000);
    const job = await t.bot.ctx.queues.get('kf-handoff').getJob(jobIds.kfHandoff(lead._id, opening));
    expect(await job?.isDelayed()).toBe(true);
    // The hours open: the waiting hand-off runs.
    await job!.promote();
    await waitFor(() => t.sandbox.state.kf.transfers.some((x) => x.externalUserId === ext && x.to === 3 && x.servicer === 'zhangsan'), 'handed off at opening');
    await waitFor(async () => (await Lead.findOne({ externalUserId: ext }).lean())?.kf?.handoffAt === null, 'no hand-off waiting');
  });
  /** An unmatched message out of hours: its lead, with the hand-off planned for the opening, and that job. */
  const waitingForHours = async (ext: string) => {
    const { msgid } = await t.sandbox.state.kf.customerSays(KF, ext, '你们的系统能和金蝶对接吗');
    await waitFor(async () => (await KfHandled.findById(`${KF}|${msgid}`).lean())?.at, 'handled');
    const lead = await waitFor(async () => {
      const l = await Lead.findOne({ externalUserId: ext }).lean();
      return l?.kf?.handoffAt && l.kf.clock ? l : null;
    }, 'hand-off and clock planned');
    const job = (await t.bot.ctx.queues.get('kf-handoff').getJob(jobIds.kfHandoff(lead._id, lead.kf!.handoffAt!.getTime())))!;
    return { lead, job };
  };

  it('a waiting hand-off whose session has ended when the hours open is dropped, not tried again and again', async () => {
    const ext = `wmHOURSend${Date.now().toString(36)}`;
    const { job } = await waitingForHours(ext);
    // The session ends on WeCom's side before the hours open (no event about it reaches the bot).
    t.sandbox.state.kf.session(KF, ext)!.state = 4;
    await job.promote();
    await waitFor(async () => (await Lead.findOne({ externalUserId: ext }).lean())?.kf?.handoffAt === null, 'the waiting hand-off dropped');
    expect(t.sandbox.state.kf.transfers.filter((x) => x.externalUserId === ext)).toHaveLength(0);
    expect((await timelineOf(TEST_CORP.corpId, ext)).find((st) => st.type === 'kf_handoff_failed')?.detail).toMatchObject({ reason: 'session_ended' });
    // Nothing left for the reconciler to plan again.
    expect((await reconcileKf(t.bot.ctx)).handoffs).toBe(0);
  });

  it('a customer back after 48 h of quiet starts afresh: the old session\'s waiting hand-off and clock are closed, and a greeting is not handed to a person', async () => {
    const ext = `wmHOURSback${Date.now().toString(36)}`;
    const { lead, job } = await waitingForHours(ext);
    // As if that message was two days ago: the session it opened is over.
    const ago = new Date(Date.now() - 49 * 3_600_000);
    await Lead.updateOne({ _id: lead._id }, { $set: { 'kf.lastInboundAt': ago, 'kf.sessionStartedAt': ago } });
    const { msgid } = await t.sandbox.state.kf.customerSays(KF, ext, '谢谢');
    await waitFor(async () => (await KfHandled.findById(`${KF}|${msgid}`).lean())?.at, 'handled');
    const back = (await Lead.findOne({ externalUserId: ext }).lean())!;
    expect(back.kf).toMatchObject({ handoffAt: null, clock: null, state: 0 });
    expect((await timelineOf(TEST_CORP.corpId, ext)).find((st) => st.type === 'kf_clock_closed')?.detail).toMatchObject({ reason: 'new_session' });
    // The old job, run at the opening, finds nothing to do: the new session stays the bot's.
    await job.promote();
    await waitFor(async () => ['completed', 'unknown'].includes(await job.getState()), 'the old hand-off job ran');
    expect(t.sandbox.state.kf.transfers.filter((x) => x.externalUserId === ext)).toHaveLength(0);
    expect(t.sandbox.state.kf.sent.filter((m) => m.touser === ext)).toHaveLength(2);
  });
});
