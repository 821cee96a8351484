import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaign } from '../../src/domain/campaigns/catalog.js';
import { cancelCampaign, launchCampaign } from '../../src/domain/campaigns/control.js';
import { CampaignGroup } from '../../src/store/models/campaign-group.js';
import { CampaignRun } from '../../src/store/models/campaign-run.js';
import { Delivery } from '../../src/store/models/delivery.js';
import { Fence } from '../../src/store/models/fence.js';
import { startOutageBot, type KillableDatabase, type OutageBot } from '../helpers/killable-database.js';
import { seedLeads } from '../helpers/seed-leads.js';
import type { TestBot } from '../helpers/test-bot.js';
import { waitFor } from '../helpers/wait-for.js';

const API = 'externalcontact/add_msg_template';
const CANCEL_API = 'externalcontact/cancel_groupmsg_send';
/** How long the sandbox holds the first add_msg_template before WeCom takes it: the database goes down meanwhile. */
const HOLD_MS = 4_000;
/** How long a write waits for a database it cannot reach before it fails: the driver's server selection timeout. */
const SELECTION_TIMEOUT_MS = 10_000;

/**
 * The database dies while add_msg_template is in flight; WeCom takes the message, and the writes after it (the
 * group's record, the deliveries) fail. The retry must not send those customers the message a second time
 * (docs/architecture.md, "A campaign run": a message WeCom may have taken leaves the unsent set before its records are
 * written, so a failed write never gives its fence back). What WeCom answered (the msgid) was kept in Redis before
 * those writes: the retry records the group `submitted` under it and its result poll follows; with that record lost,
 * the customers can only be `unknown`.
 */
