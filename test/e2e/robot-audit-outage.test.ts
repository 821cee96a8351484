import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobIds } from '../../src/queues/job-ids.js';
import { CommandAudit } from '../../src/store/models/command-audit.js';
import { startOutageBot, type KillableDatabase, type OutageBot } from '../helpers/killable-database.js';
import { seedLeads } from '../helpers/seed-leads.js';
import type { TestBot } from '../helpers/test-bot.js';
import { waitFor } from '../helpers/wait-for.js';

const ROBOT = { token: 'robotToken42', encodingAesKey: 'R0b0tEncodingAesKey0123456789abcdefghijklmn' };
const MARK_TAG = 'externalcontact/mark_tag';
const RESPONSE = 'aibot/response';
/** How long the sandbox holds the command's mark_tag before WeCom takes it: the database goes down meanwhile. */
const HOLD_MS = 4_000;

/**
 * A chat command whose work outside the database is done when the database dies: `标签` marks the tag in WeCom
 * (mark_tag), then its write of the lead and its audit entry (command_audit) both fail. The command ran, so its
 * callback is answered and the answer kept under the msgid; WeCom's retry of the callback gets that answer and runs
 * nothing again (docs/architecture.md, "One chat command, end to end"). Every command ends with a database write, so
 * this is the one way a database outage reaches the audit entry of a command that did something.
 */
describe('a chat command whose audit entry the database cannot take', () => {
  let db: KillableDatabase;
  let t: TestBot;
  let crashes: unknown[];
  let outage: OutageBot;
  beforeAll(async () => {
    outage = await startOutageBot('robot_audit_outage', {
      // The answer goes in the reply however long the command takes (no "working on it" and response_url), and the
      // sandbox waits for it: the writes that fail take the driver's 10 s server selection each (src/app/bot.ts).
      env: { WECOM_ROBOT_TOKEN: ROBOT.token, WECOM_ROBOT_ENCODING_AES_KEY: ROBOT.encodingAesKey, OPS_ADMINS: 'zhangsan', OPS_COMMAND_BUDGET_MS: '120000' },
      sandbox: { members: ['zhangsan'], callbackTimeoutMs: 60_000 },
    });
    ({ db, t, crashes } = outage);
    t.sandbox.state.robot.target = { url: `${t.url}/wecom/robot`, ...ROBOT };
  });
  afterAll(async () => outage?.stop());

  it('answers the command that ran, and a retried callback of the same msgid does not run it again', async () => {
    const [lead] = await seedLeads(t.sandbox, [{ name: '赵停库', owner: 'zhangsan' }]);
    t.sandbox.state.inject({ api: MARK_TAG, delayMs: HOLD_MS, times: 1 });

    const sent = t.sandbox.state.robot.say({ text: `标签 ${lead!.externalUserId} +行业/停库测试`, userid: 'zhangsan' });
    const mark = await waitFor(() => t.sandbox.state.callsTo(MARK_TAG)[0], 'the command to call mark_tag', 20_000, 10);
    await db.kill();
    await waitFor(() => mongoose.connection.readyState !== mongoose.ConnectionStates.connected, 'the bot to see the database down', HOLD_MS - 500, 10);
    expect(Number.isNaN(mark.errcode)).toBe(true);
    // WeCom tags the customer; the lead's write and then the audit entry wait for the database and fail.
    const first = await sent;
    expect(mark.errcode).toBe(0);

    await db.restart();
    await waitFor(() => mongoose.connection.readyState === mongoose.ConnectionStates.connected, 'the bot to see the database again', 30_000, 50);
    // WeCom's retry of the same callback (same msgid), once the database is back.
    const retry = await t.sandbox.state.robot.deliver(first.message);

    // The command ran once: WeCom tagged the customer once, and the retry did not tag them again.
    expect(t.sandbox.state.callsTo(MARK_TAG)).toHaveLength(1);
    expect(t.sandbox.state.tags.tagsOf('zhangsan', lead!.externalUserId).map((x) => `${x.group_name}/${x.tag_name}`)).toContain('行业/停库测试');
    // Its callback was answered with what the command said (the lead's write failed: it says so), and the retry got
    // that same reply.
    expect(first.status).toBe(200);
    expect(first.reply).toMatchObject({ msgtype: 'stream', stream: { finish: true, content: '抱歉，执行时出错了，请稍后再试。' } });
    expect(retry.status).toBe(200);
    expect(retry.reply).toEqual(first.reply);
    // The audit entry the database did not take is written later, once, by a job of its own.
    const entry = await waitFor(() => CommandAudit.findById(first.msgid).lean(), 'the audit entry written later', 40_000, 250);
    expect(entry).toMatchObject({ userId: 'zhangsan', command: 'tag', text: `标签 ${lead!.externalUserId} +行业/停库测试` });

    expect(crashes).toEqual([]);
  });

  it('answers a command that runs nothing (unknown, refused) while the database is down; its entry is written later', async () => {
    await db.kill();
    await waitFor(() => mongoose.connection.readyState !== mongoose.ConnectionStates.connected, 'the bot to see the database down', 10_000, 10);
    const unknown = await t.sandbox.state.robot.say({ text: '统记 7d', userid: 'zhangsan' });
    const refused = await t.sandbox.state.robot.say({ text: '帮助', userid: 'nobody' });
    expect(unknown.status).toBe(200);
    expect(unknown.reply).toMatchObject({ msgtype: 'stream', stream: { finish: true, content: '没有「统记」这个命令。你是不是想用「统计」？发送「帮助」查看全部命令。' } });
    expect(refused.status).toBe(200);
    expect(JSON.stringify(refused.reply)).toContain('还没有使用运营命令的权限');
    await db.restart();
    for (const [m, outcome] of [[unknown, 'unknown_command'], [refused, 'refused']] as const) {
      const entry = await waitFor(() => CommandAudit.findById(m.msgid).lean(), 'the audit entry written later', 40_000, 250);
      expect(entry?.outcome).toBe(outcome);
    }
    expect(crashes).toEqual([]);
  });
});

