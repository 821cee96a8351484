import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Timeline, TimelineEntry } from '../../src/store/models/timeline.js';
import { recordStep, recordSteps, timelineOf } from '../../src/store/timeline.js';
import { startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('timeline');
});
afterAll(async () => h?.stop());

describe('the timeline', () => {
  it('keeps every step of concurrent writers of one lead, each once however often it is recorded, oldest first', async () => {
    const lead = { corpId: h.ctx.corpId, externalUserId: `wm_tl_${Date.now()}` };
    const at = (i: number) => new Date(Date.UTC(2026, 10, 1, 0, 0, 60 - i));
    // 30 steps from 30 concurrent writers, each one written three times (retries), in no particular order.
    await Promise.all(Array.from({ length: 90 }, (_, k) => recordStep(lead, `src-${k % 30}`, 'paused', { k: k % 30 }, at(k % 30))));
    const steps = await timelineOf(lead.corpId, lead.externalUserId);
    expect(steps).toHaveLength(30);
    expect(steps.map((s) => s.detail.k)).toEqual(Array.from({ length: 30 }, (_, i) => 29 - i));
    expect(new Set(steps.map((s) => s.id)).size).toBe(30);
    // The same source with another type is another step.
    await recordStep(lead, 'src-1', 'resumed');
    expect((await timelineOf(lead.corpId, lead.externalUserId)).filter((s) => s.id.startsWith('src-1#'))).toHaveLength(2);
    // One document per lead: its history is one read by primary key.
    expect(await Timeline.countDocuments({ externalUserId: lead.externalUserId })).toBe(1);
  });

  it('a step the database refuses fails only its own caller, not the others recorded at the same moment', async () => {
    const lead = (i: number) => ({ corpId: h.ctx.corpId, externalUserId: `wm_tls_${Date.now()}_${i}` });
    const src = `bulk-${Date.now()}`;
    // Four callers of the moment, and a fifth whose step no server takes (a document over the 16 MB limit).
    const calls = Array.from({ length: 5 }, (_, i) =>
      recordSteps([{ lead: lead(i), sourceKey: `${src}-${i}`, type: 'paused', detail: i === 2 ? { blob: 'x'.repeat(17 * 1024 * 1024) } : { i } }]),
    );
    const settled = await Promise.allSettled(calls);
    expect(settled.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    const stored = await Promise.all([0, 1, 2, 3, 4].map((i) => TimelineEntry.exists({ _id: `${src}-${i}#paused` })));
    expect(stored.map(Boolean)).toEqual([true, true, false, true, true]);
  });

  it('an unknown lead has an empty timeline', async () => {
    expect(await timelineOf(h.ctx.corpId, 'wm_nobody_here')).toEqual([]);
  });
});
