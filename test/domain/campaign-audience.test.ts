import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignSchema, type CampaignInput } from '../../src/content/campaigns.js';
import { campaignOf, createCampaign, syncFileCampaigns } from '../../src/domain/campaigns/catalog.js';
import { cancelCampaign, launchCampaign, resumeCampaign } from '../../src/domain/campaigns/control.js';
import { dryRun } from '../../src/domain/campaigns/dry-run.js';
import { campaignDetail } from '../../src/domain/campaigns/overview.js';
import { audiencePages } from '../../src/domain/campaigns/segment.js';
import { exhaustMassQuota } from '../../src/domain/delivery/budget.js';
import { massQuotaPeriod } from '../../src/domain/delivery/mass-quota.js';
import { enrollMany } from '../../src/domain/nurture/enroll.js';
import { localDay } from '../../src/domain/nurture/clock.js';
import { pause, resume } from '../../src/domain/pause/pauses.js';
import { TemplateError } from '../../src/errors.js';
import { takeFence } from '../../src/store/delivery-ledger.js';
import { CampaignRecord } from '../../src/store/models/campaign.js';
import { CampaignRun } from '../../src/store/models/campaign-run.js';
import { Enrollment } from '../../src/store/models/enrollment.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { seedLeads, type LeadSpec } from '../helpers/seed-leads.js';

const TZ = 'Asia/Shanghai';
const DAY = 86_400_000;
let h: Harness;
beforeAll(async () => {
  h = await startHarness('campaign_audience', { env: { CAMPAIGN_QUIET_HOURS: 'none', CAMPAIGN_MASS_BATCH: '2', NURTURE_DAILY_CAP: '1', NURTURE_TIMEZONE: TZ, MASS_MESSAGE_CAP: '1/day' } });
});
afterAll(async () => h?.stop());

const parse = (input: Partial<CampaignInput> & Pick<CampaignInput, 'segment'>) =>
  campaignSchema.parse({ key: 'x', name: 'x', content: { text: '您好' }, schedule: { cron: '0 10 * * 1' }, ...input });

