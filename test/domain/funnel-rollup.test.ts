import type { CommandStartedEvent } from 'mongodb';
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { funnel } from '../../src/domain/funnel/funnel.js';
import { applyFunnelChange, rebuildFunnel, type FunnelFacts } from '../../src/domain/funnel/rollup.js';
import { moveStage } from '../../src/domain/leads/stage.js';
import { localDay } from '../../src/domain/nurture/clock.js';
import { FunnelDay } from '../../src/store/models/funnel-day.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { seedLeads } from '../helpers/seed-leads.js';
import { testEnv } from '../helpers/test-bot.js';
import { TEST_CORP } from '../fixtures/test-corp.js';

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

  it('counts grades per role as well as in total', async () => {
    const day = new Date('2026-09-10T03:00:00Z');
    const of = (role: string | null, grade: string, stage = 'added'): FunnelFacts => ({ firstTouch: { channelKey: 'roles', at: day }, stage, grade, role, reached: {} });
    const apply = (before: FunnelFacts | null, after: FunnelFacts) => applyFunnelChange(h.ctx.redis, h.ctx.keys, TZ, before, after);
    await Promise.all([apply(null, of('decision-maker', 'S')), apply(null, of('decision-maker', 'A')), apply(null, of('user', 'B')), apply(null, of(null, 'C'))]);
    // A decision-maker goes from A to S: its role's grades move with it.
    await apply(of('decision-maker', 'A'), of('decision-maker', 'S', 'engaged'));
    const d = localDay(day.getTime(), TZ);
    const f = await funnel({ from: d, to: d, channel: 'roles' });
    expect(f.total.grades).toEqual({ S: 2, A: 0, B: 1, C: 1 });
    const byRole = Object.fromEntries(f.roles.map((r) => [r.role, r.grades]));
    expect(byRole).toEqual({ 'decision-maker': { S: 2, A: 0, B: 0, C: 0 }, user: { S: 0, A: 0, B: 1, C: 0 }, unknown: { S: 0, A: 0, B: 0, C: 1 } });
  });

  it('a rebuild keeps what live changes wrote while it read the leads, and deletes no rollup they made meanwhile', async () => {
    const added = new Date('2026-10-05T03:00:00Z');
    const id = `${localDay(added.getTime(), TZ)}|rebuild`;
    const seeded = await seedLeads(h.sandbox, Array.from({ length: 6 }, (_, i) => ({ name: `重建${i}`, channel: 'rebuild', addedAt: added })));
    const counts = async (rollup = id) => (await FunnelDay.findById(rollup).lean())?.counts as { added: number; reached?: { engaged?: number } } | undefined;
    await rebuildFunnel(h.ctx.redis, h.ctx.keys, TZ);
    expect(await counts()).toMatchObject({ added: 6 });
    expect((await counts())!.reached?.engaged ?? 0).toBe(0);

    // Once the rebuild has read every lead (their stage as it was), one is engaged through the live path, and a new
    // lead of a new day and channel arrives: both rollups are written by the live updates before the rebuild writes.
    const late = new Date('2026-10-06T03:00:00Z');
    const lateId = `${localDay(late.getTime(), TZ)}|rebuild-late`;
    const result = await rebuildFunnel(h.ctx.redis, h.ctx.keys, TZ, async () => {
      await moveStage(h.ctx, { corpId: TEST_CORP.corpId, externalUserId: seeded[0]!.externalUserId }, 'engaged', { by: 'staff', source: 'test' });
      await applyFunnelChange(h.ctx.redis, h.ctx.keys, TZ, null, { firstTouch: { channelKey: 'rebuild-late', at: late }, stage: 'added', grade: 'C', role: null, reached: {} });
    });
    expect((await counts())!.reached?.engaged).toBe(1);
    expect(await counts(lateId)).toMatchObject({ added: 1 });
    expect(result.skipped).toBe(2);

    // The next rebuild, with nothing moving, writes the rollup again from the leads: the same counts.
    await rebuildFunnel(h.ctx.redis, h.ctx.keys, TZ);
    expect(await counts()).toMatchObject({ added: 6, reached: { engaged: 1 } });
  });
});
