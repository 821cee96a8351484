import { z } from 'zod';
import { CommandError, defineCommand } from '../../src/domain/commands/command.js';
import { findLead } from '../../src/domain/commands/find-lead.js';
import { issue } from '../../src/domain/commands/parse.js';
import { gradeOf } from '../../src/domain/commands/words.js';
import { pinGrade } from '../../src/domain/leads/grade.js';

/** `定级` / `grade <lead> <S|A|B|C|auto>`: pins a lead's grade (it wins over the score), or unpins it with auto. */
export const grade = defineCommand({
  name: 'grade',
  aliases: { zh: ['定级', '等级'], en: ['pin'] },
  params: ['lead', 'grade', '...reason'],
  args: z.object({
    lead: z.string().min(1),
    grade: z.string().transform((w, ctx) => gradeOf(w) ?? (ctx.addIssue(issue(`等级「${w}」应为 S、A、B、C 或 auto（取消人工定级）`, `grade "${w}" must be S, A, B, C or auto (unpin)`)), z.NEVER)),
    reason: z.string().trim().max(500).optional(),
  }),
  permission: 'lead',
  usage: { zh: '<线索> <S|A|B|C|auto> [原因]', en: '<lead> <S|A|B|C|auto> [reason]' },
  help: { zh: '人工定级（auto 取消，恢复按得分定级）', en: 'pin a grade (auto unpins: the score decides again)' },
  run: async (a, c) => {
    const { ref, lead } = await findLead(c, a.lead);
    const doc = await pinGrade(c, ref, a.grade, { actor: c.caller.userId, reason: a.reason ?? null });
    if (!doc) throw new CommandError('not_found', c.t('这条线索已经不存在了。', 'That lead no longer exists.'));
    const who = doc.name ?? lead.externalUserId;
    if (a.grade === 'auto' && !lead.gradePinned) {
      return c.t(`**${who}** 没有人工定级：按得分 ${doc.score} 为 **${doc.grade}** 级。`, `**${who}** was not pinned: grade **${doc.grade}** from its score ${doc.score}.`);
    }
    return a.grade === 'auto'
      ? c.t(`已取消 **${who}** 的人工定级：按得分 ${doc.score} 为 **${doc.grade}** 级。`, `Unpinned **${who}**: grade **${doc.grade}** from its score ${doc.score}.`)
      : c.t(`已把 **${who}** 定为 **${doc.grade}** 级（人工定级，得分 ${doc.score}）。`, `Pinned **${who}** at grade **${doc.grade}** (score ${doc.score}).`);
  },
});
