import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pause, resume } from '../../src/domain/pause/pauses.js';
import { jobIds } from '../../src/queues/job-ids.js';
import { Enrollment } from '../../src/store/models/enrollment.js';
import { leadId } from '../../src/store/models/lead.js';
import { TEST_CORP } from '../fixtures/test-corp.js';
import { wecomXml } from '../fixtures/wecom/index.js';
import { startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('pauses', { env: { NURTURE_DAILY_CAP: '0' } });
});
afterAll(async () => h?.stop());

let n = 0;
/** A lead on channel slowseq (sequence slow), its first step due now. */
async function due() {
  const ext = `wm_pause_${++n}_${Date.now()}`;
  h.sandbox.state.contacts.addCustomer({ externalUserId: ext, name: '暂停', userId: 'zhangsan', state: 'slowseq' });
  await h.handle(wecomXml('contact/add_external_contact', { ToUserName: TEST_CORP.corpId, ExternalUserID: ext, State: 'slowseq', WelcomeCode: null, CreateTime: Math.floor(Date.now() / 1000) }));
  const e = (await Enrollment.findOne({ externalUserId: ext }))!;
  await Enrollment.updateOne({ _id: e._id }, { $set: { dueAt: new Date(Date.now() - 1000) } });
  return { ext, e, lead: leadId(TEST_CORP.corpId, ext) };
}
const sentTo = (ext: string) => h.sandbox.state.okCallsTo('externalcontact/add_msg_template').filter((c) => (c.body as { external_userid: string[] }).external_userid.includes(ext));

describe('pauses', () => {
  for (const kind of ['lead', 'sequence', 'channel'] as const) {
    it(`a paused ${kind} holds the step where it is (nothing sent, no trace); resumed, the step runs at once`, async () => {
      const { ext, e, lead } = await due();
      const target = kind === 'lead' ? lead : kind === 'sequence' ? 'slow' : 'slowseq';
      expect(await pause(h.ctx, { kind, target }, { actor: 'lisi', reason: '展会后统一跟进' })).toBe(true);
      expect(await pause(h.ctx, { kind, target }, { actor: 'lisi' })).toBe(false);
      const queue = h.ctx.queues.get('nurture');
      // The scheduled step job itself runs (now: it is due) and puts itself off, for about 10 minutes.
      await (await queue.getJob(jobIds.nurtureStep(e.id, 0)))!.promote();
      await h.drain('nurture');
      const job = (await queue.getJob(jobIds.nurtureStep(e.id, 0)))!;
      expect(await job.isDelayed()).toBe(true);
      expect(job.timestamp + job.delay - Date.now()).toBeGreaterThan(9 * 60_000);
      expect(sentTo(ext)).toHaveLength(0);
      expect((await Enrollment.findById(e.id).lean())?.history ?? []).toEqual([]);
      expect(await resume(h.ctx, { kind, target }, { actor: 'lisi' })).toBe(true);
      expect(await job.isDelayed()).toBe(false);
      await h.drain('nurture');
      expect(sentTo(ext)).toHaveLength(1);
      expect((await Enrollment.findById(e.id).lean())?.step).toBe(1);
    });
  }

  it('a pause holds after Redis lost the set of pauses, before any reconcile rebuilds it', async () => {
    const { ext, e, lead } = await due();
    await pause(h.ctx, { kind: 'lead', target: lead }, { actor: 'lisi' });
    await h.ctx.redis.del(h.ctx.keys.pauses());
    const queue = h.ctx.queues.get('nurture');
    await (await queue.getJob(jobIds.nurtureStep(e.id, 0)))!.promote();
    await h.drain('nurture');
    expect(await (await queue.getJob(jobIds.nurtureStep(e.id, 0)))!.isDelayed()).toBe(true);
    expect(sentTo(ext)).toHaveLength(0);
    expect(await h.ctx.redis.sismember(h.ctx.keys.pauses(), `lead:${lead}`)).toBe(1);
    await resume(h.ctx, { kind: 'lead', target: lead }, { actor: 'lisi' });
  });
});
