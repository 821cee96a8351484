import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Delivery } from '../../src/store/models/delivery.js';
import { Enrollment } from '../../src/store/models/enrollment.js';
import { Lead } from '../../src/store/models/lead.js';
import { enroll } from '../../src/domain/nurture/enroll.js';
import { reconcile } from '../../src/domain/nurture/reconcile.js';
import { jobIds } from '../../src/queues/job-ids.js';
import { startTestBot, TEST_CORP, type TestBot } from '../helpers/test-bot.js';
import { waitFor } from '../helpers/wait-for.js';
import { killWorker, startWorkerProcess } from '../helpers/worker-process.js';

const STEPS = ['第一步', '第二步', '第三步'];
const texts = (t: TestBot, ext: string) =>
  t.sandbox.state
    .okCallsTo('externalcontact/add_msg_template')
    .filter((c) => (c.body as { external_userid: string[] }).external_userid.includes(ext))
    .map((c) => (c.body as { text: { content: string } }).text.content);

async function arrive(t: TestBot, name: string) {
  const c = t.newContact({ state: 'expo2026', name });
  await t.post(c.xml);
  await waitFor(() => Lead.findOne({ externalUserId: c.externalUserId }), 'lead stored');
  return { corpId: TEST_CORP.corpId, externalUserId: c.externalUserId };
}

describe('a nurture worker killed mid-run and restarted', () => {
  let t: TestBot;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    t = await startTestBot('nurture_kill', { role: 'web', env: { NURTURE_DAILY_CAP: '0', JOB_LOCK_MS: '2000', MASS_RESULT_POLL_SCHEDULE: '1h' } });
  });
  afterAll(async () => {
    for (const c of children) await killWorker(c);
    await t?.stop();
  });

  it('delivers every step exactly once; the step cut off mid-call is marked unknown, never resent', async () => {
    const first = startWorkerProcess(t.env, 'error');
    children.push(first);
    const who = await arrive(t, '被中断的');
    // WeCom is slow on the first step's call: the worker dies (SIGKILL) while WeCom is accepting the message.
    t.sandbox.state.inject({ api: 'externalcontact/add_msg_template', delayMs: 2000 });
    await enroll(t.bot.ctx, who, 'slow', 'zhangsan');
    await waitFor(() => t.sandbox.state.callsTo('externalcontact/add_msg_template').length > 0, 'first step in flight', 15_000);
    await killWorker(first);

    const second = startWorkerProcess(t.env, 'error');
    children.push(second);
    const e = await waitFor(async () => {
      const x = await Enrollment.findOne({ externalUserId: who.externalUserId });
      return x?.status === 'completed' ? x : null;
    }, 'sequence completed by the new worker', 30_000);

    // The customer got each step once: the first one reached WeCom before the crash and was not sent again.
    await waitFor(() => texts(t, who.externalUserId).length === 3, 'all three delivered', 5_000);
    expect(texts(t, who.externalUserId)).toEqual(STEPS);
    const deliveries = await Delivery.find({ externalUserId: who.externalUserId, kind: 'nurture' }).sort({ step: 1 }).lean();
    expect(deliveries.map((d) => d.status)).toEqual(['unknown', 'submitted', 'submitted']);
    expect(e.history.map((h) => h.outcome)).toEqual(['unknown', 'submitted', 'submitted']);
  });
});

