import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { encrypt, getSignature } from '@wecom/crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createHttpApp } from '../../src/app/http-app.js';
import { commandFence, runLater } from '../../src/domain/commands/answer-later.js';
import { createCampaign } from '../../src/domain/campaigns/catalog.js';
import { takeFence } from '../../src/store/delivery-ledger.js';
import { CampaignRun } from '../../src/store/models/campaign-run.js';
import { ChannelRecord } from '../../src/store/models/channel-record.js';
import { CommandAudit } from '../../src/store/models/command-audit.js';
import { Enrollment, enrollmentId } from '../../src/store/models/enrollment.js';
import { Lead, leadId } from '../../src/store/models/lead.js';
import { Pause } from '../../src/store/models/pause.js';
import { timelineOf } from '../../src/store/timeline.js';
import type { RobotExchange } from '../../src/sandbox/index.js';
import { buildEncryptedJsonCallback } from '../../src/wecom/callback/json.js';
import { toQueryString } from '../../src/wecom/callback/crypto.js';
import { wecomJson } from '../fixtures/wecom/index.js';
import { startTestBot, TEST_CORP, type TestBot } from '../helpers/test-bot.js';
import { waitFor } from '../helpers/wait-for.js';
import { addTouch } from '../../src/store/touch-log.js';

// The 智能机器人 in API mode: every message below is signed and encrypted by the sandbox exactly as WeCom does (JSON,
// receiveid "") and goes through the bot's HTTP receiver; replies are checked and decrypted as WeCom would.
const ROBOT = { token: 'robotToken42', encodingAesKey: 'R0b0tEncodingAesKey0123456789abcdefghijklmn' };
const WEBHOOK = 'ops-webhook-key-robot';
let t: TestBot;
let wang: { externalUserId: string; id: string };

beforeAll(async () => {
  t = await startTestBot('robot', {
    env: { WECOM_ROBOT_TOKEN: ROBOT.token, WECOM_ROBOT_ENCODING_AES_KEY: ROBOT.encodingAesKey, OPS_ADMINS: 'zhangsan', OPS_USERIDS: 'LiSi', WECOM_OPS_WEBHOOK_KEY: WEBHOOK },
    sandbox: { members: ['zhangsan', 'lisi', 'wangwu'], webhookKeys: [WEBHOOK] },
  });
  t.sandbox.state.robot.target = { url: `${t.url}/wecom/robot`, ...ROBOT };
  t.sandbox.state.callback = { url: `${t.url}/wecom/callback`, token: TEST_CORP.token, encodingAesKey: TEST_CORP.encodingAesKey };
  // Leads as arrivals leave them (the funnel rollups follow every lead change): 王经理 and 王总 at 2026 工业展, one at 无欢迎语渠道.
  wang = await seed('王经理', '甲厂', 'expo2026');
  await seed('王总', '乙厂', 'expo2026');
  await seed('李工', '丙厂', 'notext');
});
afterAll(async () => t?.stop());

/** A lead as an arrival leaves it: a customer of zhangsan's who came through `channel`, last touched `at`. */
async function seed(name: string, corpName: string, channel: string, at = new Date()) {
  const { externalUserId } = t.sandbox.state.contacts.addCustomer({ name, userId: 'zhangsan', state: channel, corpName });
  const ref = { corpId: TEST_CORP.corpId, externalUserId };
  await t.bot.ctx.leads.mutate(ref, { channelKey: channel, userId: 'zhangsan', at }, (d) => {
    d.name = name;
    d.corpName = corpName;
    d.owners.push({ userId: 'zhangsan', channelKey: channel, addedAt: at, lastEventAt: at });
    addTouch(d, { eventKey: `add|${externalUserId}`, kind: 'add', channelKey: channel, userId: 'zhangsan', at });
  });
  return { externalUserId, id: leadId(TEST_CORP.corpId, externalUserId) };
}

const say = (text: string, userid = 'zhangsan', extra: { chatid?: string | null; msgid?: string } = {}) => t.sandbox.state.robot.say({ text, userid, ...extra });
const stream = (ex: RobotExchange) => (ex.reply as { msgtype: string; stream: { id: string; finish: boolean; content: string } }).stream;
const content = (ex: RobotExchange) => {
  expect(ex.status).toBe(200);
  expect(ex.reply).toMatchObject({ msgtype: 'stream', stream: { finish: true } });
  return stream(ex).content;
};
const later = (msgid: string) => waitFor(() => t.sandbox.state.robot.responseTo(msgid), `the answer through response_url of ${msgid}`, 20_000);
const auditOf = (msgid: string) => waitFor(() => CommandAudit.findById(msgid).lean(), `the audit entry of ${msgid}`);

