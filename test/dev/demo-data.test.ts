import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/dev/demo-data.js';
import { restoreSandbox } from '../../src/dev/restore-sandbox.js';
import { DEMO_CAMPAIGN } from '../../src/dev/demo-campaign.js';
import { campaignDetail } from '../../src/domain/campaigns/overview.js';
import { funnel } from '../../src/domain/funnel/funnel.js';
import { addServiceSeconds, serviceSecondsBetween } from '../../src/domain/kf/service-hours.js';
import { serviceStats } from '../../src/domain/kf/stats.js';
import { localDay } from '../../src/domain/nurture/clock.js';
import { waitingCustomers } from '../../src/domain/leads/lead-index.js';
import { Delivery } from '../../src/store/models/delivery.js';
import { Enrollment } from '../../src/store/models/enrollment.js';
import { Lead } from '../../src/store/models/lead.js';
import { Timeline } from '../../src/store/models/timeline.js';
import { startTestBot, type TestBot } from '../helpers/test-bot.js';

let t: TestBot;
// Service hours closed for the current hour (in SERVICE_TIMEZONE's default, Asia/Shanghai) and open the rest of the
// day: a customer waiting now has waited partly outside them.
const hour = Number(new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Shanghai', hour: '2-digit', hourCycle: 'h23' }).format(new Date()));
const hh = (h: number) => `${String(h).padStart(2, '0')}:00`;
const HOURS = [hour > 0 ? `Mon-Sun 00:00-${hh(hour)}` : null, hour < 23 ? `Mon-Sun ${hh(hour + 1)}-24:00` : null].filter(Boolean).join(', ');
beforeAll(async () => {
  t = await startTestBot('demo', { env: { SERVICE_HOURS: HOURS } });
});
afterAll(async () => t?.stop());

describe('demo data (npm run dev)', () => {
  it('seeds leads over channels, stages, grades and two weeks, with their history, once', async () => {
    const r = await seedDemo(t.bot.ctx, { members: ['zhangsan', 'lisi'], leads: 300, kf: { openKfid: 'wkDEMO', servicers: ['zhangsan', 'lisi'] } });
    expect(r).toEqual({ seeded: true, leads: 300 });
    const leads = await Lead.find({}).lean();
    expect(leads).toHaveLength(300);
    const count = (f: (l: (typeof leads)[number]) => string) => leads.reduce<Record<string, number>>((m, l) => ({ ...m, [f(l)]: (m[f(l)] ?? 0) + 1 }), {});
    const stages = count((l) => l.stage);
    const grades = count((l) => l.grade);
    expect(Object.keys(stages).sort()).toEqual(expect.arrayContaining(['added', 'customer', 'engaged', 'lost', 'opportunity', 'qualified']));
    expect(Object.keys(grades).length).toBeGreaterThanOrEqual(3);
    expect(Object.keys(count((l) => l.firstTouch!.channelKey)).length).toBe(t.bot.ctx.channels.all().length);
    const days = new Set(leads.map((l) => l.firstTouch!.at.toISOString().slice(0, 10)));
    expect(days.size).toBeGreaterThanOrEqual(10);
    expect(leads.every((l) => l.firstTouch!.at.getTime() <= Date.now())).toBe(true);
    // Every lead has a history; staff moves carry a reason.
    const timelines = await Timeline.find({}).lean();
    expect(timelines.filter((x) => x.entries.length > 0)).toHaveLength(300);
    const timeline = timelines.flatMap((x) => x.entries);
    const staffMoves = timeline.filter((e) => e.type === 'stage_changed' && (e.detail as { by?: string }).by === 'staff');
    expect(staffMoves.length).toBeGreaterThan(20);
    expect(staffMoves.every((e) => typeof (e.detail as { reason?: unknown }).reason === 'string' && ((e.detail as { reason: string }).reason.length > 0))).toBe(true);
    expect(await Delivery.countDocuments({ kind: 'nurture', sequenceKey: { $ne: null } })).toBeGreaterThan(0);
    expect(await Enrollment.countDocuments({})).toBeGreaterThan(0);
    // The funnel rollups agree with the leads.
    const all = await funnel({ from: '2000-01-01', to: '2999-12-31' });
    expect(all.total.added).toBe(300);
    expect(all.total.customer).toBe(leads.filter((l) => l.reached?.customer).length);
    // 微信客服: answered conversations (some past their target) and customers waiting now, as the service pages read them.
    const tz = t.bot.ctx.config.OPS_TIMEZONE;
    const period = Array.from({ length: 16 }, (_, i) => localDay(Date.now() - i * 86_400_000, tz));
    const service = await serviceStats(tz, period);
    expect(service.total.count).toBeGreaterThan(10);
    expect(service.servicers.map((x) => x.name).sort()).toEqual(['lisi', 'zhangsan']);
    expect(service.breaches.length).toBeGreaterThan(0);
    const waiting = await waitingCustomers(t.bot.ctx.leadIndex);
    expect(waiting.total).toBe(6);
    // Their clocks count within the service hours, as the bot's own do: deadlines, and no alert before its due.
    const { SERVICE_HOURS: hours, SERVICE_TIMEZONE: stz } = t.bot.ctx.config;
    for (const w of waiting.items) {
      const clock = (await Lead.findOne({ externalUserId: w.externalUserId }).lean())!.kf!.clock!;
      expect(clock.firstDue.getTime()).toBe(addServiceSeconds(clock.startedAt.getTime(), clock.targetSeconds, hours, stz));
      expect(clock.secondDue.getTime()).toBe(addServiceSeconds(clock.startedAt.getTime(), 2 * clock.targetSeconds, hours, stz));
      const served = serviceSecondsBetween(clock.startedAt.getTime(), Date.now(), hours, stz);
      expect(clock.level).toBeLessThanOrEqual(served > 2 * clock.targetSeconds ? 2 : served > clock.targetSeconds ? 1 : 0);
    }
    // A finished campaign with its results: a task per owner, most confirmed, and the follow-up.
    const campaign = (await campaignDetail(DEMO_CAMPAIGN))!;
    expect(campaign.runs).toHaveLength(1);
    const run = campaign.runs[0]!;
    expect(run.status).toBe('finished');
    expect(run.results.targeted).toBeGreaterThan(5);
    expect(run.results.confirmed).toBeGreaterThan(run.results.targeted / 2);
    expect(run.results.confirmed + run.results.notAFriend + run.results.overCap).toBe(run.results.targeted);
    expect(run.results.owners.length).toBeGreaterThan(0);
    expect(run.followUp).toMatchObject({ reached: run.results.confirmed });
    // A database with leads is never seeded again.
    expect(await seedDemo(t.bot.ctx, { members: ['zhangsan'] })).toEqual({ seeded: false, leads: 300 });
  });

  it('puts the relationships and tags back into a fresh sandbox WeCom', async () => {
    const restored = await restoreSandbox(t.bot.ctx, t.sandbox);
    const active = (await Lead.find({}).lean()).reduce((n, l) => n + l.owners.filter((o) => o.status === 'active').length, 0);
    expect(restored).toBe(active);
    const lead = (await Lead.findOne({ 'owners.status': 'active', tagKeys: '行业/制造业' }).lean())!;
    const owner = lead.owners.find((o) => o.status === 'active')!.userId;
    expect(t.sandbox.state.tags.tagsOf(owner, lead.externalUserId).map((x) => `${x.group_name}/${x.tag_name}`)).toContain('行业/制造业');
  });
});