describe('Redis flushed mid-run', () => {
  let t: TestBot;
  beforeAll(async () => {
    t = await startTestBot('nurture_flush', { env: { NURTURE_DAILY_CAP: '0', NURTURE_RECONCILE_SECONDS: '0', MASS_RESULT_POLL_SCHEDULE: '1h' } });
  });
  afterAll(async () => t?.stop());

  it('the reconciler restores every pending step from MongoDB: none lost, none doubled', async () => {
    const leads = await Promise.all(Array.from({ length: 6 }, (_, i) => arrive(t, `客户${i}`)));
    for (const who of leads) await enroll(t.bot.ctx, who, 'slow', 'zhangsan');
    await waitFor(() => leads.every((l) => texts(t, l.externalUserId).length >= 1), 'first steps sent', 15_000);

    // Everything the bot keeps in Redis is gone at once (as with FLUSHALL or a replaced Redis): queues, scheduled
    // jobs, token cache, locks. Done in one script so no step can run halfway through the flush.
    await t.bot.ctx.redis.eval(
      `local k = redis.call('KEYS', ARGV[1]) for i = 1, #k, 5000 do redis.call('DEL', unpack(k, i, math.min(i + 4999, #k))) end return #k`,
      0,
      `${t.config.QUEUE_PREFIX}:*`,
    );
    const restored = await reconcile(t.bot.ctx);
    expect(restored.steps).toBeGreaterThan(0);
    // Every active enrollment has its current step scheduled again (a step that was running re-scheduled its own).
    for (const e of await Enrollment.find({ status: 'active' })) {
      expect(await t.bot.ctx.queues.get('nurture').getJob(jobIds.nurtureStep(e.id, e.step))).toBeDefined();
    }
    // A second pass finds nothing missing: deterministic ids, nothing doubled.
    expect((await reconcile(t.bot.ctx)).steps).toBe(0);

    await waitFor(async () => (await Enrollment.countDocuments({ status: 'completed' })) === leads.length, 'every sequence completed', 45_000);
    for (const who of leads) expect(texts(t, who.externalUserId)).toEqual(STEPS);
  });

  it('a job that lost its place in the delayed set (partial data loss) is found and rescheduled', async () => {
    const who = await arrive(t, '半丢失');
    const e = (await enroll(t.bot.ctx, who, 'slow', 'zhangsan'))!;
    const id = jobIds.nurtureStep(e.id, 0);
    await t.bot.ctx.redis.zrem(t.bot.ctx.queues.get('nurture').toKey('delayed'), id); // the hash survives, the schedule not
    expect((await reconcile(t.bot.ctx)).steps).toBe(1);
    expect(await (await t.bot.ctx.queues.get('nurture').getJob(id))?.getState()).toBe('delayed');
    await waitFor(() => texts(t, who.externalUserId).length === 3, 'sequence delivered', 20_000);
    expect(texts(t, who.externalUserId)).toEqual(STEPS);
  });
});

describe('WeCom times out on a send', () => {
  let t: TestBot;
  beforeAll(async () => {
    t = await startTestBot('nurture_timeout', { env: { NURTURE_DAILY_CAP: '0', WECOM_API_TIMEOUT_MS: '400', MASS_RESULT_POLL_SCHEDULE: '1h' } });
  });
  afterAll(async () => t?.stop());

  it('marks the step unknown and never sends it again (WeCom may have accepted it); the rest goes on', async () => {
    const who = await arrive(t, '超时的');
    // WeCom takes 1.2 s to accept the first mass message: our call times out at 400 ms, but WeCom still creates it.
    t.sandbox.state.inject({ api: 'externalcontact/add_msg_template', delayMs: 1200 });
    await enroll(t.bot.ctx, who, 'slow', 'zhangsan');
    await waitFor(async () => (await Enrollment.findOne({ externalUserId: who.externalUserId }))?.status === 'completed', 'completed', 20_000);
    await new Promise((r) => setTimeout(r, 1000)); // let the slow call land in the sandbox
    expect(texts(t, who.externalUserId)).toEqual(STEPS);
    expect(t.sandbox.state.callsTo('externalcontact/add_msg_template').filter((c) => (c.body as { external_userid: string[] }).external_userid.includes(who.externalUserId))).toHaveLength(3);
    const first = await Delivery.findOne({ externalUserId: who.externalUserId, kind: 'nurture', step: 0 }).lean();
    expect(first?.status).toBe('unknown');
    expect(first?.reason).toContain('timeout');
  });
});

