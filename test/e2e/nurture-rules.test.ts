import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Delivery } from '../../src/store/models/delivery.js';
import { Enrollment } from '../../src/store/models/enrollment.js';
import { Lead } from '../../src/store/models/lead.js';
import { inQuietHours, nextAllowedTime, startOfNextDay } from '../../src/domain/nurture/clock.js';
import { enroll } from '../../src/domain/nurture/enroll.js';
import { jobIds } from '../../src/queues/job-ids.js';
import { startTestBot, TEMPLATES_DIR, TEST_CORP, type TestBot } from '../helpers/test-bot.js';
import { waitFor } from '../helpers/wait-for.js';

const TZ = 'Asia/Shanghai';
/** A calendar zone where it is not near midnight now, so "the next day" in the cap test is hours away. */
const CAP_TZ = ['Asia/Shanghai', 'Europe/London', 'America/New_York'].find((tz) => {
  const h = Number(new Intl.DateTimeFormat('en-GB', { timeZone: tz, hour: '2-digit', hourCycle: 'h23' }).format(Date.now()));
  return h >= 2 && h <= 21;
})!;
const hhmm = (ms: number) => new Intl.DateTimeFormat('en-GB', { timeZone: TZ, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(ms);

let t: TestBot;
// Quiet hours that contain "now" (from an hour ago to two hours ahead), whenever the test runs.
const quiet = { start: hhmm(Date.now() - 3_600_000), end: hhmm(Date.now() + 2 * 3_600_000), timezone: TZ };

beforeAll(async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tpl-rules-'));
  cpSync(TEMPLATES_DIR, dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'sequences', 'quietnow.yaml'),
    `key: quietnow\nname: 静默时段测试\nquietHours: { start: "${quiet.start}", end: "${quiet.end}", timezone: ${TZ} }\nsteps:\n  - delay: 1s\n    text: "静默时段后才发"\n`,
  );
  t = await startTestBot('nurture_rules', { env: { TEMPLATES_DIR: dir, NURTURE_DAILY_CAP: '1', NURTURE_TIMEZONE: CAP_TZ, MASS_RESULT_POLL_SCHEDULE: '1h' } });
});
afterAll(async () => t?.stop());

async function lead(name: string) {
  const c = t.newContact({ state: 'expo2026', name });
  await t.post(c.xml);
  await waitFor(() => Lead.findOne({ externalUserId: c.externalUserId }), 'lead stored');
  return { corpId: TEST_CORP.corpId, externalUserId: c.externalUserId };
}
/** When BullMQ will run a delayed job: its score in the delayed set is timestamp * 0x1000 + a counter. */
async function delayedUntil(jobId: string): Promise<number> {
  const score = await t.bot.ctx.redis.zscore(t.bot.ctx.queues.get('nurture').toKey('delayed'), jobId);
  return Math.floor(Number(score) / 0x1000);
}
const massTo = (ext: string) =>
  t.sandbox.state.okCallsTo('externalcontact/add_msg_template').filter((c) => (c.body as { external_userid: string[] }).external_userid.includes(ext));

describe('quiet hours', () => {
  it('a step due inside quiet hours is scheduled for the first allowed minute', async () => {
    expect(inQuietHours(Date.now(), quiet)).toBe(true);
    const who = await lead('夜里来的');
    const e = (await enroll(t.bot.ctx, who, 'quietnow', 'zhangsan'))!;
    const expected = nextAllowedTime(Date.now(), quiet);
    expect(Math.abs(e.dueAt!.getTime() - expected)).toBeLessThan(61_000);
    expect(hhmm(e.dueAt!.getTime())).toBe(quiet.end);
    const job = await t.bot.ctx.queues.get('nurture').getJob(jobIds.nurtureStep(e.id, 0));
    expect(await job?.getState()).toBe('delayed');
    expect(job!.timestamp + job!.delay).toBeGreaterThanOrEqual(e.dueAt!.getTime() - 1000);
  });

  it('a step that fell due before quiet hours and runs inside them defers itself instead of sending', async () => {
    const who = await lead('被恢复的');
    const e = (await enroll(t.bot.ctx, who, 'quietnow', 'zhangsan'))!;
    // The step fell due before quiet hours began (the worker was down): its job runs now, in the middle of them.
    await Enrollment.updateOne({ _id: e.id }, { $set: { dueAt: new Date(Date.now() - 60_000) } });
    const job = await t.bot.ctx.queues.get('nurture').getJob(jobIds.nurtureStep(e.id, 0));
    await job!.changeDelay(0);
    const deferred = await waitFor(async () => {
      const x = await Enrollment.findById(e.id);
      return x?.history.some((h) => h.outcome === 'deferred') ? x : null;
    }, 'deferred');
    expect(deferred.history.at(-1)?.detail).toMatchObject({ reason: 'quiet_hours' });
    expect(hhmm(deferred.dueAt!.getTime())).toBe(quiet.end);
    await waitFor(async () => (await (await t.bot.ctx.queues.get('nurture').getJob(jobIds.nurtureStep(e.id, 0)))!.getState()) === 'delayed', 'job moved to the delayed set');
    expect(Math.abs((await delayedUntil(jobIds.nurtureStep(e.id, 0))) - deferred.dueAt!.getTime())).toBeLessThan(1_000);
    expect(massTo(who.externalUserId)).toHaveLength(0);
    expect(await Delivery.countDocuments({ externalUserId: who.externalUserId })).toBe(1); // the welcome only
  });
});

describe('daily cap (NURTURE_DAILY_CAP=1)', () => {
  it('moves a capped step to the next day instead of dropping it', async () => {
    const who = await lead('每天一条');
    const e = (await enroll(t.bot.ctx, who, 'slow', 'zhangsan'))!;
    // Step 1 goes out; step 2 (2 s later, same day) is over the cap.
    const deferred = await waitFor(async () => {
      const x = await Enrollment.findById(e.id);
      return x?.step === 1 && x.history.some((h) => h.outcome === 'deferred') ? x : null;
    }, 'second step deferred', 15_000);
    expect(massTo(who.externalUserId)).toHaveLength(1);
    expect(deferred.history.at(-1)?.detail).toMatchObject({ reason: 'daily_cap' });
    expect(deferred.dueAt!.getTime()).toBe(startOfNextDay(Date.now(), CAP_TZ));
    const job = await t.bot.ctx.queues.get('nurture').getJob(jobIds.nurtureStep(e.id, 1));
    await waitFor(async () => (await job!.getState()) === 'delayed', 'job moved to the delayed set');
    expect(Math.abs((await delayedUntil(job!.id!)) - deferred.dueAt!.getTime())).toBeLessThan(1_000);
    expect(deferred.status).toBe('active');
  });

  it('counts across sequences: a second sequence the same day waits too', async () => {
    const who = await lead('两个序列');
    await enroll(t.bot.ctx, who, 'slow', 'zhangsan');
    const other = (await enroll(t.bot.ctx, who, 'fast', 'zhangsan'))!;
    await waitFor(async () => (await Enrollment.findById(other.id))?.history.some((h) => h.outcome === 'deferred'), 'fast deferred by the cap', 15_000);
    await new Promise((r) => setTimeout(r, 2500));
    expect(massTo(who.externalUserId)).toHaveLength(1);
  });
});
