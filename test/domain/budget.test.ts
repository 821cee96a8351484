import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exhaustMassQuota, releaseBudget, takeBudget, takeBudgetMany, takeKfBudget, type BudgetRequest } from '../../src/domain/delivery/budget.js';
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

  it('a mass quota configured larger than any search of old (120 a month), used up, still sends the next one to the owner', async () => {
    const mass = { key: 'M', cap: 120 };
    const lead = req().lead;
    await exhaustMassQuota(lead, mass, 'test|elsewhere');
    // The hint lost: every unit is tried from the first.
    await h.ctx.redis.del(h.ctx.keys.budgetHint(`mass|${lead}|M`));
    expect(await take(req({ lead, mass, day: { key: 'D', cap: 0 } }))).toMatchObject({ kind: 'ok', via: 'owner' });
  });

  it('a 客服 window allows 5 messages; the 6th goes as a mass message', async () => {
    const kfWindow = Date.now();
    const first = req({ via: 'kf', kfWindow, day: { key: 'D', cap: 0 } });
    for (let i = 0; i < 5; i++) expect(await take(req({ lead: first.lead, via: 'kf', kfWindow, day: { key: 'D', cap: 0 } }))).toMatchObject({ kind: 'ok', via: 'kf' });
    expect(await take(req({ lead: first.lead, via: 'kf', kfWindow, day: { key: 'D', cap: 0 } }))).toMatchObject({ kind: 'ok', via: 'mass' });
  });

  it('a campaign batch counts, as one send does, what went out after the customer\'s message in the window before', async () => {
    // The customer wrote at `reopened`; five 客服 messages went out after that, booked on the window before (sent
    // while the bot had not seen the new message yet): WeCom counts them in the new window [D:94677].
    const lead = req().lead;
    const reopened = Date.now() - 1_000;
    for (let i = 0; i < 5; i++) expect(await take(req({ lead, via: 'kf', kfWindow: reopened - 3_600_000, day: { key: 'D', cap: 0 } }))).toMatchObject({ kind: 'ok', via: 'kf' });
    const [batched] = await takeBudgetMany(h.ctx.redis, h.ctx.keys, [req({ lead, via: 'kf', kfWindow: reopened, day: { key: 'D', cap: 0 } })]);
    expect(batched).toMatchObject({ kind: 'ok', via: 'mass' });
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
    if (rb.kind === 'ok') await releaseBudget(h.ctx, b.key, rb.held);
    expect(await take(req({ lead, mass: { key: 'M', cap: 3 }, day: { key: 'D', cap: 0 } }))).toMatchObject({ kind: 'ok', via: 'mass' });
    expect(await take(req({ lead, mass: { key: 'M', cap: 3 }, day: { key: 'D', cap: 0 } }))).toMatchObject({ kind: 'ok', via: 'owner' });
  });

  it('a 客服-only send (a reply): a used-up window ends it holding only its attempt; later ones stop without a search until a unit comes back', async () => {
    const lead = req().lead;
    const kfReq = (o: Partial<BudgetRequest> = {}) => req({ lead, via: 'kf', kfWindow: 1000, day: { key: 'D', cap: 0 }, mass: { key: 'M', cap: 0 }, caseSlug: 'general-a', ...o });
    const oks = [];
    for (let i = 0; i < 5; i++) oks.push(await takeKfBudget(h.ctx.redis, h.ctx.keys, kfReq({ caseSlug: i === 0 ? 'general-a' : null })));
    expect(oks.map((r) => (r.kind === 'ok' ? r.via : r.kind))).toEqual(['kf', 'kf', 'kf', 'kf', 'kf']);
    // The sixth: no fallback, no case study taken only to be given back: its attempt fence and nothing else.
    await h.ctx.redis.del(h.ctx.keys.budgetHint(`kf|${lead}|1000`));
    const sixth = kfReq({ caseSlug: 'retail-a' });
    expect(await takeKfBudget(h.ctx.redis, h.ctx.keys, sixth)).toEqual({ kind: 'kf_full' });
    expect(await held(sixth.key)).toEqual(['attempt']);
    // The search set the hint: the seventh stops at once (no unit tried: no fence read or written but its attempt).
    const seventh = kfReq({ caseSlug: null });
    const before = await Fence.countDocuments({ _id: { $regex: `^kf\\|${lead}` } });
    expect(await takeKfBudget(h.ctx.redis, h.ctx.keys, seventh)).toEqual({ kind: 'kf_full' });
    expect(await h.ctx.redis.get(h.ctx.keys.budgetHint(`kf|${lead}|1000`))).toBe('5');
    expect(await Fence.countDocuments({ _id: { $regex: `^kf\\|${lead}` } })).toBe(before);
    // A re-run of the sixth finds its attempt held.
    expect(await takeKfBudget(h.ctx.redis, h.ctx.keys, sixth)).toEqual({ kind: 'attempt_held' });
    // The third send failed: its unit comes back, the hint moves down to it, and the next reply gets it.
    const third = oks[2]!;
    if (third.kind !== 'ok') throw new Error('the third send took no unit');
    await releaseBudget(h.ctx, third.held[0]!.for, third.held);
    expect(await h.ctx.redis.get(h.ctx.keys.budgetHint(`kf|${lead}|1000`))).toBe('2');
    expect(await takeKfBudget(h.ctx.redis, h.ctx.keys, kfReq({ caseSlug: null }))).toMatchObject({ kind: 'ok', via: 'kf', held: [{ id: `kf|${lead}|1000|2` }] });
  });

  it("a window counts what went out after the customer's message in the window before it (WeCom counts from the message [D:94677])", async () => {
    const lead = req().lead;
    const kfReq = (window: number) => req({ lead, via: 'kf', kfWindow: window, day: { key: 'D', cap: 0 }, mass: { key: 'M', cap: 0 } });
    const take = (window: number) => takeKfBudget(h.ctx.redis, h.ctx.keys, kfReq(window));
    // Three replies in an old window, sent now.
    for (let i = 0; i < 3; i++) expect(await take(1_000)).toMatchObject({ kind: 'ok', via: 'kf' });
    // The customer had written again 10 s ago (the bot had not seen it): those three count in that window, two are left.
    const newer = Date.now() - 10_000;
    expect(await take(newer)).toMatchObject({ kind: 'ok', via: 'kf' });
    expect(await take(newer)).toMatchObject({ kind: 'ok', via: 'kf' });
    expect(await take(newer)).toEqual({ kind: 'kf_full' });
    // A nurture step (it may fall back) goes another way there.
    expect(await takeBudget(h.ctx.redis, h.ctx.keys, req({ lead, via: 'kf', kfWindow: newer, day: { key: 'D', cap: 0 }, mass: { key: 'M', cap: 0 } }))).toMatchObject({ kind: 'ok', via: 'owner' });
    // A message after all of them opens a window with its 5.
    const later = Date.now() + 1_000;
    for (let i = 0; i < 5; i++) expect(await take(later)).toMatchObject({ kind: 'ok', via: 'kf' });
    expect(await take(later)).toEqual({ kind: 'kf_full' });
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
