import type { CommandStartedEvent } from 'mongodb';
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyFunnelChange, type FunnelFacts } from '../../src/domain/funnel/rollup.js';
import { localDay } from '../../src/domain/nurture/clock.js';
import { FunnelDay } from '../../src/store/models/funnel-day.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { testEnv } from '../helpers/test-bot.js';

let h: Harness;
const commands: CommandStartedEvent[] = [];
beforeAll(async () => {
  // The driver reports every command it sends (monitorCommands): how the rollup writes are counted.
  const base = testEnv('x', 'http://x').MONGODB_URI!;
  h = await startHarness('funnel-rollup', { env: { MONGODB_URI: `${base.replace(/\/[^/]*$/, '')}/${`t_funnel_${Date.now()}`}?monitorCommands=true` } });
  mongoose.connection.getClient().on('commandStarted', (e) => commands.push(e));
});
afterAll(async () => h?.stop());

const TZ = 'Asia/Shanghai';
const at = new Date('2026-11-20T03:00:00Z');
const lead = (stage: string, grade = 'C'): FunnelFacts => ({ firstTouch: { channelKey: 'expo', at }, stage, grade, role: null, reached: {} });
const rollupUpdates = () => commands.filter((c) => c.commandName === 'update' && (c.command as { update?: string }).update === FunnelDay.collection.collectionName);

describe('the funnel rollups', () => {
  it('changes made at the same moment share one write per rollup, and every increment counts', async () => {
    const apply = (before: FunnelFacts | null, after: FunnelFacts) => applyFunnelChange(h.ctx.redis, h.ctx.keys, TZ, before, after);
    // 30 new leads, then 20 of them engaged and 10 of those graded B, all at once (as many lead saves would).
    await Promise.all(Array.from({ length: 30 }, () => apply(null, lead('added'))));
    commands.length = 0;
    await Promise.all([
      ...Array.from({ length: 10 }, () => apply(lead('added'), lead('engaged'))),
      ...Array.from({ length: 10 }, () => apply(lead('added'), lead('engaged', 'B'))),
      // No change the funnel counts: no write at all.
      apply(lead('added'), lead('added')),
    ]);
    // One write (or a few, as batches close), not one per change behind a lock each.
    expect(rollupUpdates().length).toBeGreaterThanOrEqual(1);
    expect(rollupUpdates().length).toBeLessThan(5);
    const day = await FunnelDay.findById(`${localDay(at.getTime(), TZ)}|expo`).lean();
    const counts = day!.counts as Record<string, unknown> & { reached: Record<string, number>; grades: Record<string, number> };
    expect(counts.added).toBe(30);
    expect(counts.reached.engaged).toBe(20);
    expect(counts.grades).toMatchObject({ C: 20, B: 10 });
  });
});
