import type { CommandStartedEvent } from 'mongodb';
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runNurtureStep } from '../../src/domain/nurture/run-step.js';
import { restorePauses } from '../../src/domain/pause/pauses.js';
import { jobIds } from '../../src/queues/job-ids.js';
import { Enrollment } from '../../src/store/models/enrollment.js';
import { Fence } from '../../src/store/models/fence.js';
import { leadId } from '../../src/store/models/lead.js';
import { timelineOf } from '../../src/store/timeline.js';
import { TEST_CORP } from '../fixtures/test-corp.js';
import { wecomXml } from '../fixtures/wecom/index.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { testEnv } from '../helpers/test-bot.js';

let h: Harness;
const commands: CommandStartedEvent[] = [];
beforeAll(async () => {
  // The driver reports every command it sends (monitorCommands), which is how a step's database work is counted.
  const base = testEnv('x', 'http://x').MONGODB_URI!;
  h = await startHarness('nurture-step-job', { env: { MONGODB_URI: `${base.replace(/\/[^/]*$/, '')}/${`t_step_${Date.now()}`}?monitorCommands=true`, NURTURE_DAILY_CAP: '1' } });
  mongoose.connection.getClient().on('commandStarted', (e) => commands.push(e));
  // The set of pauses senders check, as the bot's start (its reconcile) builds it.
  await restorePauses(h.ctx);
});
afterAll(async () => h?.stop());

/** A customer added on channel `slowseq` (sequence `slow`, 3 steps): returns its enrollment, due now, its job removed. */
async function enrolledLead(ext: string) {
  h.sandbox.state.contacts.addCustomer({ externalUserId: ext, name: '测试', userId: 'zhangsan', state: 'slowseq' });
  await h.handle(wecomXml('contact/add_external_contact', { ToUserName: TEST_CORP.corpId, ExternalUserID: ext, State: 'slowseq', WelcomeCode: null, CreateTime: Math.floor(Date.now() / 1000) }));
  const e = (await Enrollment.findOne({ externalUserId: ext }))!;
  await h.ctx.queues.get('nurture').remove(jobIds.nurtureStep(e.id, 0));
  await Enrollment.updateOne({ _id: e._id }, { $set: { dueAt: new Date(Date.now() - 1000) } });
  return e;
}

const ours = (c: CommandStartedEvent) => ['find', 'insert', 'update', 'delete', 'aggregate', 'count', 'findAndModify'].includes(c.commandName);

