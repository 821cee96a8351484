import type { BotContext } from '../../context.js';
import type { LeadDoc } from '../../store/models/lead.js';
import type { Grade } from '../vocabulary.js';
import { raiseAlert } from './ops-alerts.js';
import { upgradeWhy } from '../leads/upgrade-news.js';

type Ctx = Pick<BotContext, 'config' | 'queues' | 'redis' | 'keys' | 'wecom' | 'log' | 'channels'>;

function who(doc: LeadDoc): string {
  return `**${doc.name ?? doc.externalUserId}**${doc.corpName ? `（${doc.corpName}）` : ''}`;
}

function channelOf(ctx: Pick<BotContext, 'channels'>, doc: LeadDoc): string {
  const key = doc.firstTouch?.channelKey ?? '';
  return ctx.channels.get(key)?.name ?? key;
}

/**
 * How long the news of a lead's upgrade (the ops alert, the owner's notice) waits before it goes: an upgrade saved
 * meanwhile supersedes it, so one message that moves a lead twice (B→A in its first save, A→S when it qualifies) is
 * told once, with the grade it ends at.
 */
export const UPGRADE_NEWS_DELAY_MS = 2_000;

/**
 * A lead rose into S or A (on arrival or later, by its score or a pinned grade): the ops group hears of it once per
 * upgrade, next to the owner's own notice, unless a later upgrade is saved before it is posted (UPGRADE_NEWS_DELAY_MS).
 */
export async function alertGradeUpgrade(ctx: Ctx, doc: LeadDoc): Promise<void> {
  const grade = doc.grade as Grade;
  const owners = doc.owners.filter((o) => o.status === 'active').map((o) => o.userId);
  const why = upgradeWhy(doc.scoreReasons);
  await raiseAlert(
    ctx,
    {
      key: `grade|${doc._id}|${doc.gradeUpgrades}`,
      kind: 'grade_upgrade',
      title: `新的 ${grade} 级线索`,
      text: `${who(doc)} 升为 **${grade}** 级（得分 ${doc.score}${doc.gradePin ? '，人工定级' : ''}）· 渠道 ${channelOf(ctx, doc)} · 负责人 ${owners.join('、') || '无'}${why ? ` · 主要加分：${why}` : ''}`,
      check: { lead: doc._id, gradeUpgrades: doc.gradeUpgrades ?? 0, grade, score: doc.score, why },
    },
    { delayMs: UPGRADE_NEWS_DELAY_MS },
  );
}

/**
 * A customer deleted a member (churn) while the lead is S or A and its grade's `churnAlert` is on (templates/scoring.yaml):
 * the ops group hears of it once per churn event.
 */
export async function alertChurn(ctx: Ctx & Pick<BotContext, 'scoring'>, doc: LeadDoc, end: { userId: string; dedupeKey: string }): Promise<void> {
  const grade = doc.grade as Grade;
  if ((grade !== 'S' && grade !== 'A') || !ctx.scoring.perGrade[grade]?.churnAlert) return;
  const left = doc.owners.filter((o) => o.status === 'active').map((o) => o.userId);
  await raiseAlert(ctx, {
    key: `churn|${end.dedupeKey}`,
    kind: 'churn',
    title: `${grade} 级线索流失`,
    text: `${who(doc)} 删除了 ${end.userId} · 渠道 ${channelOf(ctx, doc)} · ${left.length ? `仍在跟进：${left.join('、')}` : '已没有在跟的员工，线索记为流失'}`,
  });
}
