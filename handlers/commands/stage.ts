import { z } from 'zod';
import { CommandError, defineCommand } from '../../src/domain/commands/command.js';
import { findLead } from '../../src/domain/commands/find-lead.js';
import { issue } from '../../src/domain/commands/parse.js';
import { stageName, stageOf } from '../../src/domain/commands/words.js';
import { moveStage, type StageMoveOut } from '../../src/domain/leads/stage.js';

/** `阶段` / `stage <lead> <stage> [reason]`: staff move a lead to any stage; the move, who and why go on its timeline. */
export const stage = defineCommand({
  name: 'stage',
  aliases: { zh: ['阶段'], en: ['move'] },
  params: ['lead', 'stage', '...reason'],
  args: z.object({
    lead: z.string().min(1),
    stage: z.string().transform((w, ctx) => stageOf(w) ?? (ctx.addIssue(issue(`没有「${w}」这个阶段：新增、已互动、合格、商机、成交、流失、退订`, `no stage "${w}": added, engaged, qualified, opportunity, customer, lost, unsubscribed`)), z.NEVER)),
    reason: z.string().trim().max(500).optional(),
  }),
  permission: 'lead',
  usage: { zh: '<线索> <阶段> [原因]', en: '<lead> <stage> [reason]' },
  help: { zh: '把线索移到某个阶段（记录在时间线上：谁、为什么）', en: 'move a lead to a stage (on its timeline: who and why)' },
  run: async (a, c) => {
    const { ref, lead } = await findLead(c, a.lead);
    const who = lead.name ?? lead.externalUserId;
    const out: StageMoveOut = {};
    const change = await moveStage(c, ref, a.stage, { by: 'staff', source: 'command', actor: c.caller.userId, reason: a.reason ?? null }, out);
    // A customer whose service enrollment was missed (the move saved, the enrollment not) is enrolled now.
    if (!change && out.serviceEnrolled) return c.t(`**${who}** 已经在「${stageName(a.stage, 'zh')}」阶段；补上了它的服务序列。`, `**${who}** is already ${a.stage}; its service sequence, missed before, is started now.`);
    if (!change) throw new CommandError('rejected', c.t(`${who} 已经在「${stageName(a.stage, 'zh')}」阶段，没有变化。`, `${who} is already ${a.stage}; nothing changed.`));
    return c.t(
      `已把 **${who}** 从「${stageName(change.from, 'zh')}」移到「${stageName(change.to, 'zh')}」${a.reason ? `，原因：${a.reason}` : ''}。`,
      `Moved **${who}** from ${change.from} to ${change.to}${a.reason ? ` (${a.reason})` : ''}.`,
    );
  },
});
