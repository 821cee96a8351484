import type { BotContext } from '../../context.js';
import type { LeadDoc, LeadRef } from '../../store/models/lead.js';
import { recordStep } from '../../store/timeline.js';
import type { Grade } from '../vocabulary.js';

/**
 * Pins a lead's grade (staff know something the score does not), or unpins it with `auto`: a pinned grade wins until
 * unpinned. The change goes on the timeline with who did it; the grade itself is set as every change sets it (an
 * upgrade into S or A tells the owner). Returns the lead, or null when it is unknown.
 */
export async function pinGrade(ctx: Pick<BotContext, 'leads'>, lead: LeadRef, grade: Grade | 'auto', by: { actor: string; reason?: string | null }): Promise<LeadDoc | null> {
  let from: string | null = null;
  const doc = await ctx.leads.mutate(lead, null, (d) => {
    from = d.gradePin ?? null;
    d.gradePin = grade === 'auto' ? null : grade;
  });
  if (!doc) return null;
  const at = new Date();
  await recordStep(lead, `grade|${at.getTime()}|${by.actor}`, grade === 'auto' ? 'grade_unpinned' : 'grade_pinned', { grade: doc.grade, pinned: grade === 'auto' ? null : grade, was: from, actor: by.actor, reason: by.reason ?? null }, at);
  return doc;
}
