import { describe, expect, it } from 'vitest';
import { baseEnv, runCommand } from '../helpers/run-command.js';

/** Peak heap (MB) of the churn script with a growth bound (test/fixtures/scripts/heap-churn.ts). */
async function peakWith(percent: number): Promise<number> {
  const r = await runCommand('test/fixtures/scripts/heap-churn.ts', [String(percent)], { env: baseEnv() });
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { peakMb: number }).peakMb;
}

describe('a worker bounds its heap growth (WORKER_HEAP_GROWTH_PERCENT)', () => {
  it('keeps batch garbage near the live heap instead of letting V8 grow it several times over', async () => {
    // V8's own factor varies with its measured GC speed (up to 4 times the live heap): 300 % stands for its high end.
    const [loose, bounded] = [await peakWith(300), await peakWith(25)];
    // Live set ~45 MB: at 300 % the heap peaks near 190 MB, at the default 25 % near 60 MB.
    expect(bounded).toBeLessThan(loose * 0.6);
  }, 60_000);
});
