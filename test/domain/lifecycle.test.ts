import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allowsMove, moveStage, resubscribeStage, type StageCause } from '../../src/domain/leads/stage.js';
import { FUNNEL, STAGES, type Stage } from '../../src/domain/vocabulary.js';
import { Lead } from '../../src/store/models/lead.js';
import { timelineOf } from '../../src/store/timeline.js';
import { TEST_CORP } from '../fixtures/test-corp.js';
import { wecomXml } from '../fixtures/wecom/index.js';
import { startHarness, type Harness } from '../helpers/harness.js';

const system = (source: string): StageCause => ({ by: 'system', source });
const rank = (s: Stage) => FUNNEL.indexOf(s);

describe('stage rules', () => {
  it('what the bot sees never moves a lead backwards in the funnel', () => {
    expect(allowsMove('qualified', 'engaged', system('click'))).toBe(false);
    expect(allowsMove('added', 'engaged', system('click'))).toBe(true);
    expect(allowsMove('engaged', 'qualified', system('intent'))).toBe(true);
    expect(allowsMove('customer', 'qualified', system('intent'))).toBe(false);
  });

  it('unsubscribed ends only by an explicit re-subscribe; a lost lead comes back only by adding us again', () => {
    for (const to of ['engaged', 'qualified', 'customer', 'added'] as const) expect(allowsMove('unsubscribed', to, system('click'))).toBe(false);
    expect(allowsMove('unsubscribed', 'lost', system('churn'))).toBe(false);
    expect(allowsMove('unsubscribed', 'engaged', system('resubscribe'))).toBe(true);
    // Subscribing again does not bring back a customer nobody of ours has any more: lost, until they add us again.
    expect(allowsMove('unsubscribed', 'lost', system('resubscribe'))).toBe(true);
    expect(resubscribeStage({ stageBeforeExit: 'qualified', owners: [{ status: 'left' }] })).toBe('lost');
    expect(resubscribeStage({ stageBeforeExit: 'qualified', owners: [{ status: 'left' }, { status: 'active' }] })).toBe('qualified');
    expect(resubscribeStage({ stageBeforeExit: 'engaged', owners: [] })).toBe('engaged');
    expect(allowsMove('lost', 'engaged', system('click'))).toBe(false);
    expect(allowsMove('lost', 'qualified', system('return'))).toBe(true);
    expect(allowsMove('customer', 'lost', system('churn'))).toBe(true);
    expect(allowsMove('opportunity', 'unsubscribed', system('unsubscribe'))).toBe(true);
  });

  it('staff may move a lead to any stage', () => {
    for (const from of STAGES) for (const to of STAGES) expect(allowsMove(from, to, { by: 'staff', source: 'api' })).toBe(from !== to);
  });
});

describe('stage moves on the real stores', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness('lifecycle');
  });
  afterAll(async () => h?.stop());

  let n = 0;
  const newLead = async () => {
    const ext = `wm_life_${++n}_${Date.now()}`;
    await h.handle(wecomXml('contact/add_external_contact', { ToUserName: TEST_CORP.corpId, ExternalUserID: ext, State: 'notext', WelcomeCode: null, CreateTime: Math.floor(Date.now() / 1000) - 100 }));
    return { corpId: TEST_CORP.corpId, externalUserId: ext };
  };
  const moves = async (ext: string) => (await timelineOf(TEST_CORP.corpId, ext)).filter((e) => e.type === 'stage_changed');

  it('a lead that comes back after leaving returns to the stage it had (a customer stays a customer)', async () => {
    const ref = await newLead();
    // In the order of their times, as a timeline reads: the signing, then the churn event, then the return.
    await moveStage(h.ctx, ref, 'customer', { by: 'staff', source: 'api', reason: '签约', at: new Date(Date.now() - 80_000) });
    await h.handle(wecomXml('contact/del_follow_user', { ToUserName: TEST_CORP.corpId, ExternalUserID: ref.externalUserId, CreateTime: Math.floor(Date.now() / 1000) - 50 }));
    expect((await Lead.findOne({ externalUserId: ref.externalUserId }).lean())?.stage).toBe('lost');
    await h.handle(wecomXml('contact/add_external_contact', { ToUserName: TEST_CORP.corpId, ExternalUserID: ref.externalUserId, State: 'notext', WelcomeCode: null, CreateTime: Math.floor(Date.now() / 1000) }));
    const lead = await Lead.findOne({ externalUserId: ref.externalUserId }).lean();
    expect(lead?.stage).toBe('customer');
    expect((await moves(ref.externalUserId)).map((m) => [m.detail.from, m.detail.to, m.detail.source])).toEqual([
      ['added', 'customer', 'api'],
      ['customer', 'lost', 'churn'],
      ['lost', 'customer', 'return'],
    ]);
    expect(lead?.reached).toMatchObject({ engaged: expect.any(Date), qualified: expect.any(Date), opportunity: expect.any(Date), customer: expect.any(Date) });
  });

  it('random orders of automatic events never move a stage backwards, and every move leaves one timeline entry', async () => {
    const events = ['click', 'reply', 'intent', 'opportunity', 'unsubscribe', 'resubscribe', 'churn', 'return'] as const;
    const target: Record<(typeof events)[number], Stage | 'back'> = {
      click: 'engaged', reply: 'engaged', intent: 'qualified', opportunity: 'opportunity', unsubscribe: 'unsubscribed', resubscribe: 'back', churn: 'lost', return: 'back',
    };
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom(...events), { minLength: 1, maxLength: 10 }), async (seq) => {
        const ref = await newLead();
        let stage: Stage = 'added';
        let applied = 0;
        for (const ev of seq) {
          const lead = (await Lead.findOne({ externalUserId: ref.externalUserId }).lean())!;
          const t = target[ev];
          const to: Stage = t === 'back' ? ((lead.stageBeforeExit as Stage | null) ?? 'added') : t;
          const change = await moveStage(h.ctx, ref, to, system(ev));
          const now = (await Lead.findOne({ externalUserId: ref.externalUserId }).lean())!.stage as Stage;
          if (change) {
            applied++;
            expect(change).toEqual({ from: stage, to: now });
            // In the funnel, an automatic move only ever goes forward.
            if (rank(stage) >= 0 && rank(now) >= 0) expect(rank(now)).toBeGreaterThan(rank(stage));
            // Out of unsubscribed only by re-subscribing; out of lost only by coming back.
            if (stage === 'unsubscribed') expect(ev).toBe('resubscribe');
            if (stage === 'lost' && now !== 'unsubscribed') expect(ev).toBe('return');
          } else {
            expect(now).toBe(stage);
          }
          stage = now;
        }
        expect(await moves(ref.externalUserId)).toHaveLength(applied);
      }),
      { numRuns: 25 },
    );
  });
});
