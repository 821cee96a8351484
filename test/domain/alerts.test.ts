import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { raiseAlert } from '../../src/domain/alerts/ops-alerts.js';
import { takeWebhookSend } from '../../src/domain/alerts/webhook-window.js';
import { Alert } from '../../src/store/models/alert.js';
import { WecomApiError } from '../../src/errors.js';
import { startWorkers } from '../../src/app/workers.js';
import { jobIds } from '../../src/queues/job-ids.js';
import { opsAlertDigestJob } from '../../jobs/ops-alert.js';
import { waitFor } from '../helpers/wait-for.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { clientWithDeadRedis } from '../helpers/dead-redis-client.js';

// The ops group's webhook allows 20 messages a minute [D:99110]; the sandbox keeps that limit on its own clock.
const KEY = 'ops-webhook-key-123';
let h: Harness;
let minutesLater = 0;
beforeAll(async () => {
  h = await startHarness('alerts', { env: { WECOM_OPS_WEBHOOK_KEY: KEY }, sandbox: { webhookKeys: [KEY], now: () => Date.now() + minutesLater * 60_000 } });
});
afterAll(async () => h?.stop());

describe('ops alerts', () => {
  it('go out once each; beyond 19 a minute (one send is the daily report\'s) they are merged into one digest, never dropped', async () => {
    for (let i = 0; i < 25; i++) expect(await raiseAlert(h.ctx, { key: `test-${i}`, kind: 'test', title: `提醒 ${i}`, text: `第 ${i} 条` })).toBe('queued');
    expect(await raiseAlert(h.ctx, { key: 'test-3', kind: 'test', title: '提醒 3', text: 'again' })).toBe('duplicate');
    await h.drain('ops-alert');
    const sent = h.sandbox.state.webhook.sent;
    expect(sent).toHaveLength(19);
    expect(sent.every((m) => m.key === KEY && m.msgtype === 'markdown')).toBe(true);
    expect(await Alert.countDocuments({ status: 'sent' })).toBe(19);
    expect(await Alert.countDocuments({ status: 'queued' })).toBe(6);
    // The minute's last send is left for the daily report.
    expect(await takeWebhookSend(h.ctx.redis, h.ctx.keys, KEY)).toEqual({ ok: true });
    expect((await takeWebhookSend(h.ctx.redis, h.ctx.keys, KEY)).ok).toBe(false);
    // A minute later (for the sandbox, and for the window the bot keeps in Redis), the digest goes out.
    minutesLater = 1;
    await h.ctx.redis.del(...(await h.ctx.redis.keys(`${h.ctx.keys.prefix}:webhook:*`)));
    const digest = (await h.ctx.queues.get('ops-alert-digest').getJobs(['delayed']))[0]!;
    await digest.promote();
    await h.drain('ops-alert-digest');
    expect(sent).toHaveLength(20);
    const last = sent.at(-1)!.content!;
    expect(last).toContain('运营提醒汇总（6 条）');
    // Every alert exactly once: posted alone or in the digest (which 19 went first depends on how the worker's
    // concurrent jobs met the limit).
    const titles = (text: string) => [...text.matchAll(/提醒 (\d+)/g)].map((m) => Number(m[1]));
    const alone = sent.slice(0, 19).flatMap((m) => titles(m.content!));
    const digested = titles(last);
    expect(digested).toHaveLength(6);
    expect([...alone, ...digested].sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(await Alert.countDocuments({ status: 'digested' })).toBe(6);
    // Each alert once: the duplicate was never posted.
    expect(sent.filter((m) => m.content?.includes('again'))).toHaveLength(0);
  });

  it('two digests at once (two workers): the waiting alerts go out in one message, none twice, none dropped', async () => {
    minutesLater = 2;
    await h.ctx.redis.del(...(await h.ctx.redis.keys(`${h.ctx.keys.prefix}:webhook:*`)));
    const { sendDigest } = await import('../../src/domain/alerts/ops-alerts.js');
    // The alerts' 19 sends of the minute taken, so these three wait in the digest.
    for (let i = 0; i < 19; i++) await raiseAlert(h.ctx, { key: `fill-${i}`, kind: 'test', title: `满 ${i}`, text: 'x' });
    await h.drain('ops-alert');
    for (let i = 0; i < 3; i++) await raiseAlert(h.ctx, { key: `wait-${i}`, kind: 'test', title: `等待 ${i}`, text: 'y' });
    await h.drain('ops-alert');
    expect(await h.ctx.redis.llen(h.ctx.keys.alertDigest())).toBe(3);
    minutesLater = 3;
    await h.ctx.redis.del(...(await h.ctx.redis.keys(`${h.ctx.keys.prefix}:webhook:*`)));
    const before = h.sandbox.state.webhook.sent.length;
    const results = await Promise.all([sendDigest(h.ctx), sendDigest(h.ctx)]);
    expect(results.sort()).toEqual(['digested:3', 'empty']);
    const posted = h.sandbox.state.webhook.sent.slice(before);
    expect(posted).toHaveLength(1);
    expect(posted[0]!.content).toContain('运营提醒汇总（3 条）');
    expect(await h.ctx.redis.llen(h.ctx.keys.alertDigest())).toBe(0);
  });

  it('more alerts waiting than one digest holds: each digest job leaves the next one, until none is left', async () => {
    minutesLater = 4;
    await h.ctx.redis.del(...(await h.ctx.redis.keys(`${h.ctx.keys.prefix}:webhook:*`)));
    for (let i = 0; i < 19; i++) await raiseAlert(h.ctx, { key: `more-fill-${i}`, kind: 'test', title: `占 ${i}`, text: 'x' });
    await h.drain('ops-alert');
    // Twelve long alerts wait: about 1.2 KB each, three to a digest (4096 bytes).
    for (let i = 0; i < 12; i++) await raiseAlert(h.ctx, { key: `long-${i}`, kind: 'test', title: `长 ${i}`, text: '客'.repeat(400) });
    await h.drain('ops-alert');
    expect(await h.ctx.redis.llen(h.ctx.keys.alertDigest())).toBe(12);
    minutesLater = 5;
    await h.ctx.redis.del(...(await h.ctx.redis.keys(`${h.ctx.keys.prefix}:webhook:*`)));
    const before = h.sandbox.state.webhook.sent.length;
    // The digest jobs run at their own time, as in production (a job due at a second is named by it).
    for (const j of await h.ctx.queues.get('ops-alert-digest').getJobs(['delayed'])) await j.remove();
    await h.ctx.queues.add('ops-alert-digest', {}, { jobId: jobIds.alertDigest(Math.ceil((Date.now() + 300) / 1000)), delay: 300 });
    const [worker] = startWorkers(h.ctx, [opsAlertDigestJob]);
    try {
      await waitFor(async () => (await h.ctx.redis.llen(h.ctx.keys.alertDigest())) === 0, 'every waiting alert posted', 20_000);
    } finally {
      await worker!.close();
    }
    const digests = h.sandbox.state.webhook.sent.slice(before);
    expect(digests).toHaveLength(4);
    expect(digests.every((m) => m.content!.startsWith('**运营提醒汇总（3 条）**'))).toBe(true);
    expect(await Alert.countDocuments({ _id: { $regex: '^long-' }, status: 'digested' })).toBe(12);
  });

  it('with a wrong webhook key the alert is recorded as failed, naming the setting', async () => {
    const bad = { ...h.ctx, config: { ...h.ctx.config, WECOM_OPS_WEBHOOK_KEY: 'not-a-known-key' } };
    await raiseAlert(bad, { key: 'bad-key', kind: 'test', title: 't', text: 'x' });
    const { deliverAlert } = await import('../../src/domain/alerts/ops-alerts.js');
    await h.ctx.redis.del(...(await h.ctx.redis.keys(`${h.ctx.keys.prefix}:webhook:*`)));
    expect(await deliverAlert(bad, { key: 'bad-key', kind: 'test', title: 't', text: 'x', at: Date.now() })).toBe('failed');
    expect((await Alert.findById('bad-key').lean())?.reason).toMatch(/^93000/);
  });

  it('a post that failed before reaching WeCom (Redis down in the client\'s rate limiter) is posted by the retry, once', async () => {
    minutesLater = 6;
    await h.ctx.redis.del(...(await h.ctx.redis.keys(`${h.ctx.keys.prefix}:webhook:*`)));
    const alert = { key: 'redis-down', kind: 'test', title: '限流器失败', text: 'z', at: Date.now() };
    // As raiseAlert leaves it, its ops-alert job about to run.
    await Alert.create({ _id: alert.key, kind: alert.kind, title: alert.title, text: alert.text, status: 'queued', raisedAt: new Date(alert.at) });
    const { deliverAlert } = await import('../../src/domain/alerts/ops-alerts.js');
    const before = h.sandbox.state.webhook.sent.length;
    // The job's first run: nothing sent, the error is not WeCom's answer; the job fails and is retried.
    await expect(deliverAlert({ ...h.ctx, wecom: clientWithDeadRedis(h.ctx, h.config) }, alert)).rejects.not.toBeInstanceOf(WecomApiError);
    expect(h.sandbox.state.webhook.sent.length).toBe(before);
    expect((await Alert.findById(alert.key).lean())?.status).toBe('queued');
    // Its retry posts it, and a run after that does not post it again.
    expect(await deliverAlert(h.ctx, alert)).toBe('sent');
    expect(await deliverAlert(h.ctx, alert)).toBe('already_handled');
    expect(h.sandbox.state.webhook.sent.slice(before).filter((m) => m.content?.includes('限流器失败'))).toHaveLength(1);
    expect((await Alert.findById(alert.key).lean())?.status).toBe('sent');
  });
});
