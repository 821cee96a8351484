import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exhaustMassQuota, releaseBudget, takeBudget, type BudgetRequest } from '../../src/domain/delivery/budget.js';
import { Fence } from '../../src/store/models/fence.js';
import { startHarness, type Harness } from '../helpers/harness.js';

// The lead's send budget as fences, on the real database and Redis.
let h: Harness;
beforeAll(async () => {
  h = await startHarness('budget');
});
afterAll(async () => h?.stop());

let n = 0;
/** A request for a fresh lead (unless `lead` is given) and a fresh delivery. */
const req = (o: Partial<BudgetRequest> = {}): BudgetRequest => ({
  lead: `corp:lead${++n}`,
  key: `test|${n}|${Math.random()}`,
  attempt: 1,
  via: 'mass',
  day: { key: '2026-11-28', cap: 1 },
  mass: { key: 'M2026-11', cap: 30 },
  kfWindow: null,
  caseSlug: null,
  ...o,
});
const take = (r: BudgetRequest) => takeBudget(h.ctx.redis, h.ctx.keys, r);
const held = async (key: string) => (await Fence.find({ for: key }).lean()).map((f) => f.kind).sort();

describe('the send budget', () => {
  it('the daily cap holds across deliveries of one lead (two sequences on one day): the second waits', async () => {
    const a = req();
    expect(await take(a)).toMatchObject({ kind: 'ok', via: 'mass' });
    expect(await take(req({ lead: a.lead }))).toEqual({ kind: 'day_full' });
    // With a cap of 2 the second goes, on the day's second unit.
    const b = req({ day: { key: 'D', cap: 2 } });
    const c = req({ lead: b.lead, day: { key: 'D', cap: 2 } });
    expect((await take(b)).kind).toBe('ok');
    expect((await take(c)).kind).toBe('ok');
    expect(await take(req({ lead: b.lead, day: { key: 'D', cap: 2 } }))).toEqual({ kind: 'day_full' });
  });

  it('the mass quota used up sends the next one to the owner, which does not count toward the daily cap', async () => {
    const first = req({ mass: { key: 'M', cap: 2 }, day: { key: 'D', cap: 0 } });
    const lead = first.lead;
    expect((await take(first)).kind).toBe('ok');
    expect((await take(req({ lead, mass: { key: 'M', cap: 2 }, day: { key: 'D', cap: 0 } }))).kind).toBe('ok');
    const third = req({ lead, mass: { key: 'M', cap: 2 }, day: { key: 'D2', cap: 1 } });
    expect(await take(third)).toMatchObject({ kind: 'ok', via: 'owner', held: [] });
    expect(await held(third.key)).toEqual(['attempt']);
  });

  it('a 客服 window allows 5 messages; the 6th goes as a mass message', async () => {
    const kfWindow = Date.now();
    const first = req({ via: 'kf', kfWindow, day: { key: 'D', cap: 0 } });
    for (let i = 0; i < 5; i++) expect(await take(req({ lead: first.lead, via: 'kf', kfWindow, day: { key: 'D', cap: 0 } }))).toMatchObject({ kind: 'ok', via: 'kf' });
    expect(await take(req({ lead: first.lead, via: 'kf', kfWindow, day: { key: 'D', cap: 0 } }))).toMatchObject({ kind: 'ok', via: 'mass' });
  });

  it('a case study goes to a lead once, whichever sequence sends it', async () => {
    const a = req({ caseSlug: 'mfg-a', day: { key: 'D', cap: 5 } });
    expect((await take(a)).kind).toBe('ok');
    const b = req({ lead: a.lead, caseSlug: 'mfg-a', day: { key: 'D', cap: 5 } });
    expect(await take(b)).toEqual({ kind: 'case_taken', slug: 'mfg-a' });
    expect(await held(b.key)).toEqual([]); // what b took before finding the case taken was given back
  });

  it('an attempt held already (a run that died mid-call) keeps nothing of the second try; the first keeps its budget', async () => {
    const a = req();
    expect((await take(a)).kind).toBe('ok');
    await h.ctx.redis.del(h.ctx.keys.budgetHint(`day|${a.lead}|${a.day.key}`)); // whatever Redis remembered is gone
    expect(await take({ ...a })).toEqual({ kind: 'attempt_held' });
    expect(await held(a.key)).toEqual(['attempt', 'day', 'mass']);
  });

  it('finds free units when the hints in Redis are lost, and units given back are found again', async () => {
    const a = req({ mass: { key: 'M', cap: 3 }, day: { key: 'D', cap: 0 } });
    const lead = a.lead;
    const b = req({ lead, mass: { key: 'M', cap: 3 }, day: { key: 'D', cap: 0 } });
    expect((await take(a)).kind).toBe('ok');
    const rb = await take(b);
    expect(rb.kind).toBe('ok');
    await h.ctx.redis.del(h.ctx.keys.budgetHint(`mass|${lead}|M`));
    const c = req({ lead, mass: { key: 'M', cap: 3 }, day: { key: 'D', cap: 0 } });
    expect(await take(c)).toMatchObject({ kind: 'ok', via: 'mass' });
    // b failed: its unit comes back, and the next send finds it below the hint.
    if (rb.kind === 'ok') await releaseBudget(b.key, rb.held);
    expect(await take(req({ lead, mass: { key: 'M', cap: 3 }, day: { key: 'D', cap: 0 } }))).toMatchObject({ kind: 'ok', via: 'mass' });
    expect(await take(req({ lead, mass: { key: 'M', cap: 3 }, day: { key: 'D', cap: 0 } }))).toMatchObject({ kind: 'ok', via: 'owner' });
  });

  it('WeCom saying the quota is used up (status 3) takes the rest of the period', async () => {
    const a = req({ mass: { key: 'M', cap: 10 } });
    await exhaustMassQuota(a.lead, { key: 'M', cap: 10 }, 'poll|x');
    expect(await take(a)).toMatchObject({ kind: 'ok', via: 'owner' });
  });

  it('eight runners racing for one unit: one gets it', async () => {
    const lead = req().lead;
    const results = await Promise.all(Array.from({ length: 8 }, () => take(req({ lead }))));
    expect(results.filter((r) => r.kind === 'ok')).toHaveLength(1);
    expect(results.filter((r) => r.kind === 'day_full')).toHaveLength(7);
  });
});
