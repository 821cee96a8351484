import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { updateById } from '../../src/store/batched-updates.js';
import { startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('batched-updates');
});
afterAll(async () => h?.stop());

describe('updates by _id shared by the callers of the moment', () => {
  it('applies each caller its own update in one command', async () => {
    const col = mongoose.connection.db!.collection<{ _id: string; n: unknown; log?: string[] }>('batched_updates');
    await col.insertMany([
      { _id: 'a', n: 1 },
      { _id: 'b', n: 2 },
      { _id: 'c', n: 3 },
    ]);
    const sent: string[] = [];
    const counting = { bulkWrite: (ops: never[], o: { ordered: boolean }) => (sent.push(JSON.stringify(ops)), col.bulkWrite(ops, o)) };
    await Promise.all([
      updateById(counting, 'a', { $inc: { n: 1 }, $push: { log: 'a' } }),
      updateById(counting, 'c', { $set: { n: 30 } }),
      updateById(counting, 'b', { $push: { log: 'b' } }),
    ]);
    expect(sent).toHaveLength(1);
    expect(await col.find({}).sort({ _id: 1 }).toArray()).toEqual([
      { _id: 'a', n: 2, log: ['a'] },
      { _id: 'b', n: 2, log: ['b'] },
      { _id: 'c', n: 30 },
    ]);
  });

  it('200 callers at once: every update lands, in commands small enough for the database (FerretDB hung on one of 100)', async () => {
    const col = mongoose.connection.db!.collection<{ _id: string; n: number }>('batched_many');
    await col.insertMany(Array.from({ length: 200 }, (_, i) => ({ _id: `d${i}`, n: 0 })));
    const sizes: number[] = [];
    const counting = { bulkWrite: (ops: never[], o: { ordered: boolean }) => (sizes.push(ops.length), col.bulkWrite(ops, o)) };
    await Promise.all(Array.from({ length: 200 }, (_, i) => updateById(counting, `d${i}`, { $inc: { n: 1 } })));
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(200);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(32);
    expect(await col.countDocuments({ n: 1 })).toBe(200);
  }, 30_000);

  it('fails every caller of a batch the database refused part of (each must read back what was applied)', async () => {
    const col = mongoose.connection.db!.collection<{ _id: string; n: unknown }>('batched_refused');
    await col.insertMany([
      { _id: 'a', n: 1 },
      { _id: 'b', n: 'text' },
    ]);
    const results = await Promise.allSettled([updateById(col, 'a', { $inc: { n: 1 } }), updateById(col, 'b', { $inc: { n: 1 } })]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    // The next batch is not held up by the failed one.
    await updateById(col, 'b', { $set: { n: 5 } });
    expect((await col.findOne({ _id: 'b' }))?.n).toBe(5);
  });
});
