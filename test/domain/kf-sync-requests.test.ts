import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestSync } from '../../src/domain/kf/sync.js';
import { startHarness, type Harness } from '../helpers/harness.js';

// No worker runs here: the sync jobs the requests add stay waiting, where they can be read.
let h: Harness;
beforeAll(async () => {
  h = await startHarness('kf_sync_requests');
});
afterAll(async () => h?.stop());

describe('sync requests (src/domain/kf/sync.ts)', () => {
  it('the requests of one moment, for several accounts: one count each, the newest token kept, one waiting job each, every caller told its number', async () => {
    const { redis, keys, queues } = h.ctx;
    const [a, b, c] = ['a', 'b', 'c'].map((x) => `wkREQ${x}${Date.now().toString(36)}`) as [string, string, string];
    // Made in one turn of the event loop: one transaction. `c` comes without a token (as the reconciler asks).
    const ns = await Promise.all([requestSync(h.ctx, c, null), requestSync(h.ctx, a, 'tokA1'), requestSync(h.ctx, b, null), requestSync(h.ctx, a, 'tokA2'), requestSync(h.ctx, b, 'tokB')]);
    expect(ns).toEqual([1, 1, 1, 1, 1]);
    expect(await redis.mget(keys.kfSyncRequested(a), keys.kfSyncRequested(b), keys.kfSyncRequested(c))).toEqual(['1', '1', '1']);
    expect(await redis.mget(keys.kfToken(a), keys.kfToken(b), keys.kfToken(c))).toEqual(['tokA2', 'tokB', null]);
    const waiting = async () => (await queues.get('kf-sync').getJobs(['waiting', 'delayed'])).map((j) => j.data.openKfid as string).filter((k) => [a, b, c].includes(k)).sort();
    expect(await waiting()).toEqual([a, b, c].sort());
    // A later request of `a` without a token: counted, the token kept, and its waiting job covers it (no second one).
    expect(await requestSync(h.ctx, a, null)).toBe(2);
    expect(await redis.get(keys.kfToken(a))).toBe('tokA2');
    expect(await waiting()).toEqual([a, b, c].sort());
  });
});
