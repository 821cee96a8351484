import { describe, expect, it } from 'vitest';
import { baseEnv, runCommand } from '../helpers/run-command.js';

/** Full collections and peak heap of the churn script with a growth bound (test/fixtures/scripts/heap-churn.ts). */
async function churnWith(percent: number): Promise<{ majorGcs: number; peakMb: number }> {
  const r = await runCommand('test/fixtures/scripts/heap-churn.ts', [String(percent)], { env: baseEnv() });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { majorGcs: number; peakMb: number };
}

describe('a worker bounds its heap growth (WORKER_HEAP_GROWTH_PERCENT)', () => {
  it('collects the old space when it has grown a quarter past the live heap, not several times over', async () => {
    // V8's own factor varies with its measured GC speed (up to 4 times the live heap): 300 % stands for its high end.
    // The number of full collections for the same garbage follows the bound whatever the machine's load (the peak
    // heap does not: it depends on how far concurrent marking gets): ~5 at 300 %, ~20 at the default 25 %.
    const loose = await churnWith(300);
    const bounded = await churnWith(25);
    expect(bounded.majorGcs, JSON.stringify({ loose, bounded })).toBeGreaterThanOrEqual(2 * loose.majorGcs);
  }, 60_000);
});