/**
 * A chat command over the time budget answers "working on it" and sends its answer through the message's
 * response_url [D:101138], then keeps it in the audit log (docs/architecture.md, "One chat command, end to end"). When
 * the database dies while WeCom takes that answer, the answer still reaches the chat once, and the audit entry the
 * database does not take is written later by a `command-audit` job, marked as answered later.
 */
describe('a chat command answered through response_url whose audit entry the database cannot take', () => {
  let db: KillableDatabase;
  let t: TestBot;
  let crashes: unknown[];
  let outage: OutageBot;
  beforeAll(async () => {
    outage = await startOutageBot('robot_audit_outage_late', {
      // Every command is over the budget: "working on it" in the reply, the answer through response_url.
      env: { WECOM_ROBOT_TOKEN: ROBOT.token, WECOM_ROBOT_ENCODING_AES_KEY: ROBOT.encodingAesKey, OPS_ADMINS: 'zhangsan', OPS_COMMAND_BUDGET_MS: '0' },
      sandbox: { members: ['zhangsan'] },
    });
    ({ db, t, crashes } = outage);
    t.sandbox.state.robot.target = { url: `${t.url}/wecom/robot`, ...ROBOT };
  });
  afterAll(async () => outage?.stop());

  it('sends the answer once, and its audit entry is written later, marked as answered later', async () => {
    await seedLeads(t.sandbox, [{ name: '钱迟到', owner: 'zhangsan' }]);
    // WeCom holds the answer posted to the response_url (within the bot's WeCom call timeout): the database goes down
    // meanwhile, so the answer is taken and the audit entry after it is not.
    t.sandbox.state.inject({ api: RESPONSE, delayMs: HOLD_MS, times: 1 });

    const ex = await t.sandbox.state.robot.say({ text: '线索 钱迟到', userid: 'zhangsan' });
    expect(ex.status).toBe(200);
    expect(ex.reply).toMatchObject({ msgtype: 'stream', stream: { finish: true } });
    expect((ex.reply as { stream: { content: string } }).stream.content).toContain('⏳ 正在处理「线索 钱迟到」');

    const post = await waitFor(() => t.sandbox.state.callsTo(RESPONSE)[0], 'the answer posted to the response_url', 20_000, 10);
    await db.kill();
    await waitFor(() => mongoose.connection.readyState !== mongoose.ConnectionStates.connected, 'the bot to see the database down', HOLD_MS - 500, 10);
    expect(Number.isNaN(post.errcode)).toBe(true);

    // The answer reaches the chat; its audit entry waits for the database (the driver's 10 s server selection), fails,
    // and is queued for later.
    const answer = await waitFor(() => t.sandbox.state.robot.responseTo(ex.msgid), 'the answer through response_url', 20_000);
    expect(post.errcode).toBe(0);
    expect(answer.content).toContain('钱迟到');
    const queue = t.bot.ctx.queues.get('command-audit');
    await waitFor(() => queue.getJob(jobIds.commandAudit(ex.msgid)), 'the audit entry queued for later', 30_000, 100);

    await db.restart();
    await waitFor(() => mongoose.connection.readyState === mongoose.ConnectionStates.connected, 'the bot to see the database again', 30_000, 50);
    const entry = await waitFor(() => CommandAudit.findById(ex.msgid).lean(), 'the audit entry written later', 40_000, 250);
    expect(entry).toMatchObject({ userId: 'zhangsan', text: '线索 钱迟到', command: 'lead', outcome: 'ok', later: true });
    // Its duration is the command's, up to its answer, not the failed write's wait.
    expect(entry.ms).toBeLessThan(10_000);

    // The response_url took one answer [D:101138].
    expect(t.sandbox.state.callsTo(RESPONSE)).toHaveLength(1);
    expect(t.sandbox.state.robot.responses.filter((r) => r.msgid === ex.msgid)).toHaveLength(1);
    expect(crashes).toEqual([]);
  });
});

