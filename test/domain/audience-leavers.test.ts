import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keepLeaverNotes, notedLeavers, noteLeaver } from '../../src/domain/campaigns/audience-leavers.js';
import { startHarness, type Harness } from '../helpers/harness.js';

// The notes of leads that may have left campaign audiences, on the real Redis.
let h: Harness;
beforeAll(async () => {
  h = await startHarness('audience-leavers');
});
afterAll(async () => h?.stop());

describe('notes of leads that may have left campaign audiences', () => {
  it('a page read after the notes are kept re-reads only the leads noted since', async () => {
    await keepLeaverNotes(h.ctx);
    const readAt = Date.now();
    await noteLeaver(h.ctx, 'corp:left');
    expect(await notedLeavers(h.ctx, [{ leadId: 'corp:left', readAt }, { leadId: 'corp:stayed', readAt }])).toEqual(new Set(['corp:left']));
  });

  it('a note Redis refuses makes the notes incomplete: every lead read before is read again', async () => {
    await keepLeaverNotes(h.ctx);
    const readAt = Date.now();
    // Redis answers the note with an error (the notes' key holds something else).
    await h.ctx.redis.set(h.ctx.keys.audienceLeavers(), 'not a sorted set');
    await expect(noteLeaver(h.ctx, 'corp:refused')).resolves.toBeUndefined();
    await h.ctx.redis.del(h.ctx.keys.audienceLeavers());
    expect(await notedLeavers(h.ctx, [{ leadId: 'corp:refused', readAt }, { leadId: 'corp:other', readAt }])).toEqual(new Set(['corp:refused', 'corp:other']));
    // Kept again for the pages read from now on.
    await keepLeaverNotes(h.ctx);
    expect(await notedLeavers(h.ctx, [{ leadId: 'corp:other', readAt: Date.now() }])).toEqual(new Set());
  });
});
