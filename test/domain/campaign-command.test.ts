import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaign } from '../../src/domain/campaigns/catalog.js';
import { CAMPAIGN_COMMAND, runCampaignCommand } from '../../src/domain/campaigns/command.js';
import { CampaignRun } from '../../src/store/models/campaign-run.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { seedLeads } from '../helpers/seed-leads.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('campaign_command', { env: { CAMPAIGN_QUIET_HOURS: 'none', NURTURE_DAILY_CAP: '0' } });
  await seedLeads(h.sandbox, [{ name: '命令甲' }, { name: '命令乙', owner: 'lisi' }, { name: '命令丙', stage: 'customer' }].map((x) => ({ ...x, tags: ['测试/cmd'] })));
  await createCampaign(h.ctx, { key: 'cmd', name: '命令群发', segment: { tags: { all: ['测试/cmd'] } }, content: { text: '您好' }, schedule: { cron: '0 10 * * 1', timezone: 'Asia/Shanghai' } }, 'test');
});
afterAll(async () => h?.stop());

const say = (text: string, o: { admin?: boolean; actor?: string } = {}) => runCampaignCommand(h.ctx, { args: text.split(/\s+/).filter(Boolean), actor: o.actor ?? 'lisi', isAdmin: o.admin ?? false });

describe('群发 / campaign chat command (the domain behind handlers/commands/)', () => {
  it('is named 群发 and campaign; launch and cancel are for admins', () => {
    expect(CAMPAIGN_COMMAND.names).toEqual(['群发', 'campaign']);
    expect(CAMPAIGN_COMMAND.adminOnly).toEqual(['launch', 'cancel']);
  });

  it('answers usage, list, show and a dry run', async () => {
    expect(await say('')).toContain('用法');
    expect(await say('frobnicate cmd')).toContain('用法');
    expect(await say('show')).toContain('群发 show <key>');
    expect(await say('list')).toMatch(/\*\*cmd\*\* 命令群发：下次 /);
    expect(await say('show nope')).toBe('没有群发 nope。');
    const dry = await say('预演 cmd');
    expect(dry).toContain('目标 2 人');
    expect(dry).toContain('群发 2');
    expect(dry).toContain('已成交客户 1');
    expect(dry).toContain('lisi 1 个任务');
    expect(await say('dry-run nope')).toBe('没有群发 nope。');
  });

  it('launch is refused to non-admins and runs once for admins; pause and resume; cancel is for admins', async () => {
    expect(await say('launch cmd')).toContain('只有管理员');
    expect(await CampaignRun.countDocuments({ campaignKey: 'cmd' })).toBe(0);
    expect(await say('launch cmd', { admin: true })).toMatch(/^已开始运行 cmd\|/);
    expect(await say('launch cmd', { admin: true })).toContain('不会重复发送');
    await h.drain('campaign-run');
    expect(await say('show cmd')).toMatch(/finished：目标 2，.*群发待确认 2/);
    expect(await say('pause cmd')).toContain('已暂停 cmd');
    expect(await say('pause cmd')).toContain('本来就是暂停的');
    expect(await say('launch cmd', { admin: true })).toContain('不能 launch');
    expect(await say('resume cmd')).toContain('已恢复 cmd');
    expect(await say('cancel cmd')).toContain('只有管理员');
    expect(await say('cancel cmd', { admin: true })).toContain('已取消 cmd');
    expect(await say('resume cmd')).toContain('不能 resume');
    expect(await say('list')).toMatch(/\*\*cmd\*\* 命令群发：cancelled/);
  });
});
