import { z } from 'zod';
import { defineCommand } from '../../src/domain/commands/command.js';
import { pauseLevel, resolveTarget, targetField } from '../../src/domain/commands/pause-target.js';
import { resume as resumeTarget } from '../../src/domain/pause/pauses.js';

/** `恢复` / `resume <lead | sequence | channel>`: what was paused goes on; steps that waited and are due run now. */
export const resume = defineCommand({
  name: 'resume',
  aliases: { zh: ['恢复', '继续'], en: ['unpause'] },
  params: ['...target'],
  args: z.object({ target: targetField }),
  permission: (a, ctx) => pauseLevel(a.target, ctx),
  usage: { zh: '<线索|序列|渠道>', en: '<lead | sequence | channel>' },
  help: { zh: '恢复暂停的培育和群发（到期的步骤马上发送）', en: 'resume what was paused (steps that came due run now)' },
  run: async (a, c) => {
    const { target, label } = await resolveTarget(c, a.target);
    const done = await resumeTarget(c, target, { actor: c.caller.userId });
    return done
      ? c.t(`已恢复${label}：等待中的到期步骤马上运行，其余按原定时间。`, `Resumed ${label}: steps that came due run now, the rest at their time.`)
      : c.t(`${label}没有被暂停。`, `${label} was not paused.`);
  },
});
