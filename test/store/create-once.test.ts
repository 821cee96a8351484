import mongoose from 'mongoose';
import { describe, expect, it } from 'vitest';
import { insertManyOnce } from '../../src/store/create-once.js';
import { testEnv } from '../helpers/test-bot.js';

describe('insertManyOnce', () => {
  it('reports what existed, and throws when the command failed as a whole (nothing is known to be inserted)', async () => {
    const client = await new mongoose.mongo.MongoClient(testEnv(`t_once_${Date.now()}`, 'http://x').MONGODB_URI!).connect();
    try {
      const col = client.db().collection<{ _id: string }>('once');
      expect([...(await insertManyOnce(col, [{ _id: 'a' }, { _id: 'b' }]))]).toEqual([]);
      expect([...(await insertManyOnce(col, [{ _id: 'c' }, { _id: 'a' }, { _id: 'd' }]))]).toEqual([1]);
      expect([...(await insertManyOnce(col, [{ _id: 'a' }]))]).toEqual([0]);
      // The connection gone while the insert is under way: the driver's bulk write error lists no write errors, and
      // that is not "all inserted".
      const refused = expect(insertManyOnce(col, [{ _id: 'e' }, { _id: 'f' }])).rejects.toThrow();
      await new Promise((r) => setImmediate(r));
      await client.close(true);
      await refused;
    } finally {
      await client.close();
    }
  });
});
