import { describe, expect, it } from 'vitest';
import { eachById } from '../../src/store/by-id.js';

describe('eachById', () => {
  it('answers in the order given, with at most `limit` calls in flight', async () => {
    let inFlight = 0;
    let most = 0;
    const out = await eachById(Array.from({ length: 50 }, (_, i) => i), async (i) => {
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, (i * 7) % 5));
      inFlight--;
      return i * 2;
    }, 8);
    expect(out).toEqual(Array.from({ length: 50 }, (_, i) => i * 2));
    expect(most).toBe(8);
    expect(await eachById([], async () => 1)).toEqual([]);
  });
});
