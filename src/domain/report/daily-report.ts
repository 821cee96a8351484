import { awaitsFollowUp, OPEN_STAGES } from '../leads/lead-index.js';
import type { BotContext } from '../../context.js';
import { Alert } from '../../store/models/alert.js';
import { Delivery } from '../../store/models/delivery.js';
import { Enrollment } from '../../store/models/enrollment.js';
import { Lead } from '../../store/models/lead.js';
import { StageMove } from '../../store/models/timeline.js';
import { translator, type Lang } from '../commands/command.js';
import { bytes, clipBytes } from '../commands/markdown.js';
import { localDay } from '../nurture/clock.js';
import { addDays } from '../commands/period.js';
import { shortTime, stageName } from '../commands/words.js';
import { funnel } from '../funnel/funnel.js';
import { FUNNEL } from '../vocabulary.js';

/** The markdown a 消息推送 webhook message may hold, in UTF-8 bytes [D:99110]. */
export const WEBHOOK_MARKDOWN_BYTES = 4096;

/** The moment a calendar day starts in a time zone (ms). */
export function startOfDay(day: string, tz: string): number {
  const offset = (ms: number) => {
    const p = Object.fromEntries(
      new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })
        .formatToParts(new Date(ms))
        .map((x) => [x.type, Number(x.value)]),
    );
    return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!) - (ms - (ms % 1000));
  };
  const guess = Date.parse(`${day}T00:00:00Z`);
  const first = guess - offset(guess);
  return guess - offset(first);
}

/** What a day's report is made of (read once, rendered as often as it takes to fit). */
interface ReportData {
  adds: Array<{ channel: string; added: number }>;
  totalAdds: number;
  moves: Map<string, number>;
  waiting: Array<{ name: string; grade: string; stage: string; owner: string; lastTouchAt: Date | null }>;
  breaches: string[];
  deliveries: Map<string, number>;
  enrolled: number;
  campaigns: string[];
  platform: string[];
}

async function readReportData(ctx: Pick<BotContext, 'config'>, day: string): Promise<ReportData> {
  const tz = ctx.config.OPS_TIMEZONE;
  const start = new Date(startOfDay(day, tz));
  const end = new Date(startOfDay(addDays(day, 1), tz));
  const inDay = { $gte: start, $lt: end };
  const [f, moves, leads, alerts, deliveries, enrolled] = await Promise.all([
    funnel({ from: day, to: day }),
    StageMove.find({ at: inDay }, { to: 1 }).lean(),
    Lead.find({ grade: { $in: ['S', 'A'] }, stage: { $in: [...OPEN_STAGES] } }, { name: 1, externalUserId: 1, corpName: 1, grade: 1, stage: 1, score: 1, owners: 1, lastTouchAt: 1, lastInteraction: 1, followedUpAt: 1 }).lean(),
    Alert.find({ raisedAt: inDay, kind: { $in: ['service_breach', 'campaign_finished', 'platform_error'] } }, { kind: 1, title: 1, text: 1 }).sort({ raisedAt: 1 }).lean(),
    Delivery.find({ kind: 'nurture', createdAt: inDay }, { status: 1, via: 1 }).lean(),
    Enrollment.countDocuments({ enrolledAt: inDay }),
  ]);
  const moved = new Map<string, number>();
  for (const m of moves) {
    const to = m.to;
    moved.set(to, (moved.get(to) ?? 0) + 1);
  }
  // Waiting for follow-up (as on the dashboard): the customer did something after staff last followed them up (moved
  // the stage, edited them in the client, answered them), or nobody did yet.
  const waiting = leads
    .filter(awaitsFollowUp)
    .sort((a, b) => (a.grade === b.grade ? (b.score ?? 0) - (a.score ?? 0) : a.grade === 'S' ? -1 : 1))
    .map((l) => ({
      name: `${l.name ?? l.externalUserId}${l.corpName ? `（${l.corpName}）` : ''}`,
      grade: l.grade,
      stage: l.stage,
      owner: l.lastInteraction?.userId ?? l.owners.find((o) => o.status === 'active')?.userId ?? '–',
      lastTouchAt: l.lastTouchAt ?? null,
    }));
  const outcomes = new Map<string, number>();
  for (const d of deliveries) {
    const k = d.via === 'owner' && d.status === 'sent' ? 'reminded' : d.status;
    outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
  }
  const ofKind = (k: string) => alerts.filter((a) => a.kind === k).map((a) => a.title);
  // A service-clock alert's title is the same for every customer: its text says who waited, how long, for what.
  const breaches = alerts.filter((a) => a.kind === 'service_breach').map((a) => (a.text ? clipBytes(a.text.replace(/\s+/g, ' '), 200) : a.title));
  return {
    adds: f.channels.map((c) => ({ channel: c.channel, added: c.added })).filter((c) => c.added > 0),
    totalAdds: f.total.added,
    moves: moved,
    waiting,
    breaches,
    deliveries: outcomes,
    enrolled,
    campaigns: ofKind('campaign_finished'),
    platform: ofKind('platform_error'),
  };
}