describe('segment: every field, on the real database', () => {
  const now = Date.now();
  const names: Record<string, string> = {};
  beforeAll(async () => {
    const seeded = await seedLeads(h.sandbox, [
      { name: 'A', channel: 'expo2026', tags: ['行业/制造业', '渠道/展会'], stage: 'added', grade: 'S', industry: '制造业', role: 'decision-maker', addedAt: new Date(now - 10 * DAY), lastTouchAt: new Date(now - DAY) },
      { name: 'B', channel: 'notext', tags: ['行业/零售'], stage: 'engaged', grade: 'A', industry: '零售', role: 'manager', addedAt: new Date(now - 40 * DAY), lastTouchAt: new Date(now - 20 * DAY) },
      { name: 'C', channel: 'nurture', tags: ['行业/制造业', '渠道/竞品'], stage: 'qualified', grade: 'B', industry: '制造业', role: 'user', addedAt: new Date(now - 100 * DAY), lastTouchAt: null },
      { name: 'D', channel: 'expo2026', tags: [], stage: 'opportunity', grade: 'C', industry: null, role: null, addedAt: new Date(now - 200 * DAY), lastTouchAt: new Date(now - 3 * DAY) },
    ]);
    for (const l of seeded) names[l.id] = l.name;
    const [a, b] = seeded;
    await enrollMany(h.ctx, [a!, b!].map((l) => ({ corpId: 'wx5823bf96d3bd56c7', externalUserId: l.externalUserId, ownerUserId: 'zhangsan' })), 'slow');
    // B's enrollment ended: it is not "in" the sequence any more.
    await Enrollment.updateOne({ externalUserId: b!.externalUserId }, { $set: { status: 'stopped' } });
  });
  const who = async (segment: CampaignInput['segment'], o: { after?: string; pageSize?: number } = {}) => {
    const out: string[] = [];
    for await (const page of audiencePages(parse({ segment }).segment, { runAt: now, tz: TZ, after: o.after ?? null, pageSize: o.pageSize ?? 2 })) {
      for (const l of page) if (names[l._id]) out.push(names[l._id]!);
    }
    return out.sort().join('');
  };
  const iso = (ms: number) => new Date(ms).toISOString().replace('Z', '+00:00');

  it.each([
    ['channels', { channels: ['expo2026'] }, 'AD'],
    ['tags.all', { tags: { all: ['行业/制造业', '渠道/展会'] } }, 'A'],
    ['tags.any', { tags: { any: ['行业/零售', '渠道/竞品'] } }, 'BC'],
    ['tags.none', { tags: { none: ['行业/制造业'] } }, 'BD'],
    ['a bare tag name is in 渠道', { tags: { any: ['展会'] } }, 'A'],
    ['stages', { stages: ['engaged', 'qualified'] }, 'BC'],
    ['notStages', { notStages: ['added', 'opportunity'] }, 'BC'],
    ['grades', { grades: ['S', 'B'] }, 'AC'],
    ['industries', { industries: ['零售'] }, 'B'],
    ['roles', { roles: ['decision-maker', 'user'] }, 'AC'],
    ['addedAfter (a span back from the run)', { addedAfter: '30d' }, 'A'],
    ['addedBefore (a span)', { addedBefore: '30d' }, 'BCD'],
    ['addedAfter (a time with its offset)', { addedAfter: iso(now - 50 * DAY) }, 'AB'],
    ['addedBefore (a date, midnight in the time zone)', { addedBefore: localDay(now - 50 * DAY, TZ) }, 'CD'],
    ['lastTouchAfter', { lastTouchAfter: '7d' }, 'AD'],
    ['lastTouchBefore (no touch is not before)', { lastTouchBefore: '7d' }, 'B'],
    ['inSequence (active enrollments only)', { inSequence: 'slow' }, 'A'],
    ['notInSequence', { notInSequence: ['slow'] }, 'BCD'],
    ['several fields: all must hold', { channels: ['expo2026'], grades: ['S', 'C'], lastTouchAfter: '2d' }, 'A'],
    ['no field: every lead', {}, 'ABCD'],
  ] as Array<[string, CampaignInput['segment'], string]>)('%s', async (_label, segment, expected) => {
    expect(await who(segment)).toBe(expected);
  });

  it('streams in _id order and resumes after a checkpoint', async () => {
    const all: string[] = [];
    for await (const page of audiencePages({}, { runAt: now, tz: TZ, after: null, pageSize: 3 })) all.push(...page.map((l) => l._id));
    expect(all).toEqual([...all].sort());
    const half = all[Math.floor(all.length / 2)]!;
    const rest: string[] = [];
    for await (const page of audiencePages({}, { runAt: now, tz: TZ, after: half, pageSize: 3 })) rest.push(...page.map((l) => l._id));
    expect(rest).toEqual(all.filter((id) => id > half));
  });
});

