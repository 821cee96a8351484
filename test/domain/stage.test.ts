import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { moveStage } from '../../src/domain/leads/stage.js';
import { enroll } from '../../src/domain/nurture/enroll.js';
import { Enrollment } from '../../src/store/models/enrollment.js';
import { Lead } from '../../src/store/models/lead.js';
import { timelineOf } from '../../src/store/timeline.js';
import { TEST_CORP } from '../fixtures/test-corp.js';
import { wecomXml } from '../fixtures/wecom/index.js';
import { startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('stage');
});
afterAll(async () => h?.stop());

let n = 0;
async function lead() {
  const ext = `wm_stage_${++n}_${Date.now()}`;
  await h.handle(wecomXml('contact/add_external_contact', { ToUserName: TEST_CORP.corpId, ExternalUserID: ext, State: 'notext', WelcomeCode: null, CreateTime: Math.floor(Date.now() / 1000) }));
  return { corpId: TEST_CORP.corpId, externalUserId: ext };
}

describe('moveStage, the one way a stage changes', () => {
  it('records the move on the timeline with what moved it, who and why', async () => {
    const ref = await lead();
    expect(await moveStage(h.ctx, ref, 'qualified', { by: 'staff', source: 'command', actor: 'lisi', reason: '要报价' })).toEqual({ from: 'added', to: 'qualified' });
    expect((await Lead.findOne({ externalUserId: ref.externalUserId }).lean())?.stage).toBe('qualified');
    const entry = (await timelineOf(ref.corpId, ref.externalUserId)).find((e) => e.type === 'stage_changed');
    expect(entry?.detail).toEqual({ from: 'added', to: 'qualified', by: 'staff', source: 'command', actor: 'lisi', reason: '要报价' });
  });

  it('a move to where the lead is already changes and records nothing', async () => {
    const ref = await lead();
    expect(await moveStage(h.ctx, ref, 'added', { by: 'system', source: 'test' })).toBeNull();
    expect((await timelineOf(ref.corpId, ref.externalUserId)).some((e) => e.type === 'stage_changed')).toBe(false);
  });

  it('ends the enrollments the new stage stops: stopOn stage:qualified, and every one at unsubscribed (stamped)', async () => {
    const ref = await lead();
    await enroll(h.ctx, ref, 'fast', 'zhangsan'); // stopOn includes stage:qualified
    await enroll(h.ctx, ref, 'slow', 'zhangsan'); // stopOn: [churn]
    await moveStage(h.ctx, ref, 'qualified', { by: 'system', source: 'test' });
    const byKey = async () => Object.fromEntries((await Enrollment.find({ externalUserId: ref.externalUserId }).lean()).map((e) => [e.sequenceKey, [e.status, e.stopReason]]));
    expect(await byKey()).toEqual({ fast: ['stopped', 'stage:qualified'], slow: ['active', null] });
    await moveStage(h.ctx, ref, 'unsubscribed', { by: 'system', source: 'test' });
    expect(await byKey()).toEqual({ fast: ['stopped', 'stage:qualified'], slow: ['stopped', 'unsubscribe'] });
    expect((await Lead.findOne({ externalUserId: ref.externalUserId }).lean())?.unsubscribedAt).toBeInstanceOf(Date);
  });
});