const OUTCOMES_ZH: Record<string, string> = { sent: '已发送', submitted: '待员工确认', reminded: '已提醒员工转发', failed: '失败', unknown: '结果未知', capped: '超出群发额度', unconfirmed: '员工未确认', skipped: '跳过', expired: '过期' };

function render(ctx: Pick<BotContext, 'config' | 'channels'>, day: string, lang: Lang, d: ReportData, cap: number): string {
  const t = translator(lang);
  const sep = t('，', ', ');
  const list = (items: string[]) => {
    const shown = items.slice(0, cap).map((x) => `> ${x}`);
    if (items.length > cap) shown.push(t(`> ……另有 ${items.length - cap} 条`, `> …and ${items.length - cap} more`));
    return shown;
  };
  const channelName = (key: string) => ctx.channels.get(key)?.name ?? key;
  const stages = [...FUNNEL.slice(1), 'lost', 'unsubscribed'].map((s) => `${stageName(s, lang)} ${s === 'lost' || s === 'unsubscribed' ? '' : '+'}${d.moves.get(s) ?? 0}`);
  const outcomes = [...d.deliveries].map(([k, n]) => `${lang === 'zh' ? (OUTCOMES_ZH[k] ?? k) : k} ${n}`);
  const lines = [
    t(`**运营日报 · ${day}**`, `**Ops daily report · ${day}**`),
    '',
    t(`**新增客户 ${d.totalAdds}**`, `**New leads: ${d.totalAdds}**`),
    ...list(d.adds.map((a) => `${channelName(a.channel)}：${a.added}`)),
    t(`**漏斗变化**：${stages.join(sep)}`, `**Funnel moves**: ${stages.join(sep)}`),
    // The leads waiting now, whichever day the report is of (a lead's past waiting is not kept).
    day === localDay(Date.now(), ctx.config.OPS_TIMEZONE)
      ? t(`**待跟进 S/A 线索 ${d.waiting.length}**`, `**S/A leads waiting for follow-up: ${d.waiting.length}**`)
      : t(`**待跟进 S/A 线索（当前）${d.waiting.length}**`, `**S/A leads waiting for follow-up (now): ${d.waiting.length}**`),
    ...list(d.waiting.map((w) => `${w.grade} ${w.name} · ${stageName(w.stage, lang)} · ${w.owner} · ${t('最近动态', 'last touch')} ${shortTime(w.lastTouchAt, ctx.config.OPS_TIMEZONE)}`)),
    t(`**未及时回复的客户 ${d.breaches.length}**（服务时钟超时）`, `**Customers not answered in time: ${d.breaches.length}** (service clock)`),
    ...list(d.breaches),
    t(`**培育**：新入序列 ${d.enrolled}${outcomes.length ? `；${outcomes.join(sep)}` : '；没有发送'}`, `**Nurture**: ${d.enrolled} enrolled${outcomes.length ? `; ${outcomes.join(sep)}` : '; nothing sent'}`),
    // Runs that ended, finished or cancelled (each item says which).
    t(`**群发活动 ${d.campaigns.length}**`, `**Campaign runs ended: ${d.campaigns.length}**`),
    ...list(d.campaigns),
    t(`**平台错误 ${d.platform.length}**${d.platform.length ? '（需要有人处理）' : ''}`, `**Platform errors: ${d.platform.length}**${d.platform.length ? ' (someone must fix these)' : ''}`),
    ...list(d.platform),
  ];
  return lines.join('\n');
}

/**
 * The daily report of `day` (in OPS_TIMEZONE), as markdown within `maxBytes`: the day's adds per channel, funnel
 * moves, S/A leads waiting for follow-up, customers not answered in time (service-clock alerts), nurture results,
 * campaigns finished (their alerts) and platform errors (their alerts). Long lists are shortened ("…and N more")
 * until it fits: a webhook message holds 4096 bytes [D:99110].
 */
export async function buildDailyReport(ctx: Pick<BotContext, 'config' | 'channels'>, day: string, lang: Lang, maxBytes = WEBHOOK_MARKDOWN_BYTES): Promise<string> {
  const data = await readReportData(ctx, day);
  for (const cap of [10, 5, 3, 1, 0]) {
    const text = render(ctx, day, lang, data, cap);
    if (bytes(text) <= maxBytes) return text;
  }
  return clipBytes(render(ctx, day, lang, data, 0), maxBytes);
}
