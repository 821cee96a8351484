import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Delivery } from '../../src/store/models/delivery.js';
import { startTestBot, type TestBot } from '../helpers/test-bot.js';
import { waitFor } from '../helpers/wait-for.js';
import { killWorker, startWorkerProcess } from '../helpers/worker-process.js';

const SEND = 'externalcontact/send_welcome_msg';
const BURST = 30;

/**
 * An expo burst, and the worker process dies (SIGKILL) in the middle of it: welcomes being sent, welcomes waiting in
 * the queue, callbacks still in the inbox. A new worker started at once must send every welcome whose WelcomeCode is
 * still valid (20 s from the event [D:92137]) and never one twice: the general job lock (30 s by default) would
 * hold the welcomes that were active at the kill past their window.
 */
describe('a crash during a burst of adds', () => {
  let t: TestBot;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    // This process only receives callbacks; the worker runs in its own process, as in a deployment. The general job
    // lock is the production default: only the welcome lane's own lock may bring the welcomes back in time.
    t = await startTestBot('welcome-crash', { role: 'web', env: { JOB_LOCK_MS: '30000' } });
  });
  afterAll(async () => {
    for (const c of children) await killWorker(c);
    await t?.stop();
  });

  it('sends every welcome still valid after a restart, each exactly once', async () => {
    const first = startWorkerProcess(t.env, 'error');
    children.push(first);
    // The worker is up once it has sent a first welcome.
    const warmUp = t.newContact({ state: 'expo2026', name: '预热' });
    expect((await t.post(warmUp.xml)).status).toBe(200);
    await waitFor(() => t.sandbox.state.welcome.sent.some((w) => w.externalUserId === warmUp.externalUserId), 'the first worker is up', 30_000);

    // WeCom is slow to answer welcomes during the burst: the calls take effect only after 1.5 s, so the worker dies
    // with welcomes in flight (delivered later, behind its back), others queued or still in the inbox.
    t.sandbox.state.inject({ api: SEND, delayMs: 1_500, times: BURST });
    const contacts = Array.from({ length: BURST }, (_, i) => t.newContact({ state: 'expo2026', name: `客户${i}` }));
    const posted = await Promise.all(contacts.map((c) => t.post(c.xml)));
    expect(posted.map((r) => r.status)).toEqual(contacts.map(() => 200));
    const burstIds = new Set(contacts.map((c) => c.externalUserId));
    const codeOwner = (body: unknown) => t.sandbox.state.welcome.codes.get((body as { welcome_code?: string })?.welcome_code ?? '')?.externalUserId ?? '';
    const callsOfBurst = () => t.sandbox.state.callsTo(SEND).filter((c) => burstIds.has(codeOwner(c.body)));
    await waitFor(() => callsOfBurst().length > 0, 'welcomes of the burst in flight', 15_000, 10);
    await killWorker(first);
    const killedAt = Date.now();
    const inFlightAtKill = callsOfBurst().filter((c) => Number.isNaN(c.errcode)).length;
    expect(inFlightAtKill).toBeGreaterThan(0);

    // Started again at once.
    children.push(startWorkerProcess(t.env, 'error'));

    // Every welcome of the burst is sent, once: the sandbox accepts a code once and within its 20 s only.
    const welcomed = (c: { externalUserId: string }) => t.sandbox.state.welcome.sent.some((w) => w.externalUserId === c.externalUserId);
    await waitFor(() => contacts.every(welcomed), 'every welcome sent', 25_000, 100).catch(() => undefined);
    expect(contacts.filter((c) => !welcomed(c)).map((c) => c.externalUserId), 'contacts never welcomed').toEqual([]);
    const sent = t.sandbox.state.welcome.sent.filter((w) => burstIds.has(w.externalUserId));
    expect(sent).toHaveLength(BURST);
    expect(new Set(sent.map((w) => w.externalUserId)).size).toBe(BURST);
    // Sent in time, after a restart that took a few seconds, not after the general lock ran out.
    const lastSentAt = Math.max(...sent.map((w) => w.at));
    expect(lastSentAt - killedAt).toBeLessThan(15_000);

    // A job taken over after the kill called again for a code the dead worker had already used: WeCom refused it
    // (41051), which proves the code was used once; never a second accepted call for a code.
    const calls = callsOfBurst();
    const accepted = calls.filter((c) => c.errcode === 0);
    expect(new Set(accepted.map((c) => codeOwner(c.body))).size).toBe(accepted.length);
    const refusedAsUsed = calls.filter((x) => x.errcode === 41051).map((c) => codeOwner(c.body));
    for (const owner of refusedAsUsed) expect(sent.some((w) => w.externalUserId === owner)).toBe(true);

    // Every outcome is recorded as sent, none as expired or unknown.
    const outcomes = await waitFor(async () => {
      const docs = await Delivery.find({ externalUserId: { $in: [...burstIds] }, kind: 'welcome' }).lean();
      return docs.length === BURST ? docs : null;
    }, 'every welcome outcome recorded', 40_000, 200);
    expect(outcomes.map((d) => d.status).filter((s) => s !== 'sent')).toEqual([]);
    // ...including those WeCom refused as already used: the bot knows its dead worker had sent them.
    for (const owner of refusedAsUsed) expect(outcomes.find((d) => d.externalUserId === owner)).toMatchObject({ status: 'sent', errcode: null });
  });
});
