import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaign } from '../../src/domain/campaigns/catalog.js';
import { launchCampaign } from '../../src/domain/campaigns/control.js';
import { withDatabase } from '../../src/dev/embedded-database.js';
import { CampaignRun } from '../../src/store/models/campaign-run.js';
import { Delivery } from '../../src/store/models/delivery.js';
import { killableDatabaseKind, startKillableDatabase, type KillableDatabase } from '../helpers/killable-database.js';
import { seedLeads } from '../helpers/seed-leads.js';
import { startTestBot, type TestBot } from '../helpers/test-bot.js';
import { waitFor } from '../helpers/wait-for.js';

const API = 'externalcontact/add_msg_template';
/** How long the sandbox holds the first add_msg_template before WeCom takes it: the database goes down meanwhile. */
const HOLD_MS = 4_000;
/**
 * How long a write waits for a database it cannot reach before it fails: the driver's server selection timeout, which
 * src/app/bot.ts sets (10 s) and a connection string does not change.
 */
const SELECTION_TIMEOUT_MS = 10_000;

/**
 * The database dies while add_msg_template is in flight; WeCom takes the message, and the writes after it (the
 * group's record, the deliveries) fail. The retry must record those customers `unknown`, not send them the message a
 * second time (docs/architecture.md, "A campaign run": a message WeCom may have taken leaves the unsent set before
 * its records are written, so a failed write never gives its fence back).
 */
describe.skipIf(!killableDatabaseKind())('a campaign send whose records the database cannot take', () => {
  let db: KillableDatabase;
  let t: TestBot;
  const crashes: unknown[] = [];
  const onCrash = (err: unknown) => crashes.push(err);
  beforeAll(async () => {
    process.on('unhandledRejection', onCrash);
    process.on('uncaughtException', onCrash);
    // A database of this file's own, which it kills and starts again on the same port and data.
    db = await startKillableDatabase();
    const uri = new URL(withDatabase(db.uri, 'campaign_db_outage'));
    // The driver checks the server every 500 ms, so the bot sees it gone before WeCom answers.
    uri.searchParams.set('heartbeatFrequencyMS', '500');
    t = await startTestBot('campaign_db_outage', {
      env: { MONGODB_URI: uri.toString(), CAMPAIGN_QUIET_HOURS: 'none', CAMPAIGN_MASS_BATCH: '3', NURTURE_DAILY_CAP: '0', WECOM_API_TIMEOUT_MS: '30000' },
    });
  });
  afterAll(async () => {
    await t?.stop();
    await db?.stop();
    process.off('unhandledRejection', onCrash);
    process.off('uncaughtException', onCrash);
  });

  it("sends each owner's batch once: the customers of the message sent before the failed write are unknown, not sent again", async () => {
    const tag = '测试/dbdown';
    const leads = [
      ...(await seedLeads(t.sandbox, [0, 1, 2].map((i) => ({ name: `张停库${i}`, owner: 'zhangsan', tags: [tag] })))),
      ...(await seedLeads(t.sandbox, [0, 1, 2].map((i) => ({ name: `李停库${i}`, owner: 'lisi', tags: [tag] })))),
    ];
    await createCampaign(t.bot.ctx, { key: 'dbdown', name: '停库测试', segment: { tags: { all: [tag] } }, content: { text: '您好，停库测试。' }, schedule: { at: new Date(Date.now() + 86_400_000).toISOString() } }, 'test');
    t.sandbox.state.inject({ api: API, delayMs: HOLD_MS, times: 1 });

    const { run } = await launchCampaign(t.bot.ctx, 'dbdown');
    const first = await waitFor(() => t.sandbox.state.callsTo(API)[0], 'the first mass message to reach WeCom', 20_000, 10);
    await db.kill();
    // The bot knows the database is gone before WeCom answers, so the write after the send waits for it (server
    // selection) rather than failing at once.
    await waitFor(() => mongoose.connection.readyState !== mongoose.ConnectionStates.connected, 'the bot to see the database down', HOLD_MS - 500, 10);
    expect(Number.isNaN(first.errcode)).toBe(true);
    await waitFor(() => first.errcode === 0, 'WeCom to take the first mass message', HOLD_MS + 10_000, 10);
    // WeCom has the message. The group's record, the write after it, gives up about SELECTION_TIMEOUT_MS later; the
    // database comes back after that, while what the run does next (before the fix: giving the batch's fences back)
    // still waits for it. The run's job then fails and its retry goes on.
    const answeredAt = Date.now();
    await new Promise((r) => setTimeout(r, answeredAt + SELECTION_TIMEOUT_MS + 2_500 - Date.now()));
    await db.restart();

    const done = await waitFor(async () => {
      const r = await CampaignRun.findById(run._id).lean();
      return r?.status === 'finished' ? r : null;
    }, 'the run to finish', 40_000, 200);
    expect(done.counters).toMatchObject({ targeted: 6 });

    // One add_msg_template per owner's batch: no customer got the message twice.
    const calls = t.sandbox.state.callsTo(API).map((c) => c.body as { sender: string; external_userid: string[] });
    const times = (id: string) => calls.filter((c) => c.external_userid.includes(id)).length;
    expect(leads.map((l) => [l.name, times(l.externalUserId)])).toEqual(leads.map((l) => [l.name, 1]));
    expect(calls.map((c) => c.sender).sort()).toEqual(['lisi', 'zhangsan']);

    // The customers of the message sent before the failed write: unknown (WeCom may have it; `left_in_flight` is what
    // the retry records for an attempt fence held with no outcome, so the write did fail); the others submitted.
    const heldIds = new Set((first.body as { external_userid: string[] }).external_userid);
    expect(heldIds.size).toBe(3);
    const deliveries = await Delivery.find({ runId: run._id }).lean();
    expect(deliveries).toHaveLength(6);
    for (const d of deliveries) {
      if (heldIds.has(d.externalUserId)) expect(d).toMatchObject({ status: 'unknown', reason: 'left_in_flight' });
      else expect(d).toMatchObject({ status: 'submitted', via: 'mass' });
    }

    // The process lived through it, and sees the database again.
    expect(crashes).toEqual([]);
    const health = await fetch(`${t.url}/healthz`);
    expect(health.status).toBe(200);
  });
});
