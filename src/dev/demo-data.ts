import type { Channel } from '../content/channels.js';
import type { BotContext } from '../context.js';
import { rebuildFunnel } from '../domain/funnel/rollup.js';
import { roleOf, scoreLead } from '../domain/scoring/score.js';
import { FUNNEL, type Stage } from '../domain/vocabulary.js';
import { INDUSTRY_GROUP } from '../domain/leads/profile.js';
import { Delivery } from '../store/models/delivery.js';
import { Enrollment, enrollmentId } from '../store/models/enrollment.js';
import { Lead, leadId } from '../store/models/lead.js';
import { StageMove, Timeline } from '../store/models/timeline.js';
import { CampaignRecord } from '../store/models/campaign.js';
import { CampaignGroup } from '../store/models/campaign-group.js';
import { CampaignRun } from '../store/models/campaign-run.js';
import { KfResponse } from '../store/models/kf.js';
import { demoCampaign } from './demo-campaign.js';
import { DAY, HOUR, type DemoLead, type DemoRandom, type DemoTimeline, type DemoEntry } from './demo-kinds.js';
import { demoService } from './demo-service.js';
import { dayEntry, writeServiceDays } from '../domain/kf/service-days.js';
import { foldLegacy, type LegacyTouch } from '../store/touch-log.js';
import type { TimelineType } from '../store/timeline-types.js';

/**
 * Demo data for `npm run dev` (docs/setup.md, "Demo data"): leads spread over the template channels, stages and grades
 * and the last two weeks, each with the history the bot would have recorded — arrival, tags, welcome, nurture steps
 * and their fate, clicks, replies, stage moves by staff with their reasons — plus 微信客服 conversations
 * (demo-service.ts) and a finished campaign (demo-campaign.ts), so the dashboard shows something real at once. The same seed gives the same data. Written straight to the database (nothing is sent to anyone), scored by
 * the bot's own scoring and rolled up by its funnel rebuild. Demo leads' ids start with `wmdemo`.
 */
export interface DemoOptions {
  leads?: number;
  days?: number;
  members: string[];
  now?: number;
  seed?: number;
  /** The sandbox's 微信客服 account: customers who wrote in there, answered by its servicers (none without it). */
  kf?: { openKfid: string; servicers: string[] };
  /** Told what is being written (a big demo takes minutes). */
  onProgress?: (what: string) => void;
}

export const DEMO_PREFIX = 'wmdemo';

const SURNAMES = ['王', '李', '张', '刘', '陈', '杨', '赵', '黄', '周', '吴', '徐', '孙', '胡', '朱', '高', '林', '何', '郭', '马', '罗'];
const TITLES = ['经理', '总', '工', '主管', '老师', '总监'];
const COMPANIES = ['华东精密制造', '瑞丰零售', '启明汽配', '恒信物流', '星河电子', '安达机械', '优品连锁', '蓝海化工', '嘉禾食品', '远航科技', '鼎盛建材', '同创医疗'];
const INDUSTRIES = ['制造业', '制造业', '制造业', '零售', '零售', '物流', '医疗'];
const ROLES = ['决策者', '管理者', '使用者', '使用者'];
const QUALIFY_REASONS = ['确认了预算和时间', '要了报价', '约了线上演示', '提交了需求清单'];
const OPPORTUNITY_REASONS = ['已做演示，进入方案阶段', '发起试用', '对接了采购'];
const CUSTOMER_REASONS = ['签约', '首单回款', '年度合同签订'];
const LOST_REASONS = ['预算取消', '选了别家', '需求暂缓', '联系不上'];
const REPLIES = ['收到，谢谢', '你们支持私有化部署吗？', '价格大概多少', '有制造业的案例吗', '下周再聊'];

/** A small seeded random generator (mulberry32): the same seed, the same demo. */
function random(seed: number): DemoRandom {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    chance: (p: number) => next() < p,
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!,
    between: (lo: number, hi: number) => lo + next() * (hi - lo),
  };
}


/** Inserts `docs` a few thousand at a time (a big demo would otherwise hold every document twice in memory). */
async function inChunks(model: { insertMany(docs: unknown[], opts: { ordered: boolean }): Promise<unknown> }, docs: unknown[], size = 2000): Promise<void> {
  for (let i = 0; i < docs.length; i += size) await model.insertMany(docs.slice(i, i + size), { ordered: false });
}

