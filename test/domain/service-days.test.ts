import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addToServiceDay, dayEntry, ensureServiceDays, serviceDays } from '../../src/domain/kf/service-days.js';
import { KfResponse, KfResponseDay } from '../../src/store/models/kf.js';
import { startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('service_days');
});
afterAll(async () => h?.stop());

const TZ = 'Asia/Shanghai';
/** A response record whose clock started at `at` (UTC ISO). */
const record = (i: number, at: string) => ({
  _id: `corp:wkSD:wm${i}|msg${i}`, conversation: `corp:wkSD:wm${i}`, corpId: 'corp', openKfid: 'wkSD', externalUserId: `wm${i}`, channelKey: 'expo2026',
  servicer: i % 2 ? 'lisi' : 'zhangsan', grade: 'B', startedAt: new Date(at), repliedAt: new Date(Date.parse(at) + 60_000), seconds: 60, serviceSeconds: 60, targetSeconds: 600, level: 0,
});

describe('service days (what the service page reads a period by)', () => {
  it('keep each response once per local day, however often and concurrently it is added', async () => {
    // 23:30 UTC is the next morning in Shanghai.
    const a = dayEntry(record(1, '2026-11-02T23:30:00Z'));
    const b = dayEntry(record(2, '2026-11-03T01:00:00Z'));
    // More records of the same day, written at once by as many writers (no row may be lost to another's write).
    const more = Array.from({ length: 12 }, (_, i) => dayEntry(record(100 + i, `2026-11-03T0${2 + (i % 6)}:00:00Z`)));
    await Promise.all([a, a, b, b, a, ...more, ...more].map((e) => addToServiceDay(h.ctx, TZ, e)));
    expect((await serviceDays(TZ, ['2026-11-03'])).map((e) => e.id).sort()).toEqual([a.id, b.id, ...more.map((e) => e.id)].sort());
    expect(await serviceDays(TZ, ['2026-11-02'])).toEqual([]);
    expect((await KfResponseDay.findById(`${TZ}|2026-11-03`).lean())?.rows).toHaveLength(14);
  });

  it('are built once from the stored records after an upgrade, keeping what was written live meanwhile', async () => {
    const old = [record(10, '2026-10-01T02:00:00Z'), record(11, '2026-10-01T03:00:00Z'), record(12, '2026-10-02T03:00:00Z')];
    await KfResponse.insertMany(old);
    // One of them was written to its day live already, with one more record of that day.
    const live = record(13, '2026-10-02T04:00:00Z');
    await KfResponse.create(live);
    await addToServiceDay(h.ctx, 'UTC', dayEntry(live));
    await addToServiceDay(h.ctx, 'UTC', dayEntry(old[2]!));
    await ensureServiceDays(h.ctx.redis, h.ctx.keys, 'UTC', h.ctx.log);
    expect((await serviceDays('UTC', ['2026-10-01'])).map((e) => e.id).sort()).toEqual([old[0]!._id, old[1]!._id]);
    expect((await serviceDays('UTC', ['2026-10-02'])).map((e) => e.id).sort()).toEqual([old[2]!._id, live._id]);
    // Once: a record added to the store later is not picked up by another build (the live path adds it).
    await KfResponse.create(record(14, '2026-10-01T05:00:00Z'));
    await ensureServiceDays(h.ctx.redis, h.ctx.keys, 'UTC', h.ctx.log);
    expect(await serviceDays('UTC', ['2026-10-01'])).toHaveLength(2);
  });
});
