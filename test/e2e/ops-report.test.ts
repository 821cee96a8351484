import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { raiseAlert } from '../../src/domain/alerts/ops-alerts.js';
import { addDays } from '../../src/domain/commands/period.js';
import { localDay } from '../../src/domain/nurture/clock.js';
import { buildDailyReport, startOfDay } from '../../src/domain/report/daily-report.js';
import { postDailyReport } from '../../src/domain/report/post-report.js';
import { Alert } from '../../src/store/models/alert.js';
import { Delivery } from '../../src/store/models/delivery.js';
import { Fence } from '../../src/store/models/fence.js';
import { recordStep } from '../../src/store/timeline.js';
import { startTestBot, type TestBot } from '../helpers/test-bot.js';
import { waitFor } from '../helpers/wait-for.js';
import { killWorker, startWorkerProcess } from '../helpers/worker-process.js';
import { addTouch } from '../../src/store/touch-log.js';
import { WecomApiError } from '../../src/errors.js';
import { clientWithDeadRedis } from '../helpers/dead-redis-client.js';

// The daily report: at OPS_REPORT_CRON in OPS_TIMEZONE, to the ops group's webhook, exactly once per day however many
// workers run. Here the schedule fires every second, so only the once-per-day rule keeps it to one message.
const KEY = 'ops-webhook-key-report';
const TZ = 'Asia/Shanghai';
let t: TestBot;
let second: ChildProcess | undefined;
beforeAll(async () => {
  t = await startTestBot('report', { env: { WECOM_OPS_WEBHOOK_KEY: KEY, OPS_REPORT_CRON: '* * * * * *', OPS_TIMEZONE: TZ }, sandbox: { webhookKeys: [KEY] } });
});
afterAll(async () => {
  if (second) await killWorker(second);
  await t?.stop();
});

const reports = () => t.sandbox.state.webhook.sent.filter((m) => m.content?.startsWith('**运营日报'));

