import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaign } from '../../src/domain/campaigns/catalog.js';
import { CAMPAIGN_COMMAND, runCampaignCommand } from '../../src/domain/campaigns/command.js';
import { countFollowUp } from '../../src/domain/campaigns/follow-up.js';
import { CommandError, translator, type Lang } from '../../src/domain/commands/command.js';
import { launchCampaign, pauseCampaign } from '../../src/domain/campaigns/control.js';
import { startRun } from '../../src/domain/campaigns/schedule.js';
import { pause } from '../../src/domain/pause/pauses.js';
import { CampaignGroup } from '../../src/store/models/campaign-group.js';
import { CampaignRun } from '../../src/store/models/campaign-run.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { seedLeads } from '../helpers/seed-leads.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('campaign_command', { env: { CAMPAIGN_QUIET_HOURS: 'none', NURTURE_DAILY_CAP: '0' } });
  await seedLeads(h.sandbox, [{ name: '命令甲' }, { name: '命令乙', owner: 'lisi' }, { name: '命令丙', stage: 'customer' }].map((x) => ({ ...x, tags: ['测试/cmd'] })));
  await createCampaign(h.ctx, { key: 'cmd', name: '命令群发', segment: { tags: { all: ['测试/cmd'] } }, content: { text: '您好' }, schedule: { cron: '0 10 * * 1', timezone: 'Asia/Shanghai' } }, 'test');
  // 07:30 in Beijing (OPS_TIMEZONE) is 23:30 the day before in UTC.
  await createCampaign(h.ctx, { key: 'once', name: '一次群发', segment: { tags: { all: ['测试/cmd'] } }, content: { text: '您好' }, schedule: { at: '2027-01-15T07:30:00+08:00' } }, 'test');
});
afterAll(async () => h?.stop());

/** The command as typed in the ops chat: `群发 …` answers in Chinese, `campaign …` (lang en) in English. */
const say = (text: string, o: { admin?: boolean; actor?: string; lang?: Lang } = {}) =>
  runCampaignCommand({ ...h.ctx, lang: o.lang ?? 'zh', t: translator(o.lang ?? 'zh') }, { args: text.split(/\s+/).filter(Boolean), actor: o.actor ?? 'lisi', isAdmin: o.admin ?? false }).catch((err: unknown) => {
    // An answer that is not a success is thrown with its outcome: the chat gets its text all the same.
    if (err instanceof CommandError) return err.answer;
    throw err;
  });
const en = (text: string, o: { admin?: boolean } = {}) => say(text, { ...o, lang: 'en' });
/** Chinese characters other than the names the test data gives (campaigns, leads) and 客服, which English text keeps. */
const chineseWords = (text: string) => text.replace(/命令群发|一次群发|命令[甲乙丙]|客服/g, '').match(/\p{Script=Han}+/gu) ?? [];