describe('exclusions and the dry run', () => {
  it('counts who is excluded and why, the way each lead would go, deferrals and the tasks per owner; a launch agrees', async () => {
    const tag = { tags: ['测试/dry'] };
    const [u, lo, cu, p, pc, n, m1, m2, m3, m4, k, q, d] = await seedLeads(h.sandbox, [
      { name: '退订', unsubscribed: true },
      { name: '流失', stage: 'lost' },
      { name: '成交', stage: 'customer' },
      { name: '暂停客户' },
      { name: '暂停渠道', channel: 'slowseq' },
      { name: '无负责人', ownerStatus: 'left' },
      { name: '群发一' },
      { name: '群发二' },
      { name: '群发三' },
      { name: '群发四', owner: 'lisi' },
      { name: '客服', kfAgoMs: 3_600_000 },
      { name: '配额用完' },
      { name: '今天已发' },
    ].map((x): LeadSpec => ({ ...x, ...tag }) as LeadSpec));
    void [u, lo, cu, n, m1, m2, m3, m4, k];
    await pause(h.ctx, { kind: 'lead', target: p!.id }, { actor: 'test' });
    await pause(h.ctx, { kind: 'channel', target: 'slowseq' }, { actor: 'test' });
    const now = Date.now();
    const period = massQuotaPeriod(h.config.MASS_MESSAGE_CAP, now);
    await exhaustMassQuota(q!.id, period, 'mass|earlier');
    await h.ctx.redis.set(h.ctx.keys.budgetHint(`mass|${q!.id}|${period.key}`), period.cap);
    const today = localDay(now, TZ);
    await takeFence({ id: `day|${d!.id}|${today}|0`, kind: 'day', for: 'nurture|earlier|0' });
    await h.ctx.redis.set(h.ctx.keys.budgetHint(`day|${d!.id}|${today}`), 1);
    const input: CampaignInput = { key: 'dry', name: '预演', segment: { tags: { all: ['测试/dry'] } }, content: { text: '您好' }, schedule: { cron: '0 10 * * 1' } };
    const c = await createCampaign(h.ctx, input, 'test');

    const r = await dryRun(h.ctx, c, now);
    expect(r).toMatchObject({
      targeted: 7,
      byRoute: { kf: 1, mass: 4, owner: 1, enroll: 0 },
      excluded: { unsubscribed: 1, lost: 1, customer: 1, paused: 2, noOwner: 1 },
      deferred: { dailyCap: 1, quietHours: 0, until: null },
      perLeadContent: false,
    });
    expect(r.owners).toEqual([
      { owner: 'lisi', tasks: 1, customers: 1, reminders: 0 },
      { owner: 'zhangsan', tasks: 2, customers: 3, reminders: 1 },
    ]);
    expect(r.sample).toHaveLength(7);
    expect(r.sample.find((s) => s.name === '客服')?.via).toBe('kf');
    expect(r.sample.find((s) => s.name === '今天已发')?.via).toBe('deferred');

    // Service content reaches customers too; quiet hours defer everything until they end.
    const hhmm = (ms: number) => new Intl.DateTimeFormat('en-GB', { timeZone: TZ, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(ms);
    const service = campaignSchema.parse({ ...input, kind: 'service', quietHours: { start: hhmm(now - 3_600_000), end: hhmm(now + 3_600_000), timezone: TZ } });
    const s = await dryRun(h.ctx, service, now);
    expect(s).toMatchObject({ targeted: 8, excluded: { customer: 0 }, deferred: { quietHours: 8 } });
    expect(s.deferred.until).not.toBeNull();
    expect((await dryRun(h.ctx, campaignSchema.parse({ ...input, content: { text: '{{name}}您好' } }), now)).perLeadContent).toBe(true);

    // The run itself counts the same.
    await launchCampaign(h.ctx, 'dry');
    await h.drain('campaign-run');
    const results = (await campaignDetail('dry'))!.runs[0]!.results;
    expect(results).toMatchObject({ targeted: 7, byRoute: { kf: 1, mass: 4, owner: 1 }, excluded: { unsubscribed: 1, lost: 1, customer: 1, paused: 2, noOwner: 1 }, deferred: 1 });
    expect(results.owners.filter((o) => o.tasks)).toEqual([
      { owner: 'lisi', tasks: 1, customers: 1, reminders: 0 },
      { owner: 'zhangsan', tasks: 2, customers: 3, reminders: 1 },
    ]);
    await resume(h.ctx, { kind: 'lead', target: p!.id }, { actor: 'test' });
    await resume(h.ctx, { kind: 'channel', target: 'slowseq' }, { actor: 'test' });
    void pc;
  });

  it('a 客服 window whose session a person serves, or that ended, is not a way to send: the mass message is', async () => {
    const tag = { tags: ['测试/kfstate'] };
    await seedLeads(h.sandbox, [
      { name: '窗口', kfAgoMs: 3_600_000 },
      { name: '人工接待', kfAgoMs: 3_600_000, kfState: 3 },
      { name: '会话结束', kfAgoMs: 3_600_000, kfState: 4 },
    ].map((x): LeadSpec => ({ ...x, ...tag }) as LeadSpec));
    const input: CampaignInput = { key: 'kfstate', name: '会话状态', segment: { tags: { all: ['测试/kfstate'] } }, content: { text: '您好' }, schedule: { cron: '0 10 * * 1' } };
    const r = await dryRun(h.ctx, await createCampaign(h.ctx, input, 'test'), Date.now());
    expect(r).toMatchObject({ targeted: 3, byRoute: { kf: 1, mass: 2 } });
    expect(r.sample.filter((s) => s.via === 'kf').map((s) => s.name)).toEqual(['窗口']);
  });

  it('sequence content enrolls the segment (once per lead, ever) and counts who was in it already', async () => {
    const [a, b, c] = await seedLeads(h.sandbox, [{ name: '培育一' }, { name: '培育二' }, { name: '培育退订', unsubscribed: true }].map((x) => ({ ...x, tags: ['测试/seq'] })));
    await enrollMany(h.ctx, [{ corpId: 'wx5823bf96d3bd56c7', externalUserId: b!.externalUserId, ownerUserId: 'zhangsan' }], 'fast');
    await createCampaign(h.ctx, { key: 'seq', name: '培育', segment: { tags: { all: ['测试/seq'] } }, content: { sequence: 'fast' }, schedule: { cron: '0 10 * * 1' } }, 'test');
    expect((await dryRun(h.ctx, (await campaignOf('seq'))!.campaign)).byRoute.enroll).toBe(2);
    const { run } = await launchCampaign(h.ctx, 'seq');
    await h.drain('campaign-run');
    const done = (await CampaignRun.findById(run._id).lean())!;
    expect(done.status).toBe('finished');
    expect(await Enrollment.countDocuments({ externalUserId: a!.externalUserId, sequenceKey: 'fast', enrolledAt: done.startedAt })).toBe(1);
    expect(await Enrollment.countDocuments({ externalUserId: c!.externalUserId })).toBe(0);
    expect((await campaignDetail('seq'))!.runs[0]!.results).toMatchObject({ targeted: 2, enrolled: 1, notEnrolled: 1, excluded: { unsubscribed: 1 } });
  });
});

describe('file and API campaigns share one key space', () => {
  const fileCampaign = (key: string, text: string) => ({ input: { key, name: key, content: { text }, schedule: { cron: '0 9 * * *', timezone: TZ } } as CampaignInput, campaign: parse({ key, segment: {}, content: { text } }), file: `templates/campaigns/${key}.yaml` });

  it('files are loaded into the store (changed: replaced; deleted: removed); an API key a file uses is refused, and the other way round stops start-up', async () => {
    const ctx = { ...h.ctx, campaigns: new Map([['from-file', fileCampaign('from-file', '第一版')]]) };
    expect(await syncFileCampaigns(ctx)).toEqual(['from-file']);
    expect(await syncFileCampaigns(ctx)).toEqual([]);
    await expect(createCampaign(ctx, { key: 'from-file', name: 'x', content: { text: '您好' }, schedule: { cron: '0 10 * * 1' } }, 'admin')).rejects.toMatchObject({ code: 'conflict' });
    ctx.campaigns.set('from-file', fileCampaign('from-file', '第二版'));
    expect(await syncFileCampaigns(ctx)).toEqual(['from-file']);
    expect((await CampaignRecord.findById('from-file').lean())?.definition).toMatchObject({ content: { text: '第二版' } });
    await createCampaign(ctx, { key: 'from-api', name: 'x', content: { text: '您好' }, schedule: { cron: '0 10 * * 1' } }, 'admin');
    await expect(createCampaign(ctx, { key: 'from-api', name: 'y', content: { text: '您好' }, schedule: { cron: '0 10 * * 1' } }, 'admin')).rejects.toMatchObject({ code: 'conflict' });
    ctx.campaigns.set('from-api', fileCampaign('from-api', '文件'));
    await expect(syncFileCampaigns(ctx)).rejects.toThrow(TemplateError);
    ctx.campaigns.clear();
    expect(await syncFileCampaigns(ctx)).toEqual(['from-file']);
    expect((await CampaignRecord.findById('from-file').lean())?.status).toBe('removed');
    expect((await CampaignRecord.findById('from-api').lean())?.status).toBe('active');
  });

  it('a cancelled campaign stays cancelled when its file is deleted and added again under the same key', async () => {
    const ctx = { ...h.ctx, campaigns: new Map([['reused', fileCampaign('reused', '旧内容')]]) };
    await syncFileCampaigns(ctx);
    await cancelCampaign(ctx, 'reused', 'admin');
    ctx.campaigns.clear();
    await syncFileCampaigns(ctx);
    ctx.campaigns.set('reused', fileCampaign('reused', '新内容'));
    await syncFileCampaigns(ctx);
    expect((await CampaignRecord.findById('reused').lean())?.status).toBe('cancelled');
    await expect(resumeCampaign(ctx, 'reused', 'admin')).rejects.toMatchObject({ code: 'state' });
    await expect(launchCampaign(ctx, 'reused')).rejects.toMatchObject({ code: 'state' });
  });
});
