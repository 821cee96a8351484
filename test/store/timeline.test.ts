import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Timeline } from '../../src/store/models/timeline.js';
import { recordStep, timelineOf } from '../../src/store/timeline.js';
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
    await Promise.all(Array.from({ length: 90 }, (_, k) => recordStep(lead, `src-${k % 30}`, 'note', { k: k % 30 }, at(k % 30))));
    const steps = await timelineOf(lead.corpId, lead.externalUserId);
    expect(steps).toHaveLength(30);
    expect(steps.map((s) => s.detail.k)).toEqual(Array.from({ length: 30 }, (_, i) => 29 - i));
    expect(new Set(steps.map((s) => s.id)).size).toBe(30);
    // The same source with another type is another step.
    await recordStep(lead, 'src-1', 'other');
    expect((await timelineOf(lead.corpId, lead.externalUserId)).filter((s) => s.id.startsWith('src-1#'))).toHaveLength(2);
    // One document per lead: its history is one read by primary key.
    expect(await Timeline.countDocuments({ externalUserId: lead.externalUserId })).toBe(1);
  });

  it('an unknown lead has an empty timeline', async () => {
    expect(await timelineOf(h.ctx.corpId, 'wm_nobody_here')).toEqual([]);
  });
});