describe('the daily report', () => {
  it('goes out once per day across two worker processes, however often its schedule fires', async () => {
    second = startWorkerProcess(t.env);
    const queue = t.bot.ctx.queues.get('ops-report');
    await waitFor(async () => (await queue.getWorkers()).length >= 2, 'the second worker process on the report queue', 45_000, 200);
    const done = (await queue.getJobCounts('completed')).completed ?? 0;
    await waitFor(async () => ((await queue.getJobCounts('completed')).completed ?? 0) >= done + 3, 'three more report slots', 30_000, 200);
    const yesterday = addDays(localDay(Date.now(), TZ), -1);
    expect(reports()).toHaveLength(1);
    expect(reports()[0]!.content).toContain(`**运营日报 · ${yesterday}**`);
    expect(await Fence.exists({ _id: `report|${yesterday}#1` })).toBeTruthy();
  });

  it('holds the day\'s adds per channel, funnel moves, S/A leads waiting, late answers, nurture, campaigns and platform errors', async () => {
    const ctx = t.bot.ctx;
    const day = '2026-03-10';
    const noon = new Date(startOfDay(day, TZ) + 12 * 3_600_000);
    expect(localDay(startOfDay(day, TZ), TZ)).toBe(day);
    expect(localDay(startOfDay(day, TZ) - 1, TZ)).toBe('2026-03-09');
    const lead = async (id: string, channel: string, name: string) => {
      const ref = { corpId: ctx.corpId, externalUserId: id };
      await ctx.leads.mutate(ref, { channelKey: channel, userId: 'zhangsan', at: noon }, (d) => {
        d.name = name;
        d.owners.push({ userId: 'zhangsan', channelKey: channel, addedAt: noon, lastEventAt: noon });
        d.lastInteraction = { userId: 'zhangsan', at: noon };
        addTouch(d, { eventKey: `add|${id}`, kind: 'add', channelKey: channel, userId: 'zhangsan', at: noon });
        addTouch(d, { eventKey: `click|${id}`, kind: 'click', channelKey: channel, userId: 'zhangsan', at: new Date(noon.getTime() + 60_000) });
        d.gradePin = name === '周总' ? 'S' : null;
      });
    };
    await lead('wm_r1', 'expo2026', '周总');
    await lead('wm_r2', 'expo2026', '吴工');
    await lead('wm_r3', 'notext', '郑经理');
    await recordStep({ corpId: ctx.corpId, externalUserId: 'wm_r2' }, 'report-move', 'stage_changed', { from: 'added', to: 'qualified', by: 'staff' }, noon);
    await Delivery.create({ _id: 'report-d1', key: 'report-d1', kind: 'nurture', corpId: ctx.corpId, externalUserId: 'wm_r2', userId: 'zhangsan', status: 'submitted', via: 'mass', createdAt: noon });
    await Delivery.create({ _id: 'report-d2', key: 'report-d2', kind: 'nurture', corpId: ctx.corpId, externalUserId: 'wm_r3', userId: 'zhangsan', status: 'sent', via: 'owner', createdAt: noon });
    for (const [kind, title, text] of [['service_breach', '客服回复超时', '客户「吴工」的消息已等待约 25 分钟，超过目标（10 分钟）的两倍：“报价多少”。负责人：zhangsan。'], ['campaign_finished', '双十一活动：发送 120，确认 98', ''], ['platform_error', '企业微信错误 60020，需要有人处理', '']]) {
      await raiseAlert(ctx, { key: `report-${kind}`, kind: kind!, title: title!, text: text!, at: noon.getTime() });
    }
    const text = await buildDailyReport(ctx, day, 'zh');
    expect(text).toContain(`**运营日报 · ${day}**`);
    expect(text).toContain('**新增客户 3**\n> 2026 工业展：2\n> 无欢迎语渠道：1');
    expect(text).toContain('**漏斗变化**：已互动 +0，合格 +1，商机 +0，成交客户 +0，流失 0，退订 0');
    // A past day's report lists the leads waiting now, and says so.
    expect(text).toMatch(/\*\*待跟进 S\/A 线索（当前）\d+\*\*\n> S 周总 · 新增 · zhangsan · 最近动态 03-10 12:01/);
    // Who waited, not only the alert's title (the same for every customer).
    expect(text).toContain('**未及时回复的客户 1**（服务时钟超时）\n> 客户「吴工」的消息已等待约 25 分钟');
    expect(text).toContain('**培育**：新入序列 0；待员工确认 1，已提醒员工转发 1');
    expect(text).toContain('**群发活动 1**\n> 双十一活动：发送 120，确认 98');
    expect(text).toContain('**平台错误 1**（需要有人处理）\n> 企业微信错误 60020，需要有人处理');
    const en = await buildDailyReport(ctx, day, 'en');
    expect(en).toContain('**New leads: 3**');
    // Finished and cancelled runs alike: "finished" would miscount the cancelled.
    expect(en).toContain('**Campaign runs ended: 1**');
  });

  it('stays within the webhook\'s 4096 bytes by shortening long lists', async () => {
    const ctx = t.bot.ctx;
    const day = '2026-03-11';
    const at = startOfDay(day, TZ) + 3_600_000;
    await Alert.insertMany(Array.from({ length: 150 }, (_, i) => ({ _id: `long-${i}`, kind: 'platform_error', title: `企业微信错误 ${40000 + i}：一个相当长的标题，说明需要谁去管理后台改哪一项设置`, text: '', raisedAt: new Date(at), status: 'off' })));
    const text = await buildDailyReport(ctx, day, 'zh');
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(4096);
    expect(text).toContain('**平台错误 150**');
    expect(text).toMatch(/> ……另有 \d+ 条/);
  });

  it('a run for a day already reported sends nothing; a post WeCom refused (45009) gives the day back and is tried again', async () => {
    const ctx = t.bot.ctx;
    const slot = startOfDay('2026-04-02', TZ) + 9 * 3_600_000;
    await ctx.redis.del(...(await ctx.redis.keys(`${ctx.keys.prefix}:webhook:*`)));
    t.sandbox.state.inject({ api: 'webhook/send', errcode: 45009 });
    await expect(postDailyReport(ctx, slot)).rejects.toMatchObject({ errcode: 45009 });
    expect(await Fence.exists({ _id: 'report|2026-04-01#1' })).toBeNull();
    expect(await postDailyReport(ctx, slot)).toBe('sent');
    expect(await postDailyReport(ctx, slot)).toBe('already_sent');
    expect(reports().filter((m) => m.content!.includes('2026-04-01'))).toHaveLength(1);
  });

  it('a post that failed before reaching WeCom (Redis down in the client\'s rate limiter) gives the day back: the retry posts it, once', async () => {
    const ctx = t.bot.ctx;
    const slot = startOfDay('2026-04-06', TZ) + 9 * 3_600_000;
    await ctx.redis.del(...(await ctx.redis.keys(`${ctx.keys.prefix}:webhook:*`)));
    await expect(postDailyReport({ ...ctx, wecom: clientWithDeadRedis(ctx, t.config) }, slot)).rejects.not.toBeInstanceOf(WecomApiError);
    expect(reports().filter((m) => m.content!.includes('2026-04-05'))).toHaveLength(0);
    expect(await Fence.exists({ _id: 'report|2026-04-05#1' })).toBeNull();
    expect(await postDailyReport(ctx, slot)).toBe('sent');
    expect(await postDailyReport(ctx, slot)).toBe('already_sent');
    expect(reports().filter((m) => m.content!.includes('2026-04-05'))).toHaveLength(1);
  });
});
