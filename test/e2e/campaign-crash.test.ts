import type { ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaign } from '../../src/domain/campaigns/catalog.js';
import { launchCampaign } from '../../src/domain/campaigns/control.js';
import { syncSchedule } from '../../src/domain/campaigns/schedule.js';
import { jobIds } from '../../src/queues/job-ids.js';
import { CampaignGroup } from '../../src/store/models/campaign-group.js';
import { CampaignRun } from '../../src/store/models/campaign-run.js';
import { Delivery } from '../../src/store/models/delivery.js';
import { deleteMatching } from '../fixtures/test-corp.js';
import { seedLeads } from '../helpers/seed-leads.js';
import { startTestBot, type TestBot } from '../helpers/test-bot.js';
import { waitFor } from '../helpers/wait-for.js';
import { killWorker, startWorkerProcess } from '../helpers/worker-process.js';

const API = 'externalcontact/add_msg_template';

describe('a campaign run across worker processes', () => {
  let t: TestBot;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    // This process only serves (and runs the sandbox WeCom); the runs happen in separate worker processes.
    t = await startTestBot('campaign_crash', { role: 'web', env: { JOB_LOCK_MS: '2000', CAMPAIGN_QUIET_HOURS: 'none', CAMPAIGN_MASS_BATCH: '3', NURTURE_DAILY_CAP: '0' } });
  });
  afterAll(async () => {
    for (const c of children) await killWorker(c);
    await t?.stop();
  });

  it('starts once with two workers, survives its worker killed mid-launch and a Redis flush, and sends nothing twice', async () => {
    const leads = await seedLeads(t.sandbox, Array.from({ length: 30 }, (_, i) => ({ name: `崩溃${i}`, tags: ['测试/crash'] })));
    const at = Date.now() + 4_000;
    await createCampaign(t.bot.ctx, { key: 'crash', name: '崩溃测试', segment: { tags: { all: ['测试/crash'] } }, content: { text: '您好，崩溃测试。' }, schedule: { at: new Date(at).toISOString() } }, 'test');
    await syncSchedule(t.bot.ctx, 'crash');
    // Every add_msg_template takes a while: the run is mid-way when its workers die.
    t.sandbox.state.inject({ api: API, delayMs: 400, times: 100 });
    const [w1, w2] = [startWorkerProcess(t.env), startWorkerProcess(t.env)];
    children.push(w1, w2);
    // Staff press launch just as its time comes: still one run.
    await new Promise((r) => setTimeout(r, Math.max(0, at - Date.now())));
    await Promise.all([launchCampaign(t.bot.ctx, 'crash'), launchCampaign(t.bot.ctx, 'crash')]);
    const sent = () => t.sandbox.state.callsTo(API).length;
    await waitFor(() => sent() >= 3, 'three mass messages sent', 30_000);
    await Promise.all([killWorker(w1), killWorker(w2)]);
    const runs = await CampaignRun.find({ campaignKey: 'crash' }).lean();
    expect(runs.map((r) => r._id)).toEqual(['crash|at']);
    expect(runs[0]!.status).toBe('running');
    const before = await Delivery.countDocuments({ runId: 'crash|at' });
    expect(before).toBeLessThan(30);

    // Redis loses everything: the run's job, its schedule, the polls of what was sent.
    const redis = new Redis(t.config.REDIS_URL);
    await deleteMatching(redis, `${t.config.QUEUE_PREFIX}:*`);
    redis.disconnect();
    const w3 = startWorkerProcess(t.env);
    children.push(w3);
    const done = await waitFor(async () => {
      const r = await CampaignRun.findById('crash|at').lean();
      return r?.status === 'finished' ? r : null;
    }, 'run finished', 60_000);
    expect(done.counters).toMatchObject({ targeted: 30 });

    const targets = leads.map((l) => t.sandbox.state.okCallsTo(API).filter((c) => (c.body as { external_userid: string[] }).external_userid.includes(l.externalUserId)).length);
    expect(Math.max(...targets)).toBe(1);
    const deliveries = await Delivery.find({ runId: 'crash|at' }).lean();
    expect(deliveries).toHaveLength(30);
    expect(new Set(deliveries.map((d) => d.externalUserId)).size).toBe(30);
    // What the killed worker had in flight is unknown (WeCom may have it), never sent again; the rest went out once.
    const unknown = deliveries.filter((d) => d.status === 'unknown');
    expect(unknown.length).toBeLessThanOrEqual(3);
    expect(deliveries.filter((d) => d.status === 'submitted')).toHaveLength(30 - unknown.length);
    for (const d of deliveries.filter((x) => x.status === 'submitted')) expect(targets[leads.findIndex((l) => l.externalUserId === d.externalUserId)]).toBe(1);
    // The reconciler gave every group sent before the flush its poll back.
    const groups = await CampaignGroup.find({ runId: 'crash|at', status: 'submitted' }).lean();
    expect(groups.length).toBeGreaterThanOrEqual(9);
    const queue = t.bot.ctx.queues.get('mass-result');
    for (const g of groups) expect(await queue.getJob(jobIds.massPoll(g._id, 0))).toBeTruthy();
  });
});
