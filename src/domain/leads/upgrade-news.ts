import { Lead } from '../../store/models/lead.js';
import { reasonName } from '../commands/words.js';

/** What the news of a lead's grade upgrade (the owner's notice, the ops alert) announces: its upgrade number, its grade. */
export interface UpgradeCheck {
  gradeUpgrades: number;
  grade?: string;
  /** The score and the largest contributions (upgradeWhy) the news was written with, given as they are when it goes. */
  score?: number;
  why?: string;
}

/** A lead's largest contributions as the news of an upgrade gives them: "意向 +30、阶段 合格 +20、回复 +10". */
export const upgradeWhy = (reasons: ReadonlyArray<{ reason?: string | null; points?: number | null }>) =>
  reasons
    .slice(0, 3)
    .map((r) => `${reasonName(r.reason ?? '', 'zh')} +${r.points}`)
    .join('、');

/**
 * Whether the news of an upgrade still holds when it is about to go (docs/ops-guide.md, "Upgrades"): null when it
 * does; else why not — the upgrade is not saved (yet), a later upgrade was saved (its own news tells the newer grade),
 * the lead's grade changed meanwhile (a lower grade pinned: no rise to tell), or the lead opted out (no one to chase).
 * One read of the lead by `_id`.
 */
export async function staleUpgradeNews(leadId: string, check: UpgradeCheck): Promise<'not_saved' | 'later_upgrade' | 'grade_changed' | 'unsubscribed' | null> {
  return (await upgradeNews(leadId, check)).stale;
}

/**
 * The news of an upgrade as it is about to go: whether it still holds (staleUpgradeNews), and its text with the lead's
 * score and largest contributions as they are now: the message that raised the grade may have moved the score again
 * since, within the same grade (a pricing question: its touches, then its move to qualified). One read by `_id`.
 */
export async function upgradeNews(
  leadId: string,
  check: UpgradeCheck,
  text?: string,
): Promise<{ stale: 'not_saved' | 'later_upgrade' | 'grade_changed' | 'unsubscribed' | null; text?: string }> {
  const lead = await Lead.findById(leadId, { gradeUpgrades: 1, grade: 1, stage: 1, score: 1, scoreReasons: 1 }).lean();
  const upgrades = lead?.gradeUpgrades ?? 0;
  if (!lead || upgrades < check.gradeUpgrades) return { stale: 'not_saved' };
  if (upgrades > check.gradeUpgrades) return { stale: 'later_upgrade' };
  if (lead.stage === 'unsubscribed') return { stale: 'unsubscribed' };
  if (check.grade && lead.grade !== check.grade) return { stale: 'grade_changed' };
  return { stale: null, text: text === undefined ? undefined : freshen(text, check, lead.score, upgradeWhy(lead.scoreReasons ?? [])) };
}

/** `text` with the score and contributions it was written with (`check`) given as `score` and `why`. */
function freshen(text: string, check: UpgradeCheck, score: number | null | undefined, why: string): string {
  let out = text;
  if (check.score !== undefined && typeof score === 'number') out = out.replace(`得分 ${check.score}`, `得分 ${score}`);
  if (check.why && why) out = out.replace(`主要加分：${check.why}`, `主要加分：${why}`);
  return out;
}
