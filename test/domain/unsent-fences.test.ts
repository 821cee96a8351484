import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignDeliveryKey } from '../../src/domain/campaigns/send-record.js';
import { giveBackUnsent, noteUnsentFences, releaseNotedFences } from '../../src/domain/campaigns/unsent-fences.js';
import { attemptFenceId, takeFences, type FenceSpec } from '../../src/store/delivery-ledger.js';
import { Fence } from '../../src/store/models/fence.js';
import { startHarness, type Harness } from '../helpers/harness.js';

// The fences a failed campaign cycle could not give back, on the real database and Redis.
let h: Harness;
beforeAll(async () => {
  h = await startHarness('unsent-fences');
});
afterAll(async () => h?.stop());

let n = 0;
/** A run's delivery to a fresh lead, with the fences its cycle took: its attempt and the case study it was to send. */
async function taken() {
  const runId = `run-unsent-${++n}-${Math.random().toString(36).slice(2, 8)}`;
  const lead = `corp:unsent${n}`;
  const key = campaignDeliveryKey(runId, lead);
  const fences: FenceSpec[] = [
    { id: `case|${lead}|case-a`, kind: 'case', for: key },
    { id: attemptFenceId(key, 1), kind: 'attempt', for: key },
  ];
  expect((await takeFences(fences)).blocked).toBeNull();
  return { runId, lead, key, fences };
}
const holder = async (id: string) => (await Fence.findById(id, { for: 1 }).lean())?.for ?? null;

describe('the fences of leads a failed campaign cycle did not send', () => {
  it('the next execution gives back what the cycle noted, but never a fence another delivery holds by then', async () => {
    const { runId, lead, fences } = await taken();
    const [caseFence, attempt] = fences as [FenceSpec, FenceSpec];
    await noteUnsentFences(h.ctx, runId, fences);
    // The case study's fence was free meanwhile (given back before the database failed), and a nurture step sent that
    // case study to the lead: its fence stands for that send.
    await Fence.deleteOne({ _id: caseFence.id });
    const nurture = `nurture|${lead}|3`;
    expect((await takeFences([{ ...caseFence, for: nurture }])).blocked).toBeNull();

    await releaseNotedFences(h.ctx, runId);
    expect(await holder(attempt.id)).toBeNull(); // the lead is sent by this execution
    expect(await holder(caseFence.id)).toBe(nurture); // the case study is still never sent to the lead twice
    expect(await h.ctx.redis.exists(h.ctx.keys.campaignUnsentFences(runId))).toBe(0);
  });

  it('a cycle that gives its fences back with the database up notes nothing', async () => {
    const { runId, fences } = await taken();
    await giveBackUnsent(h.ctx, runId, fences);
    for (const f of fences) expect(await holder(f.id)).toBeNull();
    expect(await h.ctx.redis.exists(h.ctx.keys.campaignUnsentFences(runId))).toBe(0);
  });
});
