import { Lead } from '../../store/models/lead.js';

/** What the news of a lead's grade upgrade (the owner's notice, the ops alert) announces: its upgrade number, its grade. */
export interface UpgradeCheck {
  gradeUpgrades: number;
  grade?: string;
}

/**
 * Whether the news of an upgrade still holds when it is about to go (docs/ops-guide.md, "Upgrades"): null when it
 * does; else why not — the upgrade is not saved (yet), a later upgrade was saved (its own news tells the newer grade),
 * the lead's grade changed meanwhile (a lower grade pinned: no rise to tell), or the lead opted out (no one to chase).
 * One read of the lead by `_id`.
 */
export async function staleUpgradeNews(leadId: string, check: UpgradeCheck): Promise<'not_saved' | 'later_upgrade' | 'grade_changed' | 'unsubscribed' | null> {
  const lead = await Lead.findById(leadId, { gradeUpgrades: 1, grade: 1, stage: 1 }).lean();
  const upgrades = lead?.gradeUpgrades ?? 0;
  if (!lead || upgrades < check.gradeUpgrades) return 'not_saved';
  if (upgrades > check.gradeUpgrades) return 'later_upgrade';
  if (lead.stage === 'unsubscribed') return 'unsubscribed';
  if (check.grade && lead.grade !== check.grade) return 'grade_changed';
  return null;
}
