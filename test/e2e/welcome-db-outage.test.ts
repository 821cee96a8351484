import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOutageBot, type OutageBot } from '../helpers/killable-database.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * Welcomes touch no database before WeCom has answered (docs/architecture.md, "Behaviour in detail"), so a database
 * outage must not cost a welcome. A contact whose state this process does not know (a 联系我 code made outside the
 * bot, here WeCom's documented sample state) makes the catalog look for channels created by command in the database;
 * that lookup must not hold up the welcomes the inbox plans meanwhile, its own or another contact's.
 */
describe('welcomes while the database is down', () => {
  let outage: OutageBot;
  beforeAll(async () => {
    outage = await startOutageBot('welcome_db_outage');
  });
  afterAll(async () => outage?.stop());

  it('a contact with an unknown state does not hold up the welcome of a contact that came with it', async () => {
    const { db, t } = outage;
    await db.kill();
    await waitFor(() => mongoose.connection.readyState !== mongoose.ConnectionStates.connected, 'the bot to see the database down', 5_000, 10);
    const unknown = t.newContact({ state: 'teststate', name: '外部码客户' });
    const expo = t.newContact({ state: 'expo2026', name: '展会客户' });
    const posted = Date.now();
    const answers = await Promise.all([t.post(unknown.xml), t.post(expo.xml)]);
    expect(answers.map((r) => r.status)).toEqual([200, 200]);
    const sent = await waitFor(
      () => t.sandbox.state.welcome.sent.find((w) => w.externalUserId === expo.externalUserId),
      'the expo2026 welcome to be sent',
      25_000,
      20,
    ).catch(() => undefined);
    const elapsed = Date.now() - posted;
    const calls = t.sandbox.state.callsTo('externalcontact/send_welcome_msg').length;
    await db.restart();
    expect(sent, `no welcome within 25 s (send_welcome_msg calls: ${calls})`).toBeDefined();
    // Well inside the 20 s a WelcomeCode lives [D:92137].
    expect(elapsed).toBeLessThan(19_000);
  }, 60_000);
});
