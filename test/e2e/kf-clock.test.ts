import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Delivery } from '../../src/store/models/delivery.js';
import { KfHandled, KfResponse } from '../../src/store/models/kf.js';
import { Lead } from '../../src/store/models/lead.js';
import { timelineOf } from '../../src/store/timeline.js';
import { startTestBot, TEMPLATES_DIR, TEST_CORP, type TestBot } from '../helpers/test-bot.js';
import { waitFor } from '../helpers/wait-for.js';

// The service clock on a 2-second target (no grade sets its own here, so SERVICE_REPLY_TARGET_SECONDS applies).
const KF = 'wkCLOCK01';
const ADMIN = 'admin-token-for-the-clock-test';
let t: TestBot;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'kf-clock-'));
  cpSync(TEMPLATES_DIR, dir, { recursive: true });
  writeFileSync(path.join(dir, 'scoring.yaml'), 'grades: { S: 80, A: 50, B: 25 }\n');
  t = await startTestBot('kf_clock', {
    env: { TEMPLATES_DIR: dir, SERVICE_HOURS: 'Mon-Sun 00:00-24:00', SERVICE_REPLY_TARGET_SECONDS: '2', WECOM_OPS_WEBHOOK_KEY: 'ops-webhook-key-2', ADMIN_TOKEN: ADMIN },
    sandbox: { kfAccounts: [{ openKfid: KF, servicers: ['lisi'] }] },
  });
  t.sandbox.state.callback = { url: `${t.url}/wecom/callback`, token: TEST_CORP.token, encodingAesKey: TEST_CORP.encodingAesKey };
});
afterAll(async () => {
  await t?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const kf = () => t.sandbox.state.kf;
const admin = async <T>(path: string) => (await (await fetch(`${t.url}/admin/api${path}`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as T;
type WaitingList = { total: number; items: Array<{ externalUserId: string; level: number; targetSeconds: number; excerpt: string; waitedSeconds: number }> };
const waitingNow = async (ext: string) => (await admin<WaitingList>('/service/waiting')).items.find((w) => w.externalUserId === ext);
const notices = (ext: string) => t.sandbox.state.appMessages.sent.filter((m) => m.content?.includes('客服超时') && m.content.includes(ext.slice(-6)));
const alerts = (ext: string) => t.sandbox.state.webhook.sent.filter((m) => JSON.stringify(m).includes('客服回复超时') && JSON.stringify(m).includes(ext.slice(-6)));
const handedOff = async (ext: string) => {
  const { msgid } = await kf().customerSays(KF, ext, '转人工', { nickname: ext.slice(-6) });
  await waitFor(async () => (await KfHandled.findById(`${KF}|${msgid}`).lean())?.at, 'handled');
  await waitFor(async () => (await Lead.findOne({ externalUserId: ext }).lean())?.kf?.clock, 'clock running');
  return (await Lead.findOne({ externalUserId: ext }).lean())!.kf!.clock!;
};

describe('the service clock', () => {
  it('no reply: the servicer is told at the target, the ops group at twice the target, once each, within seconds of each deadline; the reply then stops it', async () => {
    const ext = `wmCLOCKslow${Date.now().toString(36)}`;
    const clock = await handedOff(ext);
    expect(clock.firstDue.getTime() - clock.startedAt.getTime()).toBe(2000);
    expect(clock.secondDue.getTime() - clock.startedAt.getTime()).toBe(4000);
    await waitFor(() => notices(ext).length === 1, 'the servicer told', 10_000);
    const notice = notices(ext)[0]!;
    expect(notice.touser).toEqual(['lisi']);
    expect(notice.at - clock.firstDue.getTime()).toBeGreaterThanOrEqual(0);
    expect(notice.at - clock.firstDue.getTime()).toBeLessThan(3000);
    await waitFor(() => alerts(ext).length === 1, 'the ops group told', 10_000);
    expect(alerts(ext)[0]!.at - clock.secondDue.getTime()).toBeLessThan(3000);
    // The service page lists the customer as waiting, past twice the target.
    const waiting = await waitFor(async () => ((await waitingNow(ext))?.level === 2 ? waitingNow(ext) : null), 'listed as waiting at level 2');
    expect(waiting).toMatchObject({ targetSeconds: 2, excerpt: '转人工' });
    expect(waiting!.waitedSeconds).toBeGreaterThanOrEqual(4);
    await new Promise((r) => setTimeout(r, 2500));
    expect(notices(ext)).toHaveLength(1);
    expect(alerts(ext)).toHaveLength(1);
    await kf().servicerSays(KF, ext, 'lisi', '抱歉久等了');
    const r = await waitFor(() => KfResponse.findOne({ externalUserId: ext }).lean(), 'response stored');
    expect(r).toMatchObject({ servicer: 'lisi', level: 2, targetSeconds: 2, openKfid: KF });
    expect(r.seconds).toBeGreaterThanOrEqual(6);
    await waitFor(async () => !(await waitingNow(ext)), 'no longer waiting once answered');
  });

  it('a reply before the target: no alert, ever; the response time is stored', async () => {
    const ext = `wmCLOCKfast${Date.now().toString(36)}`;
    await handedOff(ext);
    await kf().servicerSays(KF, ext, 'lisi', '您好');
    const r = await waitFor(() => KfResponse.findOne({ externalUserId: ext }).lean(), 'response stored');
    expect(r.level).toBe(0);
    expect(r.serviceSeconds).toBeLessThanOrEqual(2);
    await new Promise((r) => setTimeout(r, 5000));
    expect(notices(ext)).toHaveLength(0);
    expect(alerts(ext)).toHaveLength(0);
  });

  it('GET /admin/api/service: median and p90 first-response time per servicer and per channel', async () => {
    const res = await fetch(`${t.url}/admin/api/service`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { total: { count: number; medianSeconds: number; p90Seconds: number }; servicers: Array<{ name: string; count: number }>; channels: Array<{ name: string }> };
    expect(body.total.count).toBe(2);
    expect(body.total.p90Seconds).toBeGreaterThanOrEqual(body.total.medianSeconds);
    expect(body.servicers).toEqual([expect.objectContaining({ name: 'lisi', count: 2 })]);
    expect(body.channels.map((c) => c.name)).toEqual(['organic']);
    // Only the slow answer (past its 2 s target) is a breach.
    const breaches = (body as unknown as { breaches: Array<{ lead: string; servicer: string; serviceSeconds: number; targetSeconds: number }> }).breaches;
    expect(breaches).toEqual([expect.objectContaining({ servicer: 'lisi', targetSeconds: 2, lead: expect.stringContaining('wmCLOCKslow') })]);
    expect(breaches[0]!.serviceSeconds).toBeGreaterThan(2);
    // The period asked for: the day the clocks started (the default period ends today), and a month without any.
    const today = (body as unknown as { to: string }).to;
    expect(await admin<{ from: string; to: string; total: { count: number } }>(`/service?from=${today}&to=${today}`)).toMatchObject({ from: today, to: today, total: { count: 2 } });
    expect(await admin<{ total: { count: number; medianSeconds: number | null }; servicers: unknown[] }>('/service?from=2025-01-01&to=2025-01-31')).toMatchObject({ total: { count: 0, medianSeconds: null }, servicers: [] });
    const bad = await fetch(`${t.url}/admin/api/service?from=2026-13-01`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(bad.status).toBe(400);
    const doc = (await (await fetch(`${t.url}/admin/api/openapi.json`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toContain('/admin/api/service');
  });

  it('a reply whose callback has not come by the deadline: no alert; the deadline syncs the account first and finds it', async () => {
    const ext = `wmCLOCKlate${Date.now().toString(36)}`;
    await handedOff(ext);
    // WeCom's callback for the reply is late (or lost): only a sync can learn of it.
    await kf().servicerSays(KF, ext, 'lisi', '您好，我在', { post: false });
    const r = await waitFor(() => KfResponse.findOne({ externalUserId: ext }).lean(), 'response stored', 10_000);
    expect(r).toMatchObject({ servicer: 'lisi', level: 0 });
    await new Promise((r) => setTimeout(r, 3000));
    expect(notices(ext)).toHaveLength(0);
    expect(alerts(ext)).toHaveLength(0);
  });

  it('a reply that waits behind the customer\'s set-aside work counts: no notice, no alert, and the clock stops once it is handled', async () => {
    const ext = `wmCLOCKheld${Date.now().toString(36)}`;
    const clock = await handedOff(ext);
    // WeCom reports a failed send whose record the bot has not written yet, and the servicer replies: the customer's
    // run of the two fails until that record exists, and is set aside with the reply in it.
    const lateMsgid = `late${Date.now().toString(36)}`;
    kf().appendEvent(KF, { event_type: 'msg_send_fail', open_kfid: KF, external_userid: ext, fail_msgid: lateMsgid, fail_type: 4 });
    await kf().servicerSays(KF, ext, 'lisi', '您好，我来了');
    const { redis, keys } = t.bot.ctx;
    const jobId = await waitFor(() => redis.hget(keys.kfSetAside(KF), ext), 'the customer set aside', 20_000);
    expect((await redis.lrange(keys.kfSetAsideQueue(KF, ext), 0, -1)).join()).toContain('您好，我来了');
    // Both deadlines pass while the reply waits: nobody is told.
    await new Promise((r) => setTimeout(r, Math.max(0, clock.secondDue.getTime() + 2_500 - Date.now())));
    expect(notices(ext)).toHaveLength(0);
    expect(alerts(ext)).toHaveLength(0);
    // The record arrives; the set-aside work is handled, the reply with it: the clock stops, and still nobody is told.
    await Delivery.create({ _id: `nurture|late|${lateMsgid}`, key: `nurture|late|${lateMsgid}`, kind: 'nurture', corpId: TEST_CORP.corpId, externalUserId: ext, userId: 'zhangsan', status: 'sent', via: 'kf', msgid: lateMsgid });
    await (await t.bot.ctx.queues.get('kf-inbound').getJob(jobId!))?.promote().catch(() => undefined);
    await waitFor(async () => ((await Lead.findOne({ externalUserId: ext }).lean())?.kf?.clock ? null : true), 'the clock stopped', 30_000);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(notices(ext)).toHaveLength(0);
    expect(alerts(ext)).toHaveLength(0);
  });
  it('a session a servicer ends without replying takes its clock with it: the next unanswered message starts a clock of its own, with its own alerts', async () => {
    const ext = `wmCLOCKend${Date.now().toString(36)}`;
    const first = await handedOff(ext);
    await waitFor(() => alerts(ext).length === 1, 'the ops group told', 10_000);
    // The servicer ends the session in the client without a word: no one can answer in it any more.
    await kf().servicerEnds(KF, ext);
    await waitFor(async () => (await Lead.findOne({ externalUserId: ext }).lean())?.kf?.state === 4, 'the session ended');
    const ended = (await Lead.findOne({ externalUserId: ext }).lean())!;
    expect(ended.kf?.clock).toBeNull();
    await waitFor(async () => !(await waitingNow(ext)), 'no longer listed as waiting');
    const steps = await timelineOf(TEST_CORP.corpId, ext);
    expect(steps.find((st) => st.type === 'kf_clock_closed')?.detail).toMatchObject({ reason: 'session_ended', level: 2, msgid: first.msgid });
    // The customer comes back in a new session and asks for a person again: a clock from this message, both alerts.
    const second = await handedOff(ext);
    expect(second.id).not.toBe(first.id);
    expect(second.startedAt.getTime()).toBeGreaterThan(first.startedAt.getTime());
    await waitFor(() => notices(ext).length === 2, 'the servicer told again', 10_000);
    await waitFor(() => alerts(ext).length === 2, 'the ops group told again', 10_000);
    // Its response time counts from the new message, not from the first session's.
    await kf().servicerSays(KF, ext, 'lisi', '您好');
    const r = await waitFor(() => KfResponse.findById(second.id).lean(), 'response stored');
    expect(r.startedAt.getTime()).toBe(second.startedAt.getTime());
    expect(await KfResponse.exists({ _id: first.id })).toBeNull();
  });

  it('many deadlines of one account at once with no callback token kept: they share their syncs, and kf/sync_msg is not called without a token once per deadline (its strict limit) [D:94670]', async () => {
    const exts = [0, 1, 2, 3].map((i) => `wmCLOCKmany${Date.now().toString(36)}${i}`);
    await Promise.all(exts.map((ext) => handedOff(ext)));
    // The account's callbacks are older than a token lasts: every sync now is one without a token.
    await t.bot.ctx.redis.del(t.bot.ctx.keys.kfToken(KF));
    kf().noTokenCalls.delete(KF);
    for (const ext of exts) await waitFor(() => alerts(ext).length === 1, 'the ops group told', 15_000);
    for (const ext of exts) expect(notices(ext)).toHaveLength(1);
    expect(kf().noTokenCalls.get(KF)?.length ?? 0).toBeLessThanOrEqual(2);
  });
});