/** Seeds the demo unless the database has leads already (a dev database someone uses is never touched). */
export async function seedDemo(ctx: Pick<BotContext, 'corpId' | 'channels' | 'sequences' | 'scoring' | 'redis' | 'keys' | 'config' | 'log' | 'leadIndex'>, opts: DemoOptions): Promise<{ seeded: boolean; leads: number }> {
  if (await Lead.exists({})) return { seeded: false, leads: await Lead.estimatedDocumentCount() };
  const r = random(opts.seed ?? 20261128);
  const now = opts.now ?? Date.now();
  const n = opts.leads ?? 300;
  const days = opts.days ?? 14;
  const channels = ctx.channels.all();
  // Bigger channels first: the first gets most of the leads, as a trade show does.
  const weights = channels.map((_, i) => 1 / (i + 1));
  const total = weights.reduce((a, b) => a + b, 0);
  const pickChannel = (): Channel => {
    let x = r.next() * total;
    for (let i = 0; i < channels.length; i++) if ((x -= weights[i]!) <= 0) return channels[i]!;
    return channels.at(-1)!;
  };

  const leads = [];
  const timelines = new Map<string, DemoTimeline>();
  const moves: Array<Record<string, unknown>> = [];
  const deliveries: Array<Record<string, unknown>> = [];
  const enrollments: Array<Record<string, unknown>> = [];
  for (let i = 0; i < n; i++) {
    const channel = pickChannel();
    const owner = channel.owners.length ? r.pick(channel.owners) : r.pick(opts.members);
    const externalUserId = `${DEMO_PREFIX}${String(i).padStart(4, '0')}${Math.floor(r.next() * 1e8).toString(36)}`;
    const ref = { corpId: ctx.corpId, externalUserId };
    // Added on one of the last `days` days, in working hours (Beijing time), never in the future.
    const dayStart = now - Math.floor(r.next() * days) * DAY;
    const addedAt = new Date(Math.min(now - 10 * 60_000, Math.floor(dayStart / DAY) * DAY + r.between(1, 12) * HOUR));
    const name = `${r.pick(SURNAMES)}${r.pick(TITLES)}`;
    const corpName = r.chance(0.7) ? r.pick(COMPANIES) : null;
    const tags = channel.tags.map((t) => ({ group: t.group, name: t.name }));
    if (!tags.some((t) => t.group === INDUSTRY_GROUP) && r.chance(0.8)) tags.push({ group: INDUSTRY_GROUP, name: r.pick(INDUSTRIES) });
    if (r.chance(0.6)) tags.push({ group: ctx.scoring.roleTagGroup, name: r.pick(ROLES) });
    const history = { _id: leadId(ctx.corpId, externalUserId), ...ref, entries: [] as DemoEntry[] };
    timelines.set(history._id, history);
    const step = (at: Date, type: TimelineType, detail: Record<string, unknown>, key = `${type}|${history.entries.length}`) => {
      const id = `demo|${key}#${type}`;
      history.entries.push({ id, type, at, detail });
      if (type === 'stage_changed') moves.push({ _id: `${externalUserId}|${id}`, ...ref, at, from: detail.from, to: detail.to, by: detail.by });
    };
    const touches: Array<Record<string, unknown>> = [{ eventKey: `demo-add-${i}`, kind: 'add', channelKey: channel.key, userId: owner, at: addedAt, ref: null }];
    step(addedAt, 'added', { channel: channel.key, owner, state: channel.key });
    step(new Date(addedAt.getTime() + 2_000), 'tags_marked', { tags: channel.tags.map((t) => `${t.group}/${t.name}`) });
    if (channel.welcome) {
      const key = `demo|welcome|${externalUserId}`;
      deliveries.push({ _id: key, key, kind: 'welcome', ...ref, userId: owner, status: 'sent', via: 'welcome', attempts: 1, sentAt: new Date(addedAt.getTime() + 1_500) });
      step(new Date(addedAt.getTime() + 1_500), 'welcome_sent', { by: owner });
    }

    // How far it gets: each stage a share of the one before, at a later time (never after now).
    const later = (from: Date, minH: number, maxH: number) => new Date(Math.min(now - 60_000, from.getTime() + r.between(minH, maxH) * HOUR));
    const reached: Record<string, Date> = { added: addedAt };
    let stage: Stage = 'added';
    let at = addedAt;
    const odds: Partial<Record<Stage, number>> = { engaged: 0.65, qualified: 0.5, opportunity: 0.45, customer: 0.45 };
    for (const next of FUNNEL.slice(1)) {
      if (!r.chance(odds[next]!)) break;
      at = later(at, 2, 60);
      if (at.getTime() >= now - 60_000) break;
      reached[next] = at;
      stage = next;
      if (next === 'engaged') {
        const kind = r.chance(0.5) ? 'reply' : 'click';
        touches.push({ eventKey: `demo-${kind}-${i}`, kind, channelKey: channel.key, userId: null, at, ref: null });
        if (kind === 'reply') step(at, 'kf_message', { text: r.pick(REPLIES), intent: null });
        else step(at, 'link_clicked', { url: 'https://example.com/checklist' });
        step(at, 'stage_changed', { from: 'added', to: 'engaged', by: 'system', source: kind, actor: null, reason: null });
      } else {
        const reasons = next === 'qualified' ? QUALIFY_REASONS : next === 'opportunity' ? OPPORTUNITY_REASONS : CUSTOMER_REASONS;
        if (next === 'qualified' && r.chance(0.4)) touches.push({ eventKey: `demo-intent-${i}`, kind: 'intent', channelKey: channel.key, userId: null, at, ref: 'demo' });
        step(at, 'stage_changed', { from: FUNNEL[FUNNEL.indexOf(next) - 1], to: next, by: 'staff', source: 'api', actor: owner, reason: r.pick(reasons) });
      }
    }
    let exit: { stage: Stage; at: Date } | null = null;
    if (stage !== 'customer' && r.chance(0.12)) {
      const out: Stage = r.chance(0.7) ? 'lost' : 'unsubscribed';
      const when = later(at, 6, 96);
      if (when.getTime() < now - 60_000) {
        exit = { stage: out, at: when };
        step(when, 'stage_changed', { from: stage, to: out, by: out === 'lost' ? 'staff' : 'system', source: out === 'lost' ? 'api' : 'unsubscribe', actor: out === 'lost' ? owner : null, reason: out === 'lost' ? r.pick(LOST_REASONS) : null });
      }
    }

    // Nurture: the channel's sequence, a step every day or two, until what stops it (a reply, qualified, leaving or
    // opting out); one still running has its next step due later (the bot sends it then, to the sandbox).
    const seq = channel.sequence ? ctx.sequences.get(channel.sequence) : undefined;
    if (seq) {
      const replyAt = touches.find((x) => x.kind === 'reply')?.at as Date | undefined;
      const stops = [
        { reason: 'reply', at: replyAt },
        { reason: 'stage:qualified', at: reached.qualified },
        { reason: exit?.stage === 'lost' ? 'churn' : 'unsubscribe', at: exit?.at },
      ].filter((x): x is { reason: string; at: Date } => Boolean(x.at)).sort((a, b) => a.at.getTime() - b.at.getTime());
      const stop = stops[0] ?? null;
      const history = [];
      let t = addedAt;
      let due: Date | null = null;
      for (let s = 0; s < seq.steps.length; s++) {
        t = new Date(t.getTime() + r.between(20, 50) * HOUR);
        if (stop && t >= stop.at) break;
        if (t.getTime() > now - 60_000) {
          due = new Date(Math.max(t.getTime(), now + r.between(1, 24) * HOUR));
          break;
        }
        const outcome = r.chance(0.85) ? 'sent' : r.chance(0.5) ? 'failed' : 'skipped';
        const key = `demo|nurture|${externalUserId}|${s}`;
        const clicked = outcome === 'sent' && r.chance(0.3);
        if (outcome !== 'skipped') {
          deliveries.push({ _id: key, key, kind: 'nurture', ...ref, userId: owner, status: outcome, via: 'mass', attempts: 1, sentAt: outcome === 'sent' ? t : null, sequenceKey: seq.key, step: s, clicks: clicked ? 1 : 0, reason: outcome === 'failed' ? 'not_a_customer_of_the_sender' : null });
        }
        history.push({ step: s, at: t, outcome, via: 'mass', deliveryKey: outcome === 'skipped' ? null : key });
        step(t, `nurture_${outcome}`, { sequence: seq.key, step: s, via: 'mass' }, key);
        if (clicked) {
          const c = new Date(Math.min(now - 60_000, t.getTime() + r.between(0.2, 6) * HOUR));
          touches.push({ eventKey: `demo-click-${i}-${s}`, kind: seq.steps[s]?.caseStudy ? 'case_opened' : 'click', channelKey: channel.key, userId: null, at: c, ref: null });
          step(c, 'link_clicked', { delivery: key }, `${key}|click`);
        }
      }
      const status = due ? 'active' : history.length === seq.steps.length ? 'completed' : 'stopped';
      const endedAt = status === 'active' ? null : status === 'stopped' ? stop!.at : t;
      enrollments.push({ _id: enrollmentId(ctx.corpId, externalUserId, seq.key), ...ref, sequenceKey: seq.key, ownerUserId: owner, status, stopReason: status === 'stopped' ? stop!.reason : null, step: history.length, dueAt: due, enrolledAt: addedAt, endedAt, history });
      step(addedAt, 'enrolled', { sequence: seq.key }, `${seq.key}|enrolled`);
      if (status === 'stopped') step(endedAt!, 'enrollment_stopped', { sequence: seq.key, reason: stop!.reason }, `${seq.key}|stopped`);
    }

    const lastTouchAt = touches.reduce((m, x) => Math.max(m, (x.at as Date).getTime()), 0);
    leads.push({
      _id: leadId(ctx.corpId, externalUserId),
      ...ref,
      name,
      corpName,
      type: 1,
      industry: tags.find((t) => t.group === INDUSTRY_GROUP)?.name ?? null,
      stage: exit?.stage ?? stage,
      stageBeforeExit: exit ? stage : null,
      reached,
      firstTouch: { channelKey: channel.key, userId: owner, at: addedAt },
      touches,
      lastTouchAt: new Date(lastTouchAt),
      owners: [{ userId: owner, channelKey: channel.key, state: channel.key, addedAt, status: exit?.stage === 'lost' && r.chance(0.5) ? 'left' : 'active', tags }],
      tags,
      tagKeys: tags.map((t) => `${t.group}/${t.name}`),
      profileSyncedAt: addedAt,
      lastInteraction: { userId: owner, at: addedAt },
      followedUpAt: reached.qualified && r.chance(0.6) ? (reached.opportunity ?? reached.qualified) : null,
      unsubscribedAt: exit?.stage === 'unsubscribed' ? exit.at : null,
      lostAt: exit?.stage === 'lost' ? exit.at : null,
    });
  }
  const campaign = demoCampaign({ leads: leads as unknown as DemoLead[], timelines, r, now });
  // Scores and grades as the bot computes them (a few pinned by staff, as happens).
  for (const l of leads) {
    const role = roleOf(l.tags, ctx.scoring);
    const scored = scoreLead({ ...l, role }, ctx.scoring, now);
    const gradePin = r.chance(0.03) ? r.pick(['S', 'A'] as const) : null;
    Object.assign(l, { role, score: scored.score, grade: gradePin ?? scored.grade, gradePin, scoreReasons: scored.reasons, scoredAt: new Date(now) });
  }

  const responses = opts.kf ? demoService(ctx, { leads: leads as unknown as DemoLead[], timelines, r, now, ...opts.kf }) : [];

  const say = opts.onProgress ?? (() => undefined);
  say(`writing ${leads.length} leads`);
  // Built with touch lists (the demo reads them above); stored as the bot stores them, one log each.
  await inChunks(
    Lead,
    leads.map(({ touches, ...l }) => ({ ...l, touchLog: foldLegacy(touches as LegacyTouch[], '') })),
  );
  say(`writing ${timelines.size} timelines, ${moves.length} stage moves, ${deliveries.length + campaign.deliveries.length} deliveries`);
  await inChunks(Timeline, [...timelines.values()].map((x) => ({ ...x, ids: x.entries.map((e) => e.id) })));
  await inChunks(StageMove, moves);
  await inChunks(Delivery, [...deliveries, ...campaign.deliveries]);
  await inChunks(KfResponse, responses);
  await writeServiceDays(ctx, ctx.config.OPS_TIMEZONE, responses.map((x) => dayEntry(x as Parameters<typeof dayEntry>[0])));
  await inChunks(CampaignRecord, [campaign.campaign]);
  await inChunks(CampaignRun, [campaign.run]);
  await inChunks(CampaignGroup, campaign.groups);
  say(`writing ${enrollments.length} enrollments and ${responses.length} 客服 response records`);
  await inChunks(Enrollment, enrollments);
  say('building the funnel rollups and the lead index');
  await rebuildFunnel(ctx.redis, ctx.keys, ctx.config.OPS_TIMEZONE);
  await ctx.leadIndex.rebuild();
  return { seeded: true, leads: leads.length };
}
