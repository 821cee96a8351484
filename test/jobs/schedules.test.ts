import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scheduleJobs, startWorkers } from '../../src/app/workers.js';
import { opsReportJob } from '../../jobs/ops-report.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { waitFor } from '../helpers/wait-for.js';

// The jobs that run on a clock (define-job.ts `schedule`) are registered at every start (src/app/workers.ts): a slot
// that came due while the bot was down must still run once it is back.
const WEBHOOK = 'ops-webhook-schedules';
const TZ = 'Asia/Shanghai';
let h: Harness;
beforeAll(async () => {
  h = await startHarness('schedules', { env: { WECOM_OPS_WEBHOOK_KEY: WEBHOOK, OPS_TIMEZONE: TZ }, sandbox: { webhookKeys: [WEBHOOK] } });
});
afterAll(async () => h?.stop());

/** A daily cron pattern (with seconds) whose slot is `ms` in OPS_TIMEZONE: once a day, so the next one is a day away. */
function dailyAt(ms: number): string {
  const p = Object.fromEntries(new Intl.DateTimeFormat('en-GB', { timeZone: TZ, hourCycle: 'h23', hour: '2-digit', minute: '2-digit', second: '2-digit' }).formatToParts(ms).map((x) => [x.type, Number(x.value)]));
  return `${p.second} ${p.minute} ${p.hour} * * *`;
}

describe('scheduled jobs', () => {
  it('a daily slot that came due while no worker ran (the bot was down) runs when the bot starts again', async () => {
    const kind = { ...opsReportJob, schedule: () => ({ pattern: dailyAt(Date.now() + 2_000), tz: TZ, data: {} }) };
    await scheduleJobs(h.ctx, [kind]);
    const due = (await h.ctx.queues.get('ops-report').getJobScheduler('ops-report'))!.next!;
    expect(due - Date.now()).toBeLessThan(3_000);
    // No worker at the slot's time; then the bot starts: its schedules are registered again, its workers start.
    await new Promise((r) => setTimeout(r, due - Date.now() + 500));
    await scheduleJobs(h.ctx, [kind]);
    const [worker] = startWorkers(h.ctx, [kind]);
    try {
      await waitFor(() => h.sandbox.state.webhook.sent.some((m) => JSON.stringify(m.body).includes('运营日报')), 'the report of the slot that came due', 10_000);
      // Once: the slot's own job, and the day's fence against any other.
      await new Promise((r) => setTimeout(r, 500));
      expect(h.sandbox.state.webhook.sent.filter((m) => JSON.stringify(m.body).includes('运营日报'))).toHaveLength(1);
    } finally {
      await worker!.close();
      await h.ctx.queues.get('ops-report').removeJobScheduler('ops-report');
    }
  });
});
