import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fireClock, type KfClock } from '../../src/domain/kf/clock.js';
import { leadId } from '../../src/store/models/lead.js';
import { TEST_CORP } from '../fixtures/test-corp.js';
import { startHarness, type Harness } from '../helpers/harness.js';

// fireClock's sync before an alert, with nothing running the sync it asks for (the harness runs no workers).
describe('a service clock deadline that asks for a sync first', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness('clock-sync');
  });
  afterAll(async () => h?.stop());

  let n = 0;
  /** A 客服 customer whose clock's first deadline was `ago` ms ago. */
  const clockDue = async (ago: number) => {
    const ref = { corpId: TEST_CORP.corpId, externalUserId: `wmCLOCKsync${++n}${Date.now().toString(36)}` };
    const now = Date.now();
    const clock: KfClock = { id: `clock-${ref.externalUserId}`, msgid: 'm1', excerpt: '在吗', startedAt: new Date(now - ago - 10_000), targetSeconds: 10, firstDue: new Date(now - ago), secondDue: new Date(now + 60_000), level: 0 };
    await h.ctx.leads.mutate(ref, { channelKey: 'notext', userId: 'zhangsan', at: new Date(now - ago - 10_000) }, (d) => {
      d.kf = { openKfid: `wkSYNC${n}`, clock } as never;
    });
    return { lead: leadId(ref.corpId, ref.externalUserId), clock: clock.id, level: 1 };
  };

  it('waits for the sync it asked for up to 15 s from its ask, though the deadline is older (the job ran late)', async () => {
    const d = await clockDue(14_800);
    expect((await fireClock(h.ctx, d)).result).toBe('syncing_first');
    await new Promise((r) => setTimeout(r, 400));
    expect((await fireClock(h.ctx, d)).result).toBe('waiting_for_sync');
  });

  it('a job that runs more than 15 s after its deadline still asks for a sync before it alerts', async () => {
    const d = await clockDue(60_000);
    expect((await fireClock(h.ctx, d)).result).toBe('syncing_first');
  });
});