describe('a campaign send whose records the database cannot take', () => {
  let db: KillableDatabase;
  let t: TestBot;
  let crashes: unknown[];
  let outage: OutageBot;
  beforeAll(async () => {
    // A database of this file's own, which it kills and starts again on the same port and data.
    outage = await startOutageBot('campaign_db_outage', {
      uriParams: { serverSelectionTimeoutMS: String(SELECTION_TIMEOUT_MS) },
      env: {
        CAMPAIGN_QUIET_HOURS: 'none',
        CAMPAIGN_MASS_BATCH: '3',
        NURTURE_DAILY_CAP: '0',
        WECOM_API_TIMEOUT_MS: '30000',
        // The first result poll comes after the run's retry has recorded the message (about 20 s after WeCom took it).
        MASS_RESULT_POLL_SCHEDULE: '25s,50s,100s',
      },
    });
    ({ db, t, crashes } = outage);
  });
  afterAll(async () => outage?.stop());

  /**
   * Runs a campaign to two owners' customers (three each, one mass message per owner) while the database dies during
   * the first owner's add_msg_template, and comes back after the writes that follow it have failed. `beforeRetry`
   * runs once WeCom has taken that message, before the database is back; `afterRestart` as soon as it is back (before
   * the run's job is retried). Checks that the first owner's customers were sent the message once, never again.
   */
  async function runThroughOutage(key: string, o: { beforeRetry?: (runId: string) => Promise<void>; afterRestart?: () => Promise<void>; ends?: 'finished' | 'cancelled'; downMs?: number; perLead?: boolean } = {}) {
    const tag = `测试/${key}`;
    const leads = [
      ...(await seedLeads(t.sandbox, [0, 1, 2].map((i) => ({ name: `张${key}${i}`, owner: 'zhangsan', tags: [tag] })))),
      ...(await seedLeads(t.sandbox, [0, 1, 2].map((i) => ({ name: `李${key}${i}`, owner: 'lisi', tags: [tag] })))),
    ];
    await createCampaign(t.bot.ctx, { key, name: `停库测试 ${key}`, segment: { tags: { all: [tag] } }, content: { text: o.perLead ? '{{name}}您好，停库测试。' : '您好，停库测试。' }, ownerNote: '停库测试的提醒', schedule: { at: new Date(Date.now() + 86_400_000).toISOString() } }, 'test');
    t.sandbox.state.inject({ api: API, delayMs: HOLD_MS, times: 1 });
    const before = t.sandbox.state.callsTo(API).length;

    const { run } = await launchCampaign(t.bot.ctx, key);
    const first = await waitFor(() => t.sandbox.state.callsTo(API)[before], 'the first mass message to reach WeCom', 20_000, 10);
    await db.kill();
    // The bot knows the database is gone before WeCom answers, so the write after the send waits for it (server
    // selection) rather than failing at once.
    await waitFor(() => mongoose.connection.readyState !== mongoose.ConnectionStates.connected, 'the bot to see the database down', HOLD_MS - 500, 10);
    expect(Number.isNaN(first.errcode)).toBe(true);
    await waitFor(() => first.errcode === 0, 'WeCom to take the first mass message', HOLD_MS + 10_000, 10);
    const answeredAt = Date.now();
    const body = first.body as { sender: string; external_userid: string[] };
    const msgid = [...t.sandbox.state.mass.msgs.values()].find((m) => m.sender === body.sender && m.targets.some((x) => x.externalUserId === body.external_userid[0]))!.msgid;
    await o.beforeRetry?.(run._id);
    // WeCom has the message. The group's record, the write after it, gives up about SELECTION_TIMEOUT_MS later; the
    // database comes back after that, while what the run does next (before the fix: giving the batch's fences back)
    // still waits for it. The run's job then fails and its retry goes on.
    await new Promise((r) => setTimeout(r, answeredAt + (o.downMs ?? SELECTION_TIMEOUT_MS + 2_500) - Date.now()));
    await db.restart();
    await o.afterRestart?.();

    const ends = o.ends ?? 'finished';
    const done = await waitFor(async () => {
      const r = await CampaignRun.findById(run._id).lean();
      return r?.status === ends ? r : null;
    }, `the run to be ${ends}`, 40_000, 200);

    // The first owner's customers got one add_msg_template: none got the message twice.
    const calls = t.sandbox.state.callsTo(API).slice(before).map((c) => c.body as { sender: string; external_userid: string[] });
    const times = (id: string) => calls.filter((c) => c.external_userid.includes(id)).length;
    const heldIds = new Set(body.external_userid);
    expect(heldIds.size).toBe(o.perLead ? 1 : 3);
    expect([...heldIds].map(times)).toEqual([...heldIds].map(() => 1));
    return { run: done, leads, calls, times, heldIds, msgid, sender: body.sender };
  }

  it("sends each owner's batch once: the message sent before the failed write is recorded under its msgid and its result poll settles it", async () => {
    const { run, leads, calls, times, heldIds, msgid, sender } = await runThroughOutage('dbdown');
    // One add_msg_template per owner's batch.
    expect(run.counters).toMatchObject({ targeted: 6 });
    expect(leads.map((l) => [l.name, times(l.externalUserId)])).toEqual(leads.map((l) => [l.name, 1]));
    expect(calls.map((c) => c.sender).sort()).toEqual(['lisi', 'zhangsan']);

    // The customers of the message sent before the failed write: submitted under WeCom's msgid, as a send records them,
    // in a group of their own whose result poll is queued; the others as usual.
    const deliveries = await Delivery.find({ runId: run._id }).lean();
    expect(deliveries).toHaveLength(6);
    const group = await CampaignGroup.findOne({ runId: run._id, sender }).lean();
    expect(group).toMatchObject({ via: 'mass', status: 'submitted', msgid, size: 3, refused: 0 });
    for (const d of deliveries) {
      if (heldIds.has(d.externalUserId)) expect(d).toMatchObject({ status: 'submitted', via: 'mass', msgid, group: group!._id, userId: sender });
      else expect(d).toMatchObject({ status: 'submitted', via: 'mass' });
    }
    // Nothing is kept in Redis for it any more.
    expect(await t.bot.ctx.redis.exists(t.bot.ctx.keys.campaignTakenGroups(run._id))).toBe(0);
    // Each owner is asked once to confirm their task, the one recorded from Redis too.
    const notes = () => t.sandbox.state.okCallsTo('message/send').filter((c) => JSON.stringify(c.body).includes('停库测试的提醒')).map((c) => (c.body as { touser: string }).touser);
    await waitFor(() => notes().length >= 2, 'both owners to be asked to confirm', 10_000, 100);
    expect(notes().sort()).toEqual(['lisi', 'zhangsan']);

    // The owner sends it; the group's result poll settles its customers.
    expect(t.sandbox.state.mass.confirm(msgid, sender).map((x) => x.status)).toEqual([1, 1, 1]);
    const settled = await waitFor(async () => {
      const g = await CampaignGroup.findById(group!._id).lean();
      return g?.status === 'settled' ? g : null;
    }, 'the result poll to settle the group', 60_000, 500);
    expect(settled.tally).toMatchObject({ sent: 3 });
    const sent = await Delivery.find({ runId: run._id, externalUserId: { $in: [...heldIds] } }).lean();
    expect(sent.map((d) => d.status)).toEqual(['sent', 'sent', 'sent']);

    // The process lived through it, and sees the database again.
    expect(crashes).toEqual([]);
    const health = await fetch(`${t.url}/healthz`);
    expect(health.status).toBe(200);
  });

  it('sends the cycle\'s other tasks after the database returns, when it stayed down past the giving back of their fences too', async () => {
    // {{name}}: a task per lead, all six in one cycle. Down long enough for the first task's record and then the giving
    // back of the five unsent tasks' fences to give up: those are noted in Redis, and the retry gives them back before
    // it goes on (unsent-fences.ts); before, it took them for tasks left in flight and recorded them unknown.
    const { run, leads, calls, times } = await runThroughOutage('dbdown_long', { downMs: 2 * SELECTION_TIMEOUT_MS + 4_000, perLead: true });
    expect(leads.map((l) => [l.name, times(l.externalUserId)])).toEqual(leads.map((l) => [l.name, 1]));
    expect(calls).toHaveLength(6);
    const deliveries = await Delivery.find({ runId: run._id }).lean();
    expect(deliveries).toHaveLength(6);
    for (const d of deliveries) expect(d).toMatchObject({ status: 'submitted', via: 'mass' });
    expect(await t.bot.ctx.redis.exists(t.bot.ctx.keys.campaignUnsentFences(run._id))).toBe(0);
    expect(crashes).toEqual([]);
  });

  it('records the customers of that message unknown, not sent again, when Redis lost what WeCom answered', async () => {
    const { run, leads, calls, times, heldIds } = await runThroughOutage('dbdown_lost', {
      beforeRetry: async (runId) => {
        // What the send kept when WeCom answered is gone (a Redis flush) before the retry.
        const key = t.bot.ctx.keys.campaignTakenGroups(runId);
        await waitFor(() => t.bot.ctx.redis.exists(key), 'the send to keep what WeCom answered', 5_000, 10);
        await t.bot.ctx.redis.del(key);
      },
    });
    expect(run.counters).toMatchObject({ targeted: 6 });
    expect(leads.map((l) => [l.name, times(l.externalUserId)])).toEqual(leads.map((l) => [l.name, 1]));
    expect(calls.map((c) => c.sender).sort()).toEqual(['lisi', 'zhangsan']);

    // `left_in_flight` is what the retry records for an attempt fence held with no outcome.
    const deliveries = await Delivery.find({ runId: run._id }).lean();
    expect(deliveries).toHaveLength(6);
    for (const d of deliveries) {
      if (heldIds.has(d.externalUserId)) expect(d).toMatchObject({ status: 'unknown', reason: 'left_in_flight' });
      else expect(d).toMatchObject({ status: 'submitted', via: 'mass' });
    }
    expect(crashes).toEqual([]);
  });

  it('withdraws that message when the campaign is cancelled before the run is retried', async () => {
    const { run, msgid, sender, heldIds } = await runThroughOutage('dbdown_cancel', {
      afterRestart: async () => {
        await cancelCampaign(t.bot.ctx, 'dbdown_cancel', 'test');
      },
      ends: 'cancelled',
    });
    // The run ended cancelled: the message WeCom took was recorded from what Redis kept, then withdrawn, and its sender
    // was not asked to confirm a task that no longer exists.
    expect(t.sandbox.state.callsTo(CANCEL_API).map((c) => c.body)).toEqual([{ msgid }]);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(t.sandbox.state.callsTo('message/send').filter((c) => JSON.stringify(c.body).includes('停库测试 dbdown_cancel'))).toEqual([]);
    expect(t.sandbox.state.mass.msgs.get(msgid)?.cancelled).toBe(true);
    const group = await CampaignGroup.findOne({ runId: run._id, sender }).lean();
    expect(group).toMatchObject({ via: 'mass', msgid });
    expect(group?.withdrawnAt).toBeInstanceOf(Date);
    // Its customers' deliveries are under its msgid (submitted; its next poll settles them as withdrawn).
    const held = await Delivery.find({ runId: run._id, externalUserId: { $in: [...heldIds] } }).lean();
    expect(held.map((d) => [d.via, d.msgid, d.group])).toEqual([...heldIds].map(() => ['mass', msgid, group!._id]));
    expect(crashes).toEqual([]);
  });

  it('gives back the fences of the tasks it did not send when the campaign is cancelled before the run is retried, after an outage past the giving back', async () => {
    // As above, a task per lead; the campaign is cancelled as the database returns, so no execution sends those leads.
    // Their fences (the attempt, a unit of the customer's mass-message quota for the month) are still given back: else
    // each of those customers would have one mass message fewer this month, for one never sent.
    const { run, leads, heldIds } = await runThroughOutage('dbdown_cancel_long', {
      downMs: 2 * SELECTION_TIMEOUT_MS + 4_000,
      perLead: true,
      afterRestart: async () => {
        await cancelCampaign(t.bot.ctx, 'dbdown_cancel_long', 'test');
      },
      ends: 'cancelled',
    });
    const prefix = `campaign|${run._id}|`;
    const left = (await Fence.find({ for: { $regex: `^${prefix.replace(/\|/g, '\\|')}` } }, { for: 1 }).lean()).map((f) => f.for);
    const unsent = leads.filter((l) => !heldIds.has(l.externalUserId));
    expect(unsent).toHaveLength(5);
    for (const l of unsent) expect(left.filter((f) => f.endsWith(l.externalUserId))).toEqual([]);
    expect(await t.bot.ctx.redis.exists(t.bot.ctx.keys.campaignUnsentFences(run._id))).toBe(0);
    expect(crashes).toEqual([]);
  });
});
