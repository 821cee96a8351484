import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cachedSequenceStats } from '../../src/domain/reports/sequence-stats-cache.js';
import { sequenceStats, stepLabel } from '../../src/domain/reports/sequence-stats.js';
import { Enrollment, enrollmentId } from '../../src/store/models/enrollment.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { waitFor } from '../helpers/wait-for.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('sequence_stats_cache');
});
afterAll(async () => h?.stop());

/** An enrollment in `seq` whose first step was sent. */
const sentOnce = (seq: string, i: number) =>
  Enrollment.collection.insertOne({
    _id: enrollmentId(h.ctx.corpId, `wm_ssc_${i}`, seq), corpId: h.ctx.corpId, externalUserId: `wm_ssc_${i}`, sequenceKey: seq, ownerUserId: 'zhangsan',
    status: 'active', step: 1, attempts: 0, dueAt: new Date(), enrolledAt: new Date(), history: [{ step: 0, at: new Date(), outcome: 'sent', via: 'mass' }],
  } as never);

describe('the sequence statistics the dashboard shows', () => {
  it('are computed once, answered from Redis while young, answered stale while the next copy is computed, and never kept with 0', async () => {
    const seq = [...h.ctx.sequences.values()][0]!.key;
    const ctx = { ...h.ctx, config: { ...h.ctx.config, SEQUENCE_STATS_MAX_AGE_SECONDS: 1 } };
    const sent = async (c = ctx) => {
      const s = (await cachedSequenceStats(c)).find((x) => x.key === seq)!;
      return { sent: s.steps[0]!.sent, asOf: s.asOf.getTime() };
    };
    await sentOnce(seq, 1);
    const first = await sent();
    expect(first.sent).toBe(1);
    await sentOnce(seq, 2);
    // Young: the stored copy, unchanged.
    expect(await sent()).toEqual(first);
    await new Promise((r) => setTimeout(r, 1100));
    // Old: still the stored copy at once, while the next one is computed; then the new figures.
    expect((await sent()).sent).toBe(1);
    const next = await waitFor(async () => ((await sent()).sent === 2 ? sent() : null), 'the refreshed copy');
    expect(next.asOf).toBeGreaterThan(first.asOf);
    // 0: computed on every call.
    await sentOnce(seq, 3);
    expect((await sent({ ...ctx, config: { ...ctx.config, SEQUENCE_STATS_MAX_AGE_SECONDS: 0 } })).sent).toBe(3);
  });
});

describe('a step as the sequence page names it', () => {
  it('is its text or link title, cut with "…" past 24 characters; a case study has none', () => {
    expect(stepLabel({ text: '第一步' })).toBe('第一步');
    const long = '{{name}}您好，给您整理了一份选型清单，供您内部讨论参考';
    expect([...stepLabel({ text: long })]).toHaveLength(24);
    expect(stepLabel({ text: long })).toBe('{{name}}您好，给您整理了一份选型清单，…');
    expect(stepLabel({ link: { title: '工厂数字化白皮书', url: 'https://example.com/w' } })).toBe('工厂数字化白皮书');
    expect(stepLabel({ caseStudy: 'auto', text: 'x' })).toBe('');
  });
});

describe('replies and stops per step', () => {
  it('counts a reply on the step the lead replied to (the last it went through), a stop where the enrollment stood', async () => {
    const seq = 'slow';
    expect(h.ctx.sequences.get(seq)!.steps).toHaveLength(3);
    const stopped = (i: number, step: number, stopReason: string) =>
      Enrollment.collection.insertOne({
        _id: enrollmentId(h.ctx.corpId, `wm_ssr_${i}`, seq), corpId: h.ctx.corpId, externalUserId: `wm_ssr_${i}`, sequenceKey: seq, ownerUserId: 'zhangsan',
        status: 'stopped', stopReason, step, attempts: 0, dueAt: null, enrolledAt: new Date(), endedAt: new Date(),
        history: Array.from({ length: step }, (_, k) => ({ step: k, at: new Date(), outcome: 'sent', via: 'mass' })),
      } as never);
    // Replied after the first step; after the second; left (no reply) after the first; replied before any step.
    await stopped(1, 1, 'reply');
    await stopped(2, 2, 'reply');
    await stopped(3, 1, 'churn');
    await stopped(4, 0, 'reply');
    const steps = (await sequenceStats(h.ctx.sequences)).find((x) => x.key === seq)!.steps;
    expect(steps.map((s) => s.sent)).toEqual([3, 1, 0]);
    // A step nobody got has no replies: the replies to the first step are on the first step.
    expect(steps.map((s) => s.replies)).toEqual([1, 1, 0]);
    expect(steps.map((s) => s.stops)).toEqual([1, 2, 1]);
  });
});
