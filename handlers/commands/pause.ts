import { z } from 'zod';
import { defineCommand } from '../../src/domain/commands/command.js';
import { shortTime } from '../../src/domain/commands/words.js';
import { pauseLevel, resolveTarget, targetField } from '../../src/domain/commands/pause-target.js';
import { listPauses, pause as pauseTarget } from '../../src/domain/pause/pauses.js';
import { eachById } from '../../src/store/by-id.js';
import { Lead, splitLeadId } from '../../src/store/models/lead.js';

/** How many pauses the list shows (the newest first). */
const LISTED = 30;

/**
 * `暂停` / `pause <lead | sequence | channel> [reason]`: nurture and campaign sends for it wait where they are (an
 * enrollment keeps its place) until `恢复`. Alone, it lists what is paused.
 */
export const pause = defineCommand({
  name: 'pause',
  aliases: { zh: ['暂停'], en: ['hold'] },
  params: ['target', '...reason'],
  args: z.object({ target: targetField.optional(), reason: z.string().trim().max(500).optional() }),
  permission: (a, ctx) => pauseLevel(a.target, ctx),
  usage: { zh: '<线索|序列|渠道> [原因]（不带参数：列出暂停中的）', en: '<lead | sequence | channel> [reason] (alone: what is paused)' },
  help: { zh: '暂停对它的培育和群发（进度保留）；序列和渠道需管理员', en: 'pause nurture and campaign sends for it (keeping its place); sequences and channels: admins' },
  run: async (a, c) => {
    if (!a.target) {
      // A cancelled campaign keeps its pause so that its senders stop (src/domain/campaigns/control.ts): it is
      // cancelled, not paused, and nothing can resume it.
      const all = (await listPauses()).filter((p) => !(p.kind === 'campaign' && p.reason === 'cancelled'));
      if (!all.length) return c.t('现在没有暂停中的线索、序列、渠道或群发。', 'Nothing is paused.');
      const shown = all.slice(0, LISTED);
      // A lead by its name and external id (what 线索 and 恢复 take), not by its stored id.
      const leadIds = shown.filter((p) => p.kind === 'lead').map((p) => p.target);
      const found = await eachById(leadIds, (id) => Lead.findById(id, { name: 1 }).lean());
      const names = new Map(leadIds.map((id, i) => [id, found[i]?.name ?? null]));
      const what = (p: (typeof shown)[number]) => {
        if (p.kind === 'lead') {
          const ext = splitLeadId(p.target)?.externalUserId ?? p.target;
          const name = names.get(p.target);
          return `${c.t('线索', 'lead')} ${name ? `${name} ` : ''}\`${ext}\``;
        }
        if (p.kind === 'sequence') return `${c.t('序列', 'sequence')} \`${p.target}\``;
        if (p.kind === 'channel') return `${c.t('渠道', 'channel')} \`${p.target}\``;
        // `恢复` takes leads, sequences and channels; a campaign is resumed with 群发 resume.
        return `${c.t('群发', 'campaign')} \`${p.target}\`${c.t(`（恢复：群发 resume ${p.target}）`, ` (resume: campaign resume ${p.target})`)}`;
      };
      const more = all.length - shown.length;
      return [
        c.t('**暂停中**', '**Paused**'),
        ...shown.map((p) => `- ${what(p)} · ${p.by} · ${shortTime(p.at, c.config.OPS_TIMEZONE)}${p.reason ? ` · ${p.reason}` : ''}`),
        ...(more > 0 ? [c.t(`……另有 ${more} 条`, `…and ${more} more`)] : []),
      ].join('\n');
    }
    const { target, label } = await resolveTarget(c, a.target);
    const done = await pauseTarget(c, target, { actor: c.caller.userId, reason: a.reason ?? null });
    return done
      ? c.t(`已暂停${label}的培育和群发：进度保留，发送「恢复」后从原处继续。`, `Paused ${label}: nurture and campaign sends wait where they are until resumed.`)
      : c.t(`${label}本来就是暂停状态。`, `${label} was paused already.`);
  },
});