describe('the robot receiver', () => {
  it('answers URL verification with the robot\'s own Token and EncodingAESKey (receiveid "")', async () => {
    const echostr = encrypt(ROBOT.encodingAesKey, 'robot-echo-4711', '');
    const timestamp = String(Math.floor(Date.now() / 1000));
    const q = { msg_signature: getSignature(ROBOT.token, timestamp, '99', echostr), timestamp, nonce: '99', echostr };
    const res = await fetch(`${t.url}/wecom/robot?${new URLSearchParams(q)}`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('robot-echo-4711');
  });

  it('refuses bad signatures, another key, malformed JSON and invalid messages with a 4xx, never a 5xx', async () => {
    const post = (message: unknown, creds = { ...ROBOT, receiveId: '' }, body?: string) => {
      const built = buildEncryptedJsonCallback(creds, message);
      return fetch(`${t.url}/wecom/robot?${toQueryString(built.query)}`, { method: 'POST', body: body ?? built.body, headers: { 'content-type': 'application/json' } });
    };
    const message = wecomJson('robot/text', { 'text.content': '@运营助手 帮助', 'from.userid': 'zhangsan' });
    expect((await post(message, { ...ROBOT, token: 'someoneElse', receiveId: '' })).status).toBe(401);
    expect((await post(message, { token: ROBOT.token, encodingAesKey: TEST_CORP.encodingAesKey, receiveId: '' })).status).toBe(400);
    expect((await post(message, { ...ROBOT, receiveId: TEST_CORP.corpId })).status).toBe(403);
    expect((await post(message, undefined, '{"encrypt": ')).status).toBe(400);
    expect((await post(message, undefined, '[1, 2]')).status).toBe(400);
    expect((await post('not an object')).status).toBe(400);
    expect((await post(wecomJson('robot/text', { msgid: undefined }))).status).toBe(400);
    expect((await post(wecomJson('robot/text', { text: { no: 'content' } }))).status).toBe(400);
    // Nothing of the above ran a command.
    expect(await CommandAudit.countDocuments({ _id: message.msgid as string })).toBe(0);
  });

  it('does not exist without WECOM_ROBOT_TOKEN / WECOM_ROBOT_ENCODING_AES_KEY', async () => {
    await withApp({ WECOM_ROBOT_TOKEN: undefined, WECOM_ROBOT_ENCODING_AES_KEY: undefined }, async (base) => {
      expect((await fetch(`${base}/wecom/robot`, { method: 'POST', body: '{}' })).status).toBe(404);
    });
  });
});

describe('commands', () => {
  it('帮助 / help: what the caller may run, in the language of the command; the @mention alone is help too', async () => {
    const zh = content(await say('帮助'));
    expect(zh).toContain('**可以运行的命令**（zhangsan，运营管理员');
    expect(zh).toContain('- `统计 [today|7d|30d|日期..日期] [渠道]`（stats）');
    expect(zh).toContain('`渠道 new <标识> <名称> [负责人…] | list`');
    const en = content(await say('help', 'lisi'));
    expect(en).toContain('**Commands you may run** (lisi, ops member');
    expect(en).toContain('- `stats [today|7d|30d|YYYY-MM-DD..YYYY-MM-DD] [channel]`（统计）');
    expect(en).not.toContain('可以运行');
    // A member sees 渠道 (list is theirs) and is told, as for 暂停 and 群发, which part is for admins.
    expect(en).toContain('- `channel new <key> <name> [owner…] | list`（渠道）list the channels, or create one (its 联系我 QR code; creating: admins)');
    expect(content(await say('帮助', 'lisi'))).toContain('（channel）列出渠道，或新建渠道（生成联系我二维码；新建需管理员）');
    expect(content(await say(''))).toContain('**可以运行的命令**');
  });

  it('an unknown command suggests the closest one, in the language typed', async () => {
    expect(content(await say('统记 7d'))).toBe('没有「统记」这个命令。你是不是想用「统计」？发送「帮助」查看全部命令。');
    // Only names help lists are suggested ("who" works for 线索 but help does not show it).
    expect(content(await say('foo'))).toBe('There is no command "foo". Send "help" for every command.');
    expect(content(await say('stast'))).toBe('There is no command "stast". Did you mean "stats"? Send "help" for every command.');
    expect(content(await say('Hepl'))).toContain('Did you mean "help"?');
  });

  it('统计 / stats: the funnel per channel as a table; full-width spaces and punctuation are fine; errors show the usage', async () => {
    const zh = content(await say('统计\u30007d。'));
    expect(zh).toMatch(/^\*\*渠道漏斗 \d{4}-\d{2}-\d{2} ~ \d{4}-\d{2}-\d{2}\*\*（按添加日期）/);
    expect(zh).toContain('| 渠道 | 新增 | 互动 | 合格 | 商机 | 成交 | 合格率 | 成交率 | 流失 | 退订 |');
    expect(zh).toContain('| 2026 工业展（expo2026） | 2 | 0 | 0 | 0 | 0 | 0% | 0% | 0 | 0 |');
    expect(zh).toContain('| 无欢迎语渠道（notext） | 1 |');
    expect(zh).toContain('| **合计** | 3 |');
    const en = content(await say('STATS today expo2026', 'lisi'));
    expect(en).toContain('| channel | added | engaged | qualified | opportunity | customer | to qualified | to customer | lost | unsubscribed |');
    expect(en).toContain('| 2026 工业展（expo2026） | 2 |');
    expect(en).not.toContain('notext');
    // Without a space after a Chinese command word, too.
    expect(content(await say('统计今天'))).toContain('| **合计** | 3 |');
    const bad = await say('统计 上周');
    expect(content(bad)).toBe('时间段「上周」看不懂：可以是 today、7d、30d、2026-11-01 或 2026-11-01..2026-11-30；也没有这个渠道（现有渠道：expo2026, notext, nurture, slowseq, kfad, organic）\n用法: `统计 [today|7d|30d|日期..日期] [渠道]`');
    // Both are optional: a channel alone is its last 7 days.
    const one = content(await say('统计 expo2026'));
    expect(one).toContain('| 2026 工业展（expo2026） | 2 |');
    expect(one).not.toContain('notext');
    // What is wrong with a period is said precisely.
    expect(content(await say('stats 2026-12-05..2026-12-01', 'lisi'))).toBe('period "2026-12-05..2026-12-01": its first day is after its last\nUsage: `stats [today|7d|30d|YYYY-MM-DD..YYYY-MM-DD] [channel]`');
    expect(content(await say('统计 400d expo2026'))).toBe('时间段「400d」：最多 366 天，最少 1 天\n用法: `统计 [today|7d|30d|日期..日期] [渠道]`');
    expect(content(await say('stats 7d nowhere'))).toContain('No channel "nowhere". Channels: expo2026, notext, nurture, slowseq, kfad, organic');
    expect(await auditOf(bad.msgid)).toMatchObject({ userId: 'zhangsan', command: 'stats', outcome: 'invalid_args', text: '统计 上周', lang: 'zh' });
  });

  it('线索 / lead: one lead\'s card; several matches give a short list; none says so', async () => {
    const card = content(await say('线索 王经理'));
    expect(card).toContain(`**王经理**（甲厂） \`${wang.externalUserId}\``);
    expect(card).toContain('- 阶段：新增 · 等级：**C**');
    expect(card).toContain('- 渠道：2026 工业展（expo2026）');
    expect(card).toContain('- 负责人：zhangsan');
    // Why it has its score, in the answer's language.
    expect(card).toContain('- 评分依据：公司 +10');
    expect(card).toMatch(/- 最近动态：\d\d-\d\d \d\d:\d\d 添加员工/);
    // Enrollments: a finished one counts its steps (not a step after the last), a stopped one says why in words; a
    // touch's detail is in the answer's brackets (a lead of its own: the intent would change 王经理's grade).
    const zhou = await seed('周工', '戊厂', 'expo2026');
    await t.bot.ctx.leads.mutate({ corpId: TEST_CORP.corpId, externalUserId: zhou.externalUserId }, null, (d) => addTouch(d, { eventKey: `kf|test-intent|${zhou.externalUserId}`, kind: 'intent', ref: 'qualify', at: new Date() }));
    const enrolled = { corpId: TEST_CORP.corpId, externalUserId: zhou.externalUserId, ownerUserId: 'zhangsan', enrolledAt: new Date(Date.now() - 3_600_000) };
    await Enrollment.create([
      { ...enrolled, _id: enrollmentId(TEST_CORP.corpId, zhou.externalUserId, 'five'), sequenceKey: 'five', status: 'completed', step: 5, endedAt: new Date() },
      { ...enrolled, _id: enrollmentId(TEST_CORP.corpId, zhou.externalUserId, 'slow'), sequenceKey: 'slow', status: 'stopped', step: 1, stopReason: 'stage:qualified', endedAt: new Date() },
    ]);
    const zhCard = content(await say('线索 周工'));
    expect(zhCard).toContain('five 共 5 步 · 已完成');
    expect(zhCard).toContain('slow 第 2 步 · 已停止（到了「合格」阶段）');
    expect(zhCard).toMatch(/\d\d:\d\d 询问价格\/演示\/试用（qualify）/);
    const enCard = content(await say(`lead ${zhou.externalUserId}`, 'lisi'));
    expect(enCard).toContain('five 5 steps · completed');
    expect(enCard).toContain('slow step 2 · stopped (reached stage qualified)');
    expect(enCard).toMatch(/\d\d:\d\d intent \(qualify\)/);
    const list = await say('线索 王');
    expect(content(list)).toContain('「王」匹配到多条线索，请用外部联系人 ID 再发一次：\n1. ');
    // The stage in the answer's language, as the card says it.
    expect(content(list)).toContain('王总（乙厂） · C · 新增 · `');
    expect(content(list)).not.toContain('added');
    expect((await auditOf(list.msgid)).outcome).toBe('ambiguous');
    expect(content(await say('lead 王', 'lisi'))).toContain('王总（乙厂） · C · added · `');
    expect(content(await say(`lead ${wang.externalUserId}`, 'lisi'))).toContain('- stage: added · grade: **C**');
    expect(content(await say(`lead ${wang.externalUserId}`, 'lisi'))).toContain('- why: company +10');
    expect(content(await say('线索 赵六'))).toBe('没有找到「赵六」对应的线索（可以用姓名、备注、公司或外部联系人 ID）。');
    // A line of the list copied back (name（company）), in either width, names its lead.
    expect(content(await say('线索 王总（乙厂）'))).toContain('**王总**（乙厂）');
    expect(content(await say('线索 王总(乙厂)'))).toContain('**王总**（乙厂）');
    expect(content(await say('线索 王总（丙厂）'))).toBe('没有找到「王总（丙厂）」对应的线索（可以用姓名、备注、公司或外部联系人 ID）。');
  });

  it('阶段 / stage: staff move a lead; who, why and "command" are on its timeline', async () => {
    const ex = await say('阶段 王经理 商机 客户要报价，下周演示');
    expect(content(ex)).toBe('已把 **王经理** 从「新增」移到「商机」，原因：客户要报价，下周演示。');
    expect((await Lead.findById(wang.id).lean())?.stage).toBe('opportunity');
    const moved = (await timelineOf(t.bot.ctx.corpId, wang.externalUserId)).find((e) => e.type === 'stage_changed');
    expect(moved?.detail).toMatchObject({ from: 'added', to: 'opportunity', by: 'staff', source: 'command', actor: 'zhangsan', reason: '客户要报价，下周演示' });
    expect(content(await say('阶段 王经理 商机'))).toBe('王经理 已经在「商机」阶段，没有变化。');
    expect(content(await say('stage 王经理 promoted', 'lisi'))).toBe('no stage "promoted": added, engaged, qualified, opportunity, customer, lost, unsubscribed\nUsage: `stage <lead> <stage> [reason]`');
    expect(content(await say('阶段'))).toBe('缺少 <线索>；缺少 <阶段>\n用法: `阶段 <线索> <阶段> [原因]`');
  });

  it('定级 / grade: pins a grade and unpins it with auto', async () => {
    expect(content(await say('定级 王经理 a 重点跟进', 'lisi'))).toMatch(/^已把 \*\*王经理\*\* 定为 \*\*A\*\* 级（人工定级，得分 \d+）。$/);
    expect(await Lead.findById(wang.id).lean()).toMatchObject({ grade: 'A', gradePin: 'A' });
    expect(content(await say('grade 王经理 auto'))).toMatch(/^Unpinned \*\*王经理\*\*: grade \*\*[ABC]\*\* from its score \d+\.$/);
    expect((await Lead.findById(wang.id).lean())?.gradePin).toBeNull();
    // Nothing was pinned: the answer says so, rather than "unpinned".
    expect(content(await say('定级 王经理 auto'))).toMatch(/^\*\*王经理\*\* 没有人工定级：按得分 \d+ 为 \*\*[ABC]\*\* 级。$/);
    expect(content(await say('定级 王经理 SSS'))).toContain('等级「SSS」应为 S、A、B、C 或 auto');
  });

  it('标签 / tag: through WeCom mark_tag, and on the lead', async () => {
    const before = t.sandbox.state.callsTo('externalcontact/mark_tag').length;
    expect(content(await say('标签 王经理 +重点客户，+行业/制造业'))).toBe('已更新 **王经理** 的标签（负责人 zhangsan）：加上 渠道/重点客户、行业/制造业');
    const marks = t.sandbox.state.okCallsTo('externalcontact/mark_tag').slice(before);
    expect(marks).toHaveLength(1);
    expect(marks[0]!.body).toMatchObject({ userid: 'zhangsan', external_userid: wang.externalUserId });
    expect((marks[0]!.body as { add_tag: string[] }).add_tag).toHaveLength(2);
    let lead = await Lead.findById(wang.id).lean();
    expect(lead?.tagKeys).toEqual(expect.arrayContaining(['渠道/重点客户', '行业/制造业']));
    expect(lead?.industry).toBe('制造业');
    expect(content(await say('tag 王经理 -重点客户 -不存在', 'lisi'))).toBe("Updated **王经理**'s tags (owners zhangsan): removed 渠道/重点客户 (no tag 渠道/不存在 to remove)");
    lead = await Lead.findById(wang.id).lean();
    expect(lead?.tagKeys).toEqual(['行业/制造业']);
    expect(content(await say('标签 王经理 重点客户'))).toContain('「重点客户」应写成 +标签 或 -标签');
    // A tag the lead has already is said to be there; one both added and removed is refused before WeCom is asked.
    expect(content(await say('标签 王经理 +行业/制造业'))).toBe('**王经理** 的标签没有变化（行业/制造业 本来就有）');
    // Only tags nobody has to remove: nothing to ask of WeCom (mark_tag with both lists empty is refused).
    const marksBefore = t.sandbox.state.callsTo('externalcontact/mark_tag').length;
    expect(content(await say('标签 王经理 -从没有过'))).toBe('**王经理** 的标签没有变化（没有 渠道/从没有过 这个标签，不用去掉）');
    expect(t.sandbox.state.callsTo('externalcontact/mark_tag')).toHaveLength(marksBefore);
    // A tag the lead does not have is not said to be removed (it was removed before, just above).
    expect(content(await say('标签 王经理 -重点客户'))).toBe('**王经理** 的标签没有变化（渠道/重点客户 本来就没有）');
    expect(content(await say('标签 王经理 +重点客户 -重点客户'))).toBe('渠道/重点客户 既要加上又要去掉：请只写一个');
  });

  it('暂停 / 恢复: a lead by an ops member; a sequence only by an admin; alone it lists what is paused', async () => {
    expect(content(await say('暂停 王经理 客户出差两周', 'lisi'))).toBe('已暂停线索「王经理」的培育和群发：进度保留，发送「恢复」后从原处继续。');
    expect(await Pause.findById(`lead:${wang.id}`).lean()).toMatchObject({ by: 'lisi', reason: '客户出差两周' });
    expect(content(await say('暂停 fast', 'lisi'))).toBe('抱歉，「暂停」这样用需要运营管理员权限，这条命令没有执行。');
    expect(await Pause.findById('sequence:fast').lean()).toBeNull();
    expect(content(await say('pause sequence:fast'))).toBe('Paused sequence fast: nurture and campaign sends wait where they are until resumed.');
    const list = content(await say('暂停'));
    expect(list).toContain('- 序列 `fast` · zhangsan');
    // A lead by its name and external id (what 线索 and 恢复 take), not by its stored id with the corp id.
    expect(list).toContain(`- 线索 王经理 \`${wang.externalUserId}\` · lisi`);
    expect(list).not.toContain(wang.id);
    expect(content(await say('pause'))).toContain(`- lead 王经理 \`${wang.externalUserId}\` · lisi`);
    // A paused campaign is listed in the answer's words, with how to resume it (恢复 takes no campaign).
    expect(content(await say('群发 pause expo-draft', 'lisi'))).toBe('已暂停 expo-draft：它还是草稿，本来就不会运行；去掉 draft 后也保持暂停，直到恢复。');
    expect(content(await say('暂停'))).toContain('- 群发 `expo-draft`（恢复：群发 resume expo-draft） · lisi');
    expect(content(await say('群发 resume expo-draft', 'lisi'))).toContain('已恢复 expo-draft');
    expect(content(await say('恢复 王经理', 'lisi'))).toBe('已恢复线索「王经理」：等待中的到期步骤马上运行，其余按原定时间。');
    expect(content(await say('resume fast'))).toBe('Resumed sequence fast: steps that came due run now, the rest at their time.');
    expect(await Pause.countDocuments({})).toBe(0);
    // A Chinese keyboard's full-width colon, both ways; a trailing @mention is not an argument.
    expect(content(await say('暂停 序列：fast @运营助手'))).toBe('已暂停培育序列「fast」的培育和群发：进度保留，发送「恢复」后从原处继续。');
    expect(content(await say('恢复 序列：fast'))).toBe('已恢复培育序列「fast」：等待中的到期步骤马上运行，其余按原定时间。');
    // A kind with nothing after its colon names nothing: said so, with the usage.
    expect(content(await say('暂停 序列：'))).toBe('冒号后面缺少名字（例如 序列:onboarding）\n用法: `暂停 <线索|序列|渠道> [原因]（不带参数：列出暂停中的）`');
    expect(content(await say('resume sequence:'))).toBe('a name must follow the colon (e.g. sequence:onboarding)\nUsage: `resume <lead | sequence | channel>`');
    expect(await Pause.countDocuments({})).toBe(0);
    expect(content(await say('恢复 fast'))).toBe('培育序列「fast」没有被暂停。');
    expect(content(await say('暂停 序列:nope'))).toBe('没有「nope」这个培育序列。现有：fast, five, slow');
    expect(content(await say('resume'))).toBe('missing <lead | sequence | channel>\nUsage: `resume <lead | sequence | channel>`');
    expect(content(await say('lead', 'lisi'))).toBe('missing <name | company | external id>\nUsage: `lead <name | company | external id>`');
  });

  it('渠道 new: slow, so "working on it" now and the QR link through response_url; the new channel attributes new contacts', async () => {
    const ex = await say('渠道 new expo2027 "2027 春季展" zhangsan lisi');
    expect(content(ex)).toBe('⏳ 正在处理「渠道 new expo2027 "2027 春季展" zhangsan lisi」，完成后结果会发在这里。');
    const answer = await later(ex.msgid);
    expect(answer.msgtype).toBe('markdown');
    expect(answer.content).toMatch(/^已新建渠道 \*\*2027 春季展\*\*（`expo2027`），负责人：zhangsan、lisi。\n联系我二维码：https:\/\//);
    const way = [...t.sandbox.state.contactWays.ways.values()].find((w) => w.state === 'expo2027');
    expect(way).toMatchObject({ type: 2, scene: 2, user: ['zhangsan', 'lisi'], skip_verify: true });
    expect(await ChannelRecord.findOne({ key: 'expo2027' }).lean()).toMatchObject({ source: 'command', createdBy: 'zhangsan', configId: way!.config_id });
    expect(await auditOf(ex.msgid)).toMatchObject({ command: 'channel', outcome: 'ok', later: true });
    // A customer scans the new code: attributed to it (and tagged with its name).
    const scan = await t.sandbox.state.contacts.scan({ userId: 'lisi', name: '春季展客户', state: 'expo2027' });
    const lead = await waitFor(() => Lead.findById(leadId(TEST_CORP.corpId, scan.externalUserId)).lean(), 'the scanned lead');
    expect(lead.firstTouch?.channelKey).toBe('expo2027');
    await waitFor(async () => (await Lead.findById(lead._id).lean())?.tagKeys?.includes('渠道/2027 春季展'), 'the channel tag');
    // Again: it exists.
    const again = await say('渠道 new expo2027 again');
    expect((await later(again.msgid)).content).toMatch(/^渠道「expo2027」已经存在，二维码：/);
    // An ops member may list channels, not create them.
    expect(content(await say('channel new x1 X', 'lisi'))).toBe('Sorry, "channel" used this way needs an ops admin, so nothing was done.');
    const list = content(await say('渠道 list', 'lisi'));
    expect(list).toContain('| 2027 春季展 | `expo2027` | 1 | 0 | [QR](');
    expect(list).toContain('| 命令 |');
    expect(content(await say('渠道 new bad/key 名字'))).toContain('标识「bad/key」只能用字母、数字、_ 或 -');
  });

  it('a channel another process created is known here at its first contact', async () => {
    // As if 渠道 new ran in another web process: only the stored record exists.
    await ChannelRecord.create({ key: 'salon11', name: '11 月沙龙', configId: 'cfg-elsewhere', qrCode: 'https://example.com/qr', userIds: ['wangwu'], source: 'command', createdBy: 'zhangsan' });
    const scan = await t.sandbox.state.contacts.scan({ userId: 'wangwu', name: '沙龙客户', state: 'salon11' });
    const lead = await waitFor(() => Lead.findById(leadId(TEST_CORP.corpId, scan.externalUserId)).lean(), 'the scanned lead');
    expect(lead.firstTouch?.channelKey).toBe('salon11');
  });

  it('a slow command that waited past its response_url\'s hour (workers were down) is not run: nobody would hear of it', async () => {
    const msgid = `late-${Date.now()}`;
    const job = { msgid, userId: 'zhangsan', chatId: 'wrOPS', chatType: 'group' as const, text: '渠道 new late01 迟到渠道 zhangsan', responseUrl: `${t.sandbox.url}/cgi-bin/aibot/response?response_code=late`, receivedAt: Date.now() - 61 * 60_000 };
    expect(await runLater(t.bot.ctx, job)).toBe('expired');
    expect(await ChannelRecord.findOne({ key: 'late01' }).lean()).toBeNull();
    expect(t.sandbox.state.robot.responses.filter((r) => r.msgid === msgid)).toHaveLength(0);
    expect(await auditOf(msgid)).toMatchObject({ outcome: 'expired' });
  });

  it('日报 / report: working on it, then the report through response_url, which takes one POST only', async () => {
    const ex = await say('日报', 'lisi');
    expect(content(ex)).toContain('⏳ 正在处理「日报」');
    const answer = await later(ex.msgid);
    expect(answer.content).toMatch(/^\*\*运营日报 · \d{4}-\d{2}-\d{2}\*\*/);
    expect(Buffer.byteLength(answer.content!)).toBeLessThanOrEqual(4096);
    // The response_url works once: a second POST is refused by WeCom.
    const url = (ex.message.response_url as string);
    const second = (await (await fetch(url, { method: 'POST', body: JSON.stringify({ msgtype: 'markdown', markdown: { content: 'again' } }) })).json()) as { errcode: number };
    expect(second.errcode).not.toBe(0);
    expect(t.sandbox.state.robot.responses.filter((r) => r.msgid === ex.msgid)).toHaveLength(1);
    expect(content(await say('report 2026-02-30'))).toContain('date "2026-02-30" must be like 2026-11-27, yesterday or today');
  });

  it('群发 / campaign: lists and shows campaigns; launch and cancel are for admins; a dry run answers later', async () => {
    expect(content(await say('群发 list', 'lisi'))).toContain('**expo-draft** 展会线索回访（草稿）：草稿');
    expect(content(await say('群发 launch expo-draft', 'lisi'))).toBe('抱歉，「群发」这样用需要运营管理员权限，这条命令没有执行。');
    expect(content(await say('campaign cancel expo-draft', 'lisi'))).toBe('Sorry, "campaign" used this way needs an ops admin, so nothing was done.');
    const dry = await say('群发 预演 expo-draft', 'zhangsan');
    expect(content(dry)).toBe('⏳ 正在处理「群发 预演 expo-draft」，完成后结果会发在这里。');
    expect((await later(dry.msgid)).content).toContain('**expo-draft 预演**（不会发送）：目标');
    const usage = await say('群发', 'lisi');
    expect(content(usage)).toContain('用法：群发 list');
    // Without a key a dry run only says how to use it: at once, not "working on it" first.
    const noKey = await say('群发 dry-run', 'zhangsan');
    expect(content(noKey)).toBe('用法：群发 dry-run <key>（群发 list 列出所有群发）');
    // Each answer's outcome is audited as what it is.
    expect((await auditOf(usage.msgid)).outcome).toBe('invalid_args');
    expect((await auditOf(noKey.msgid)).outcome).toBe('invalid_args');
    const none = await say('群发 show nope', 'lisi');
    expect(content(none)).toBe('没有群发 nope。');
    expect((await auditOf(none.msgid)).outcome).toBe('not_found');
    // Words past the key are not run and not ignored: said so in the answer's words, with the usage.
    expect(content(await say('群发 show expo-draft 马上 看看', 'lisi'))).toBe('多余的内容：马上 看看\n用法: `群发 list | show <key> | dry-run <key> | launch <key> | pause <key> | resume <key> | cancel <key>`');
    expect(content(await say('campaign show expo-draft now', 'lisi'))).toBe('unexpected: now\nUsage: `campaign list | show <key> | dry-run <key> | launch <key> | pause <key> | resume <key> | cancel <key>`');
    expect(content(await say('群发 show expo-draft', 'lisi'))).toBe('**expo-draft** 展会线索回访（草稿）（模板 · 草稿）\n时间：cron `0 10 * * 1`（Asia/Shanghai）\n还没有运行过。');
  });

  it('campaign: answered in English, like every command typed in English (a dry run\'s later answer too)', async () => {
    expect(content(await say('campaign list', 'lisi'))).toContain('- **expo-draft** 展会线索回访（草稿）: draft');
    expect(content(await say('campaign show expo-draft', 'lisi'))).toBe('**expo-draft** 展会线索回访（草稿） (template · draft)\ntime: cron `0 10 * * 1` (Asia/Shanghai)\nNo runs yet.');
    const dry = await say('campaign dry-run expo-draft', 'zhangsan');
    expect(content(dry)).toBe('⏳ Working on "campaign dry-run expo-draft"; the answer will follow here.');
    const answer = (await later(dry.msgid)).content!;
    expect(answer).toMatch(/^\*\*expo-draft dry run\*\* \(nothing is sent\): \d+ targeted\nroutes: 客服 \d+, mass message \d+, reminder to the owner \d+\nexcluded: /);
    expect(answer.replace(/王经理|王总|李工|周工|客服/g, '')).not.toMatch(/\p{Script=Han}/u);
    expect(content(await say('campaign', 'lisi'))).toBe('Usage: campaign list | show <key> | dry-run <key> | launch <key> | pause <key> | resume <key> | cancel <key>');
  });

  it('a fast command over the time budget answers "working on it" and sends its result through response_url', async () => {
    await withApp({ OPS_COMMAND_BUDGET_MS: 0 }, async (base) => {
      t.sandbox.state.robot.target = { url: `${base}/wecom/robot`, ...ROBOT };
      try {
        const ex = await say('线索 王经理');
        expect(content(ex)).toContain('⏳ 正在处理「线索 王经理」');
        expect((await later(ex.msgid)).content).toContain('**王经理**（甲厂）');
        expect(await auditOf(ex.msgid)).toMatchObject({ command: 'lead', outcome: 'ok', later: true });
      } finally {
        t.sandbox.state.robot.target = { url: `${t.url}/wecom/robot`, ...ROBOT };
      }
    });
  });
});

describe('who may do what, duplicates, refreshes, the audit log', () => {
  it('anyone not in OPS_ADMINS or OPS_USERIDS gets a polite refusal and nothing happens', async () => {
    const stageBefore = (await Lead.findById(wang.id).lean())?.stage;
    const ex = await say('阶段 王经理 成交 不该生效', 'wangwu');
    expect(content(ex)).toBe('抱歉，wangwu 还没有使用运营命令的权限，这条命令没有执行。需要的话请联系运营管理员开通。');
    expect((await Lead.findById(wang.id).lean())?.stage).toBe(stageBefore);
    expect(content(await say('stats', 'wangwu'))).toBe('Sorry, wangwu may not run ops commands, so nothing was done. Ask an ops admin if you need access.');
    expect(await auditOf(ex.msgid)).toMatchObject({ userId: 'wangwu', chatType: 'group', chatId: 'wrsandboxopsgroup', text: '阶段 王经理 成交 不该生效', command: 'stage', outcome: 'refused' });
  });

  it('a repeated msgid runs nothing again and gets the same reply; a stream refresh is answered from it, not run', async () => {
    const first = await say('阶段 王经理 合格 第一次');
    const moves = async () => (await timelineOf(t.bot.ctx.corpId, wang.externalUserId)).filter((e) => e.type === 'stage_changed').length;
    const count = await moves();
    const again = await t.sandbox.state.robot.deliver(first.message);
    expect(again.reply).toEqual(first.reply);
    expect(await moves()).toBe(count);
    expect(await CommandAudit.countDocuments({ _id: first.msgid })).toBe(1);
    const refresh = await t.sandbox.state.robot.refresh(stream(first).id);
    expect(refresh.reply).toEqual(first.reply);
    expect(await moves()).toBe(count);
    expect(await CommandAudit.countDocuments({ _id: refresh.msgid })).toBe(0);
    // A refresh of a stream that is not ours gets an empty body.
    expect((await t.sandbox.state.robot.refresh('someone-elses-stream')).raw).toBe('');
  });

  it('a repeat still waiting for the first delivery\'s reply is told it is being worked on, in the language of the command', async () => {
    // The first delivery is still being decided (its reply not kept yet) for longer than a repeat waits.
    const pending = async (text: string, msgid: string) => {
      await t.bot.ctx.redis.set(t.bot.ctx.keys.robotReply(msgid), 'pending', 'EX', 60);
      return content(await say(text, 'zhangsan', { msgid }));
    };
    const [en, enWithChineseName, zh] = await Promise.all([pending('stats 7d', 'pending-en'), pending('lead 王经理', 'pending-en-zh-arg'), pending('统计 7d', 'pending-zh')]);
    expect([en, enWithChineseName, zh]).toEqual(['Working on it…', 'Working on it…', '处理中…']);
  });

  it('a message in a single chat, an image, and entering the chat', async () => {
    expect(content(await say('帮助', 'zhangsan', { chatid: null }))).toContain('**可以运行的命令**');
    const image = await t.sandbox.state.robot.deliver(wecomJson('robot/image', { 'from.userid': 'zhangsan', response_url: t.sandbox.state.robot.issueResponseUrl('img'), aibotid: 'aib1' }));
    expect(stream(image).content).toBe('我只看得懂文字命令，发送「帮助」看看能做什么。');
    const enter = await t.sandbox.state.robot.deliver(wecomJson('robot/enter_chat'));
    expect(enter.reply).toMatchObject({ msgtype: 'text' });
  });

  it('every command is in the audit log: who, which chat, the text, the outcome', async () => {
    const rows = await CommandAudit.find({}).lean();
    expect(rows.length).toBeGreaterThan(20);
    for (const r of rows) {
      expect(r.userId).toBeTruthy();
      expect(['group', 'single']).toContain(r.chatType);
      expect(typeof r.text).toBe('string');
      expect(r.outcome).toBeTruthy();
    }
    expect(new Set(rows.map((r) => r.outcome))).toEqual(new Set(['ok', 'refused', 'unknown_command', 'invalid_args', 'not_found', 'ambiguous', 'rejected', 'expired']));
  });
});

describe('arguments as typed', () => {
  it('a name with full-width brackets reaches every lead command as typed, and a half-width one finds it too', async () => {
    const liu = await seed('刘总（丁厂）', '丁厂', 'notext');
    expect(content(await say('线索 刘总（丁厂）'))).toContain('**刘总（丁厂）**（丁厂）');
    expect(content(await say('阶段 刘总（丁厂） 商机'))).toBe('已把 **刘总（丁厂）** 从「新增」移到「商机」。');
    expect(content(await say('定级 刘总（丁厂） Ａ'))).toMatch(/^已把 \*\*刘总（丁厂）\*\* 定为 \*\*A\*\* 级（人工定级，得分 \d+）。$/);
    expect(await Lead.findById(liu.id).lean()).toMatchObject({ stage: 'opportunity', gradePin: 'A' });
    // Typed with half-width brackets, the stored name is still the one it names.
    expect(content(await say('阶段 刘总(丁厂) 合格'))).toBe('已把 **刘总（丁厂）** 从「商机」移到「合格」。');
    expect(content(await say('暂停 刘总（丁厂）'))).toBe('已暂停线索「刘总（丁厂）」的培育和群发：进度保留，发送「恢复」后从原处继续。');
    expect(content(await say('恢复 刘总(丁厂)'))).toBe('已恢复线索「刘总（丁厂）」：等待中的到期步骤马上运行，其余按原定时间。');
    // A sequence's key typed in full-width letters is that sequence.
    expect(content(await say('暂停 ｆａｓｔ'))).toBe('已暂停培育序列「fast」的培育和群发：进度保留，发送「恢复」后从原处继续。');
    expect(content(await say('恢复 序列：ｆａｓｔ'))).toBe('已恢复培育序列「fast」：等待中的到期步骤马上运行，其余按原定时间。');
  });

  it('标签 uses the existing corp tag whose name has full-width brackets, whichever brackets are typed, and creates no look-alike', async () => {
    const lead = await seed('钱经理', '戊厂', 'notext');
    // A tag an admin made in WeCom, which the bot knows.
    const { added } = t.sandbox.state.tags.addCorpTags({ groupName: '客户分层', tags: [{ name: '重点客户（华东）' }] });
    await t.bot.ctx.tags.resolve([{ group: '客户分层', name: '重点客户（华东）' }]);
    const created = t.sandbox.state.callsTo('externalcontact/add_corp_tag').length;
    const marked = t.sandbox.state.okCallsTo('externalcontact/mark_tag').length;
    expect(content(await say('标签 钱经理 +重点客户（华东）'))).toBe('已更新 **钱经理** 的标签（负责人 zhangsan）：加上 客户分层/重点客户（华东）');
    const marks = t.sandbox.state.okCallsTo('externalcontact/mark_tag').slice(marked);
    expect(marks.map((m) => (m.body as { add_tag: string[] }).add_tag)).toEqual([[added[0]!.id]]);
    expect((await Lead.findById(lead.id).lean())?.tagKeys).toEqual(['客户分层/重点客户（华东）']);
    // Half-width brackets and a full-width minus name the same tag.
    expect(content(await say('标签 钱经理 －重点客户(华东)'))).toBe('已更新 **钱经理** 的标签（负责人 zhangsan）：去掉 客户分层/重点客户（华东）');
    expect((await Lead.findById(lead.id).lean())?.tagKeys).toEqual([]);
    expect(t.sandbox.state.callsTo('externalcontact/add_corp_tag').length).toBe(created);
    expect(t.sandbox.state.tags.corpTags.flatMap((g) => g.tags.map((x) => x.name)).filter((n) => n.includes('华东'))).toEqual(['重点客户（华东）']);
  });

  it('渠道 new keeps the name as typed; 统计 finds that channel by it, in either width; full-width periods still read', async () => {
    const ex = await say('渠道 new salon12 秋季沙龙（华东） zhangsan');
    expect((await later(ex.msgid)).content).toMatch(/^已新建渠道 \*\*秋季沙龙（华东）\*\*（`salon12`），负责人：zhangsan。/);
    expect(await ChannelRecord.findOne({ key: 'salon12' }).lean()).toMatchObject({ name: '秋季沙龙（华东）' });
    const scan = await t.sandbox.state.contacts.scan({ userId: 'zhangsan', name: '沙龙华东客户', state: 'salon12' });
    await waitFor(() => Lead.findById(leadId(TEST_CORP.corpId, scan.externalUserId)).lean(), 'the scanned lead');
    const row = '| 秋季沙龙（华东）（salon12） | 1 |';
    await waitFor(async () => content(await say('统计 7d 秋季沙龙（华东）')).includes(row), 'the channel\'s funnel by its name');
    expect(content(await say('统计 ７ｄ 秋季沙龙(华东)'))).toContain(row);
    expect(content(await say('统计 7d ＳＡＬＯＮ１２'))).toContain(row);
    // The ops guide's example of full-width input.
    expect(content(await say('统计　７ｄ，expo2026。'))).toContain('| 2026 工业展（expo2026） |');
    // A key is the code's state: full-width letters are refused, not converted.
    expect(content(await say('渠道 new ｓａｌｏｎ１３ 冬季沙龙'))).toContain('标识「ｓａｌｏｎ１３」请用半角字母、数字、_ 或 -');
  });
});

describe('暂停 alone, the list of what is paused', () => {
  it('leaves out cancelled campaigns (they keep a pause so their senders stop, but are cancelled) and says how many more there are', async () => {
    expect(content(await say('群发 cancel expo-draft'))).toContain('已取消 expo-draft');
    expect(await Pause.findById('campaign:expo-draft').lean()).toMatchObject({ reason: 'cancelled' });
    expect(content(await say('暂停'))).toBe('现在没有暂停中的线索、序列、渠道或群发。');
    expect(content(await say('pause'))).toBe('Nothing is paused.');
    const at = new Date();
    await Pause.insertMany(Array.from({ length: 32 }, (_, i) => ({ _id: `sequence:s${i}`, kind: 'sequence', target: `s${i}`, by: 'zhangsan', at })));
    try {
      const list = content(await say('暂停'));
      expect(list.split('\n').filter((l) => l.startsWith('- 序列 '))).toHaveLength(30);
      expect(list).toMatch(/\n……另有 2 条$/);
      expect(list).not.toContain('expo-draft');
    } finally {
      await Pause.deleteMany({ kind: 'sequence', target: /^s\d+$/ });
    }
  });
});

describe('a lead by its exact name', () => {
  it('is found even when more recently touched leads contain its name; several of that name give their list', async () => {
    const old = Date.now() - 86_400_000;
    const zhao = await seed('赵总', '己厂', 'notext', new Date(old));
    for (let i = 0; i < 7; i++) await seed(`赵总监${i}`, `庚厂${i}`, 'notext', new Date(Date.now() - i * 60_000));
    expect(content(await say('阶段 赵总 商机'))).toBe('已把 **赵总** 从「新增」移到「商机」。');
    expect((await Lead.findById(zhao.id).lean())?.stage).toBe('opportunity');
    expect(content(await say('线索 赵总'))).toContain('**赵总**（己厂）');
    // Only part of names: the most recent of them, and more.
    const part = content(await say('线索 赵总监'));
    expect(part).toContain('「赵总监」匹配到多条线索');
    expect(part).toContain('……还有更多，请写得更具体些。');
    // Two of that name: those two to choose from, none of the 赵总监s.
    const other = await seed('赵总', '辛厂', 'notext', new Date(old - 60_000));
    const both = await say('定级 赵总 A');
    const grade = (await Lead.findById(zhao.id).lean())?.grade;
    expect(content(both)).toBe(`「赵总」匹配到多条线索，请用外部联系人 ID 再发一次：\n1. 赵总（己厂） · ${grade} · 商机 · \`${zhao.externalUserId}\`\n2. 赵总（辛厂） · C · 新增 · \`${other.externalUserId}\``);
    expect((await auditOf(both.msgid)).outcome).toBe('ambiguous');
    expect(content(await say(`定级 ${other.externalUserId} A`))).toMatch(/^已把 \*\*赵总\*\* 定为 \*\*A\*\* 级/);
    // Two names the same but for the width of their brackets: the one typed exactly is meant.
    await seed('周总（癸厂）', '癸厂', 'notext');
    await seed('周总(癸厂)', '癸厂', 'notext');
    expect(content(await say('线索 周总(癸厂)'))).toContain('**周总(癸厂)**');
    expect(content(await say('线索 周总（癸厂）'))).toContain('**周总（癸厂）**');
  });
});

describe('a slow command whose job runs again', () => {
  it('群发 launch is not run a second time when its ops-command job runs again (a worker died after the launch): one run, one answer', async () => {
    // A campaign nobody is in: its run starts and ends at once.
    await createCampaign(t.bot.ctx, { key: 'relaunch', name: '重跑测试', segment: { tags: { all: ['测试/无人'] } }, content: { text: '您好。' }, schedule: { cron: '0 10 * * 1', timezone: 'Asia/Shanghai' } }, 'test');
    const ex = await say('群发 launch relaunch');
    expect((await later(ex.msgid)).content).toMatch(/^已开始运行 relaunch/);
    const runs = () => CampaignRun.countDocuments({ campaignKey: 'relaunch' });
    expect(await runs()).toBe(1);
    expect(await auditOf(ex.msgid)).toMatchObject({ command: 'campaign', outcome: 'ok', later: true });
    // BullMQ runs a job again when its worker's lock lapsed (the worker died, maxStalledCount): the same job, a few
    // minutes later.
    const job = { msgid: ex.msgid, userId: 'zhangsan', chatId: 'wrsandboxopsgroup', chatType: 'group' as const, text: '群发 launch relaunch', responseUrl: ex.message.response_url as string, receivedAt: Date.now() };
    const now = Date.now;
    const spy = vi.spyOn(Date, 'now').mockImplementation(() => now() + 3 * 60_000);
    try {
      await runLater(t.bot.ctx, job);
    } finally {
      spy.mockRestore();
    }
    expect(await runs(), 'the job run again launched the campaign again').toBe(1);
    expect(t.sandbox.state.robot.responses.filter((r) => r.msgid === ex.msgid)).toHaveLength(1);
    expect(await auditOf(ex.msgid)).toMatchObject({ command: 'campaign', outcome: 'ok', later: true });
  });

  it('a slow command whose job runs again before its answer went out answers that it was not run again', async () => {
    const msgid = `again-${Date.now()}`;
    const responseUrl = t.sandbox.state.robot.issueResponseUrl(msgid);
    const job = { msgid, userId: 'zhangsan', chatId: 'wrsandboxopsgroup', chatType: 'group' as const, text: '群发 launch relaunch', responseUrl, receivedAt: Date.now() };
    // The first run of the job took the command's fence, then its worker died before answering.
    await takeFence(commandFence(msgid));
    expect(await runLater(t.bot.ctx, job)).toBe('failed:sent');
    expect((await later(msgid)).content).toBe('处理「群发 launch relaunch」时服务中断了：它可能已经执行过，为免重复没有再执行。请先查看结果，需要的话再发一次。');
    expect(await auditOf(msgid)).toMatchObject({ command: 'campaign', outcome: 'failed', later: true });
  });
});

/** Runs `fn` against the bot's web app built with some settings changed, on a port of its own. */
async function withApp(change: Record<string, unknown>, fn: (base: string) => Promise<void>): Promise<void> {
  const app = createHttpApp({ ...t.bot.ctx, config: { ...t.bot.ctx.config, ...change } as typeof t.bot.ctx.config });
  const server = await new Promise<Server>((r) => {
    const s = app.listen(0, '127.0.0.1', () => r(s));
  });
  try {
    await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    server.close();
    server.closeAllConnections();
  }
}