describe('群发 / campaign chat command (the domain behind handlers/commands/)', () => {
  it('is named 群发 and campaign; launch and cancel are for admins', () => {
    expect(CAMPAIGN_COMMAND.names).toEqual(['群发', 'campaign']);
    expect(CAMPAIGN_COMMAND.adminOnly).toEqual(['launch', 'cancel']);
  });

  it('answers usage, list, show and a dry run', async () => {
    expect(await say('')).toContain('用法');
    expect(await say('frobnicate cmd')).toContain('用法');
    expect(await say('show')).toContain('群发 show <key>');
    expect(await say('list')).toMatch(/\*\*cmd\*\* 命令群发：下次 \d\d-\d\d 10:00/);
    expect(await say('list')).toContain('**once** 一次群发：下次 01-15 07:30');
    expect(await say('show nope')).toBe('没有群发 nope。');
    // Subcommand and key typed in full-width letters (keys are half-width: src/content/campaigns.ts).
    expect(await say('ｓｈｏｗ ｃｍｄ')).toBe(await say('show cmd'));
    const dry = await say('预演 cmd');
    expect(dry).toContain('目标 2 人');
    expect(dry).toContain('群发 2');
    expect(dry).toContain('已成交客户 1');
    expect(dry).toContain('lisi 1 个任务');
    expect(await say('dry-run nope')).toBe('没有群发 nope。');
    expect(dry).toMatch(/示例：命令[甲乙]（群发）、命令[甲乙]（群发）/);
  });

  it('answers `campaign …` in English: usage, list, show and a dry run', async () => {
    expect(await en('')).toBe('Usage: campaign list | show <key> | dry-run <key> | launch <key> | pause <key> | resume <key> | cancel <key>');
    expect(await en('show')).toBe('Usage: campaign show <key> (campaign list lists every campaign)');
    const list = await en('list');
    expect(list).toMatch(/^- \*\*cmd\*\* 命令群发: next \d\d-\d\d 10:00$/m);
    expect(list).toContain('- **once** 一次群发: next 01-15 07:30');
    expect(chineseWords(list)).toEqual([]);
    expect(await en('show nope')).toBe('No campaign nope.');
    const show = await en('show once');
    expect(show).toBe('**once** 一次群发 (API · active)\ntime: 01-15 07:30 (once)\nNo runs yet.');
    const dry = await en('dry-run cmd');
    expect(dry).toContain('**cmd dry run** (nothing is sent): 2 targeted');
    expect(dry).toContain('routes: 客服 0, mass message 2, reminder to the owner 0');
    expect(dry).toContain('excluded: customers 1');
    expect(dry).toMatch(/owners to confirm: .*lisi 1 task \(1 customer\)/);
    expect(dry).toMatch(/sample: 命令[甲乙] \(mass message\), 命令[甲乙] \(mass message\)/);
    expect(chineseWords(dry)).toEqual([]);
    expect(await en('dry-run nope')).toBe('No campaign nope.');
    expect(await en('launch cmd')).toBe('Only admins may launch a campaign: ask an admin of the ops group.');
  });

  it('shows a one-off time in OPS_TIMEZONE as MM-DD HH:mm, as other answers do', async () => {
    const show = await say('show once');
    expect(show).toBe('**once** 一次群发（API · 生效）\n时间：01-15 07:30（一次）\n还没有运行过。');
    expect(await say('show cmd')).toMatch(/^时间：cron `0 10 \* \* 1`（Asia\/Shanghai），下次 \d\d-\d\d 10:00$/m);
  });

  it('launch is refused to non-admins and runs once for admins; pause and resume; cancel is for admins', async () => {
    expect(await say('launch cmd')).toContain('只有管理员');
    expect(await CampaignRun.countDocuments({ campaignKey: 'cmd' })).toBe(0);
    expect(await say('launch cmd', { admin: true })).toMatch(/^已开始运行 cmd（立即发送 \d\d-\d\d \d\d:\d\d），完成后在运营群通报结果。$/);
    expect(await say('launch cmd', { admin: true })).toMatch(/^cmd 已有这次运行（立即发送 \d\d-\d\d \d\d:\d\d，(执行中|已完成)），不会重复发送。$/);
    await h.drain('campaign-run');
    const run = await CampaignRun.findOne({ campaignKey: 'cmd' }).lean();
    // The first day's count says when the final one comes (7 days after the run).
    await countFollowUp(run!._id, false, { resultsForMs: 3_600_000 });
    const finished = (await CampaignRun.findById(run!._id).lean())!.finishedAt!;
    const day7 = new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Shanghai', month: '2-digit', day: '2-digit' }).format(finished.getTime() + 7 * 86_400_000).split('/').reverse().join('-');
    expect(await say('show cmd')).toMatch(new RegExp(`^- 7 天跟进（截至 \\d\\d-\\d\\d \\d\\d:\\d\\d，最终统计 ${day7} \\d\\d:\\d\\d）`, 'm'));
    // Counted while its messages wait for their owners: the follow-up says when its final count is due.
    await countFollowUp(run!._id, true, { resultsForMs: 3_600_000 });
    expect(await say('show cmd')).toMatch(/^- 7 天跟进（截至 \d\d-\d\d \d\d:\d\d，最终统计 \d\d-\d\d \d\d:\d\d）：触达 0，/m);
    expect(await en('show cmd')).toMatch(/^- 7-day follow-up \(as of \d\d-\d\d \d\d:\d\d, final count \d\d-\d\d \d\d:\d\d\): reached 0,/m);
    await countFollowUp(run!._id, true, { now: Date.now() + 8 * 86_400_000, resultsForMs: 3_600_000 });
    // A run reads as its trigger and local time, its status in the answer's words; results, exclusions, the owners'
    // tasks and the 7-day follow-up as docs/ops-guide.md, "Results", lists them. No run id, no UTC time.
    const show = await say('show cmd');
    expect(show).toMatch(/^\*\*立即发送 \d\d-\d\d \d\d:\d\d\*\* · 已完成$/m);
    expect(show).toMatch(/^- 目标 2，.*群发待确认 2/m);
    expect(show).toContain('- 排除：已成交客户 1');
    expect(show).toMatch(/^- 各负责人：.*lisi 1 个任务（1 人）/m);
    expect(show).toContain('- 7 天跟进（最终）：触达 0，回复 0，点击 0，链接打开 0；到达阶段：无');
    expect(show).not.toContain('cmd|');
    expect(show).not.toMatch(/finished|active|\d{4}-\d\d-\d\dT/);
    const showEn = await en('show cmd');
    expect(showEn).toMatch(/^\*\*launched \d\d-\d\d \d\d:\d\d\*\* · finished$/m);
    expect(showEn).toMatch(/^- targeted 2, .*waiting for owner 2/m);
    expect(showEn).toContain('- excluded: customers 1');
    expect(showEn).toContain('- 7-day follow-up (final): reached 0, replied 0, clicked 0, link opens 0; stages reached: none');
    expect(chineseWords(showEn)).toEqual([]);
    expect(await say('pause cmd')).toContain('已暂停 cmd');
    expect(await say('pause cmd')).toContain('本来就是暂停的');
    expect(await say('launch cmd', { admin: true })).toBe('不能立即发送 cmd：它已暂停：先恢复（群发 resume cmd）。');
    expect(await en('launch cmd', { admin: true })).toBe('Cannot launch cmd: it is paused: resume it first (campaign resume cmd).');
    expect(await say('resume cmd')).toContain('已恢复 cmd');
    expect(await say('cancel cmd')).toContain('只有管理员');
    expect(await say('cancel cmd', { admin: true })).toContain('已取消 cmd');
    expect(await say('resume cmd')).toBe('不能恢复 cmd：它已取消。');
    expect(await say('list')).toMatch(/\*\*cmd\*\* 命令群发：已取消；上次 \d\d-\d\d \d\d:\d\d 已完成$/m);
    expect(await en('list')).toMatch(/\*\*cmd\*\* 命令群发: cancelled; last \d\d-\d\d \d\d:\d\d finished$/m);
  });

  it('a one-off campaign whose run has finished has nothing to pause: the pause is refused, saying so', async () => {
    expect(await say('launch once', { admin: true })).toContain('已开始运行 once');
    await h.drain('campaign-run');
    expect((await CampaignRun.findById('once|at').lean())?.status).toBe('finished');
    // Its time is still ahead, but its only run is done: no next run is shown (list, the admin API, the dashboard).
    expect(await say('list')).toMatch(/^- \*\*once\*\* 一次群发：没有下次运行；上次 \d\d-\d\d \d\d:\d\d 已完成$/m);
    expect(await say('pause once')).toMatch(/^不能暂停 once：它是一次性群发，唯一的一次运行已完成（\d\d-\d\d \d\d:\d\d），不会再发送，无需暂停。$/);
    expect(await en('pause once')).toMatch(/^Cannot pause once: it is a one-off campaign whose only run finished at \d\d-\d\d \d\d:\d\d: it sends nothing more, so there is nothing to pause\.$/);
    expect(await say('show once')).not.toContain('已暂停');
    // Paused already (its run ended while it was paused): unchanged, said as such; not "resume it first" to pause it.
    await pause(h.ctx, { kind: 'campaign', target: 'once' }, { actor: 'lisi' });
    expect(await say('pause once')).toBe('once 本来就是暂停的。');
    expect(await say('resume once')).toContain('已恢复 once');
  });

  it('a one-off campaign whose run was skipped (it can still be launched), or is under way, can be paused', async () => {
    const at = '2027-02-01T10:00:00+08:00';
    await createCampaign(h.ctx, { key: 'once2', name: '一次群发', segment: { tags: { all: ['测试/cmd'] } }, content: { text: '您好' }, schedule: { at } }, 'test');
    expect(await say('pause once2')).toContain('已暂停 once2');
    expect((await startRun(h.ctx, 'once2', { trigger: 'schedule', at: Date.parse(at) }))?.run.status).toBe('skipped');
    expect(await say('resume once2')).toContain('已恢复 once2');
    expect(await say('pause once2')).toContain('已暂停 once2');
    expect(await say('resume once2')).toContain('已恢复 once2');
    await CampaignRun.updateOne({ _id: 'once2|at' }, { $set: { status: 'running', finishedAt: null } });
    expect(await say('pause once2')).toContain('已暂停 once2');
    await CampaignRun.updateOne({ _id: 'once2|at' }, { $set: { status: 'finished', finishedAt: new Date() } });
    await say('resume once2');
    await expect(pauseCampaign(h.ctx, 'once2', 'lisi')).rejects.toMatchObject({ code: 'state' });
  });

  it('show during a run: the counts are so far and agree with the owners\' tasks the run has sent; a finished run reads as before', async () => {
    await createCampaign(h.ctx, { key: 'mid', name: '命令群发', segment: { tags: { all: ['测试/cmd'] } }, content: { text: '您好' }, schedule: { cron: '0 10 * * 1', timezone: 'Asia/Shanghai' } }, 'test');
    const { run } = await launchCampaign(h.ctx, 'mid');
    await h.drain('campaign-run');
    const done = (await CampaignRun.findById(run._id).lean())!;
    expect(done.status).toBe('finished');
    expect(await CampaignGroup.countDocuments({ runId: run._id, via: 'mass' })).toBe(2);
    const finished = await say('show mid');
    expect(finished).toContain('- 目标 2，客服 0，群发待确认 2，');
    const finishedEn = await en('show mid');
    // Mid-run: its tasks are sent (the groups), its page not settled yet (no counters written).
    await CampaignRun.updateOne({ _id: run._id }, { $set: { status: 'running', finishedAt: null, counters: {} } });
    const mid = await say('show mid');
    expect(mid).toContain('- 截至目前（运行中，数字还会增加）：目标 2，客服 0，群发待确认 2，');
    expect(mid).toMatch(/lisi 1 个任务（1 人）/);
    expect(await en('show mid')).toContain('- so far (still running): targeted 2, 客服 sent 0, waiting for owner 2,');
    // Its page settled: the counters hold the same customers, counted once.
    await CampaignRun.updateOne({ _id: run._id }, { $set: { counters: done.counters } });
    expect(await say('show mid')).toContain('- 截至目前（运行中，数字还会增加）：目标 2，客服 0，群发待确认 2，');
    // Ended: as before, word for word.
    await CampaignRun.updateOne({ _id: run._id }, { $set: { status: 'finished', finishedAt: done.finishedAt } });
    expect(await say('show mid')).toBe(finished);
    expect(await en('show mid')).toBe(finishedEn);
  });
});
