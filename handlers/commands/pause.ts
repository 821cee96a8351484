import { z } from 'zod';
import { defineCommand } from '../../src/domain/commands/command.js';
import { shortTime } from '../../src/domain/commands/words.js';
import { pauseLevel, resolveTarget, targetArg } from '../../src/domain/commands/pause-target.js';
import { listPauses, pause as pauseTarget } from '../../src/domain/pause/pauses.js';

/**
 * `暂停` / `pause <lead | sequence | channel> [reason]`: nurture and campaign sends for it wait where they are (an
 * enrollment keeps its place) until `恢复`. Alone, it lists what is paused.
 */
export const pause = defineCommand({
  name: 'pause',
  aliases: { zh: ['暂停'], en: ['hold'] },
  params: ['target', '...reason'],
  args: z.object({ target: z.string().min(1).max(100).transform(targetArg).optional(), reason: z.string().trim().max(500).optional() }),
  permission: (a, ctx) => pauseLevel(a.target, ctx),
  usage: { zh: '<线索|序列|渠道> [原因]（不带参数：列出暂停中的）', en: '<lead | sequence | channel> [reason] (alone: what is paused)' },
  help: { zh: '暂停对它的培育和群发（进度保留）；序列和渠道需管理员', en: 'pause nurture and campaign sends for it (keeping its place); sequences and channels: admins' },
  run: async (a, c) => {
    if (!a.target) {
      const all = await listPauses();
      if (!all.length) return c.t('现在没有暂停中的线索、序列或渠道。', 'Nothing is paused.');
      const kind = (k: string) => c.t(({ lead: '线索', sequence: '序列', channel: '渠道' } as Record<string, string>)[k] ?? k, k);
      return [c.t('**暂停中**', '**Paused**'), ...all.slice(0, 30).map((p) => `- ${kind(p.kind)} \`${p.target}\` · ${p.by} · ${shortTime(p.at, c.config.OPS_TIMEZONE)}${p.reason ? ` · ${p.reason}` : ''}`)].join('\n');
    }
    const { target, label } = await resolveTarget(c, a.target);
    const done = await pauseTarget(c, target, { actor: c.caller.userId, reason: a.reason ?? null });
    return done
      ? c.t(`已暂停${label}的培育和群发：进度保留，发送「恢复」后从原处继续。`, `Paused ${label}: nurture and campaign sends wait where they are until resumed.`)
      : c.t(`${label}本来就是暂停状态。`, `${label} was paused already.`);
  },
});
