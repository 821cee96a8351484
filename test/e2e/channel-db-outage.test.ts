import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execute, plan } from '../../src/domain/commands/run-command.js';
import { ChannelRecord } from '../../src/store/models/channel-record.js';
import { startOutageBot, type KillableDatabase, type OutageBot } from '../helpers/killable-database.js';
import type { TestBot } from '../helpers/test-bot.js';
import { waitFor } from '../helpers/wait-for.js';

const ADD = 'externalcontact/add_contact_way';
/** How long the sandbox holds add_contact_way before WeCom makes the code: the database goes down meanwhile. */
const HOLD_MS = 4_000;

/**
 * `渠道 new` whose database dies while WeCom makes the 联系我 code [D:92228]: WeCom has a code the channel record does
 * not name yet. The command says so, and the same command sent once the database is back completes the channel with
 * that code instead of making a second one (src/domain/channels/stored-channels.ts createChannel).
 */
describe('a channel created by command whose database fails after WeCom made its code', () => {
  let db: KillableDatabase;
  let t: TestBot;
  let crashes: unknown[];
  let outage: OutageBot;
  beforeAll(async () => {
    outage = await startOutageBot('channel_db_outage', { env: { OPS_ADMINS: 'zhangsan' }, sandbox: { members: ['zhangsan', 'lisi'] } });
    ({ db, t, crashes } = outage);
  });
  afterAll(async () => outage?.stop());

  let n = 0;
  const say = async (text: string) => {
    const p = plan(t.bot.ctx, { msgid: `channel-outage-${n++}`, userId: 'zhangsan', chatId: 'wrOPS', chatType: 'group', text });
    if (p.kind !== 'run') throw new Error(`not run: ${p.answer}`);
    return execute(p);
  };
  const codesOf = (state: string) => [...t.sandbox.state.contactWays.ways.values()].filter((w) => w.state === state);

  it('says the channel is not stored yet; the same command again completes it with the one code WeCom made', async () => {
    t.sandbox.state.inject({ api: ADD, delayMs: HOLD_MS, times: 1 });
    const first = say('渠道 new outage01 停库渠道 zhangsan lisi');
    const add = await waitFor(() => t.sandbox.state.callsTo(ADD)[0], 'the command to call add_contact_way', 20_000, 10);
    await db.kill();
    await waitFor(() => mongoose.connection.readyState !== mongoose.ConnectionStates.connected, 'the bot to see the database down', HOLD_MS - 500, 10);
    expect(Number.isNaN(add.errcode)).toBe(true);
    // WeCom makes the code; the channel's write waits for the database and fails.
    const r1 = await first;
    expect(add.errcode).toBe(0);
    expect(codesOf('outage01')).toHaveLength(1);
    expect(r1.outcome).toBe('failed');
    expect(r1.answer).toContain('企业微信已为渠道「outage01」生成二维码，但保存渠道时数据库出错，渠道还没有生效');
    expect(r1.answer).toContain('请稍后再发一次同样的命令：会补全这个二维码，不会再生成一个。');
    expect(t.bot.ctx.channels.get('outage01')).toBeUndefined();

    await db.restart();
    await waitFor(() => mongoose.connection.readyState === mongoose.ConnectionStates.connected, 'the bot to see the database again', 30_000, 50);
    const r2 = await say('渠道 new outage01 停库渠道 zhangsan lisi');
    expect(r2.outcome).toBe('ok');
    expect(r2.answer).toContain('已补全渠道 **停库渠道**（`outage01`），负责人：zhangsan、lisi。');

    // One code in WeCom, one call that made it, and the channel complete with it.
    const codes = codesOf('outage01');
    expect(codes).toHaveLength(1);
    expect(t.sandbox.state.okCallsTo(ADD)).toHaveLength(1);
    expect(r2.answer).toContain(`联系我二维码：${codes[0]!.qr_code}`);
    expect(await ChannelRecord.findOne({ key: 'outage01' }).lean()).toMatchObject({ source: 'command', createdBy: 'zhangsan', configId: codes[0]!.config_id, qrCode: codes[0]!.qr_code, userIds: ['zhangsan', 'lisi'] });
    expect(t.bot.ctx.channels.get('outage01')).toMatchObject({ key: 'outage01', owners: ['zhangsan', 'lisi'] });
    expect(crashes).toEqual([]);
  });
});