/**
 * A slow chat command (日报: always answered later) runs in the `ops-command` job and sends its answer through the
 * message's response_url [D:101138]. When the database dies while WeCom takes that answer, the answer still reaches
 * the chat once, and the audit entry the database does not take is written later by a `command-audit` job, as for
 * every command that ran (docs/architecture.md, "One chat command, end to end").
 */
describe('a slow chat command whose audit entry the database cannot take', () => {
  let db: KillableDatabase;
  let t: TestBot;
  let crashes: unknown[];
  let outage: OutageBot;
  beforeAll(async () => {
    outage = await startOutageBot('robot_audit_outage_slow', {
      env: { WECOM_ROBOT_TOKEN: ROBOT.token, WECOM_ROBOT_ENCODING_AES_KEY: ROBOT.encodingAesKey, OPS_ADMINS: 'zhangsan' },
      sandbox: { members: ['zhangsan'] },
    });
    ({ db, t, crashes } = outage);
    t.sandbox.state.robot.target = { url: `${t.url}/wecom/robot`, ...ROBOT };
  });
  afterAll(async () => outage?.stop());

  it('sends the answer once, and its audit entry is written later, marked as answered later', async () => {
    // WeCom holds the report posted to the response_url: the database goes down meanwhile.
    t.sandbox.state.inject({ api: RESPONSE, delayMs: HOLD_MS, times: 1 });

    const ex = await t.sandbox.state.robot.say({ text: '日报', userid: 'zhangsan' });
    expect((ex.reply as { stream: { content: string } }).stream.content).toContain('⏳ 正在处理「日报」');

    const post = await waitFor(() => t.sandbox.state.callsTo(RESPONSE)[0], 'the report posted to the response_url', 20_000, 10);
    await db.kill();
    await waitFor(() => mongoose.connection.readyState !== mongoose.ConnectionStates.connected, 'the bot to see the database down', HOLD_MS - 500, 10);
    expect(Number.isNaN(post.errcode)).toBe(true);

    const answer = await waitFor(() => t.sandbox.state.robot.responseTo(ex.msgid), 'the report through response_url', 20_000);
    expect(post.errcode).toBe(0);
    expect(answer.content).toMatch(/^\*\*运营日报 · /);
    const queue = t.bot.ctx.queues.get('command-audit');
    await waitFor(() => queue.getJob(jobIds.commandAudit(ex.msgid)), 'the audit entry queued for later', 30_000, 100);

    await db.restart();
    await waitFor(() => mongoose.connection.readyState === mongoose.ConnectionStates.connected, 'the bot to see the database again', 30_000, 50);
    const entry = await waitFor(() => CommandAudit.findById(ex.msgid).lean(), 'the audit entry written later', 40_000, 250);
    expect(entry).toMatchObject({ userId: 'zhangsan', text: '日报', command: 'report', outcome: 'ok', later: true });
    expect(t.sandbox.state.robot.responses.filter((r) => r.msgid === ex.msgid)).toHaveLength(1);
    expect(crashes).toEqual([]);
  });
});
