import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleEventJob } from '../../jobs/handle-event.js';
import { welcomeFirst } from '../../src/app/welcome-first.js';
import { startWorkers } from '../../src/app/workers.js';
import { TEST_CORP } from '../fixtures/test-corp.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { waitFor } from '../helpers/wait-for.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('welcome-first');
});
afterAll(async () => h?.stop());

describe('welcomes first', () => {
  it('while a welcome waits, the events worker takes 2 jobs at a time; its full concurrency comes back when none is left', async () => {
    // A real events worker; no welcome worker here, so the welcome added below waits until it is removed.
    const [events] = startWorkers(h.ctx, [handleEventJob]);
    const stop = welcomeFirst(h.ctx, [events!]);
    try {
      const full = h.config.EVENT_CONCURRENCY;
      expect(full).toBeGreaterThan(2);
      await new Promise((r) => setTimeout(r, 500));
      expect(events!.concurrency).toBe(full);
      const now = Date.now();
      const welcome = await h.ctx.queues.get('welcome').add(
        'welcome',
        { corpId: TEST_CORP.corpId, externalUserId: 'wmWELCOMEFIRST', userId: 'zhangsan', channelKey: 'expo2026', welcomeCode: 'CODE', dedupeKey: `welcome-first|${now}`, receivedAt: now, deadline: now + 19_000 },
        { jobId: `welcome-first|${now}` },
      );
      await waitFor(() => events!.concurrency === 2, 'events yield to the waiting welcome', 5_000);
      await welcome.remove();
      await waitFor(() => events!.concurrency === full, 'full concurrency back', 5_000);
    } finally {
      await stop();
      await events!.close();
    }
  });
});