describe('a nurture step job', () => {
  it('sends with four MongoDB commands, each by _id or an insert: read enrollment, read lead, take fences, advance', async () => {
    const ext = `wm_step_${Date.now()}`;
    const e = await enrolledLead(ext);
    commands.length = 0;
    const { result, error } = await h.runJob('nurture', { e: e.id, s: 0, l: leadId(TEST_CORP.corpId, ext) });
    expect(error).toBeUndefined();
    expect(result).toBe('submitted');
    const used = commands.filter(ours).map((c) => {
      const cmd = c.command as Record<string, unknown> & { filter?: Record<string, unknown>; updates?: Array<{ q: Record<string, unknown> }> };
      return `${c.commandName} ${String(cmd[c.commandName])} ${JSON.stringify(Object.keys(cmd.filter ?? cmd.updates?.[0]?.q ?? {}))}`;
    });
    expect(used).toEqual(['find enrollments ["_id"]', 'find leads ["_id"]', 'insert fences []', 'update enrollments ["_id"]']);
    // What the insert took: the day's unit of the cap, a unit of the mass quota, and attempt 1.
    const fences = await Fence.find({ for: `nurture|${e.id}|0` }).lean();
    expect(fences.map((f) => f.kind).sort()).toEqual(['attempt', 'day', 'mass']);
    const after = await Enrollment.findById(e.id).lean();
    expect(after?.step).toBe(1);
    expect(after?.history.map((x) => [x.outcome, x.via])).toEqual([['submitted', 'mass']]);
  });

  it('an enrollment whose step the sequence no longer has (its file was shortened) ends, instead of failing for ever', async () => {
    const ext = `wm_gone_${Date.now()}`;
    const e = await enrolledLead(ext);
    await Enrollment.updateOne({ _id: e._id }, { $set: { step: 7 } });
    const { result, error } = await h.runJob('nurture', { e: e.id, s: 7, l: leadId(TEST_CORP.corpId, ext) });
    expect(error).toBeUndefined();
    expect(result).toBe('stopped:steps_removed');
    expect(await Enrollment.findById(e.id).lean()).toMatchObject({ status: 'stopped', stopReason: 'steps_removed' });
    // The lead's timeline says so, as for any enrollment that stops.
    const stopped = (await timelineOf(TEST_CORP.corpId, ext)).filter((x) => x.type === 'enrollment_stopped');
    expect(stopped.map((x) => x.detail)).toEqual([expect.objectContaining({ reason: 'steps_removed', atStep: 7 })]);
  });

  it('steps running at once share their fence inserts and their advance: fewer commands than one each', async () => {
    // How many share a write depends on when each step reaches it: on a loaded machine 12 steps can each arrive alone.
    // Up to three rounds of 12; every round must be right, and one must show the writes shared (each step writing
    // alone in every round means they are not).
    let shared = false;
    for (let round = 0; round < 3 && !shared; round++) {
      const es = await Promise.all(Array.from({ length: 12 }, (_, i) => enrolledLead(`wm_shared_${round}_${i}_${Date.now()}`)));
      commands.length = 0;
      const results = await Promise.all(es.map((e) => runNurtureStep(h.ctx, { enrollmentId: e.id, step: 0, leadId: leadId(TEST_CORP.corpId, e.externalUserId), lastAttempt: false })));
      expect(results.map((r) => r.result)).toEqual(Array(12).fill('submitted'));
      const named = commands.filter(ours).map((c) => `${c.commandName} ${String((c.command as Record<string, unknown>)[c.commandName])}`);
      // Each step reads its enrollment and its lead; the writes are shared (the fences of a batch go position by
      // position, 3 inserts for all of its steps).
      expect(named.filter((n) => n === 'find enrollments')).toHaveLength(12);
      const fenceInserts = named.filter((n) => n === 'insert fences').length;
      const advances = named.filter((n) => n === 'update enrollments').length;
      expect(fenceInserts).toBeLessThanOrEqual(12);
      shared = fenceInserts < 12 && advances < 12;
      for (const e of es) {
        const fences = await Fence.find({ for: `nurture|${e.id}|0` }).lean();
        expect(fences.map((f) => f.kind).sort()).toEqual(['attempt', 'day', 'mass']);
        const after = await Enrollment.findById(e.id).lean();
        expect([after?.step, after?.history.map((x) => x.outcome)]).toEqual([1, ['submitted']]);
      }
    }
    expect(shared, 'in none of three rounds did 12 steps at once share their writes').toBe(true);
  });

  it('run again for the same step, it finds the step done and sends nothing (one read)', async () => {
    const ext = `wm_again_${Date.now()}`;
    const e = await enrolledLead(ext);
    await h.runJob('nurture', { e: e.id, s: 0, l: leadId(TEST_CORP.corpId, ext) });
    const calls = h.sandbox.state.okCallsTo('externalcontact/add_msg_template').length;
    commands.length = 0;
    const { result } = await h.runJob('nurture', { e: e.id, s: 0, l: leadId(TEST_CORP.corpId, ext) });
    expect(result).toBe('stale');
    expect(commands.filter(ours).map((c) => c.commandName)).toEqual(['find']);
    expect(h.sandbox.state.okCallsTo('externalcontact/add_msg_template')).toHaveLength(calls);
  });

  it('with the daily cap used by another send today, defers to tomorrow without sending', async () => {
    const ext = `wm_cap_${Date.now()}`;
    const e = await enrolledLead(ext);
    await h.runJob('nurture', { e: e.id, s: 0, l: leadId(TEST_CORP.corpId, ext) });
    await Enrollment.updateOne({ _id: e._id }, { $set: { dueAt: new Date(Date.now() - 1000) } });
    await h.ctx.queues.get('nurture').remove(jobIds.nurtureStep(e.id, 1));
    const before = h.sandbox.state.okCallsTo('externalcontact/add_msg_template').length;
    const { delayed } = await h.runJob('nurture', { e: e.id, s: 1, l: leadId(TEST_CORP.corpId, ext) });
    expect(delayed).toBe(true);
    expect(h.sandbox.state.okCallsTo('externalcontact/add_msg_template')).toHaveLength(before);
    expect((await Enrollment.findById(e.id).lean())?.history.at(-1)).toMatchObject({ outcome: 'deferred', detail: { reason: 'daily_cap' } });
  });
});

describe('job data', () => {
  it('that does not fit its kind’s schema fails at once, without retrying (UnrecoverableError)', async () => {
    // The records queue keeps failed jobs (for an operator), so the attempt count can be read back.
    const { job, error } = await h.runJob('records', { delivery: { key: 'k', status: 'no-such-status' } } as never);
    expect(error?.message).toMatch(/invalid records job data: .*delivery/);
    const fresh = await h.ctx.queues.get('records').getJob(job.id!);
    expect(await fresh?.getState()).toBe('failed');
    expect(fresh?.attemptsMade).toBe(1);
    expect(fresh?.opts.attempts).toBe(20);
  });
});
