import { z } from 'zod';
import { defineCommand } from '../../src/domain/commands/command.js';
import { allows } from '../../src/domain/commands/permissions.js';

/** `帮助` / `help`: the commands the caller may run, in the language asked. */
export const help = defineCommand({
  name: 'help',
  aliases: { zh: ['帮助', '命令'], en: ['commands'] },
  params: [],
  args: z.object({}),
  permission: 'read',
  usage: { zh: '', en: '' },
  help: { zh: '列出你可以运行的命令', en: 'the commands you may run' },
  run: async (_args, c) => {
    const { t, lang } = c;
    const lines = c.commands
      .list()
      // A command whose permission depends on its arguments is listed: some of its uses are open to every caller.
      .filter((cmd) => typeof cmd.permission === 'function' || allows(c.caller.role, cmd.permission))
      .map((cmd) => {
        const word = lang === 'zh' ? cmd.aliases.zh[0]! : cmd.name;
        const other = lang === 'zh' ? cmd.name : cmd.aliases.zh[0]!;
        return `- \`${word}${cmd.usage[lang] ? ` ${cmd.usage[lang]}` : ''}\`（${other}）${cmd.help[lang]}`;
      });
    const role = c.caller.role === 'admin' ? t('运营管理员', 'ops admin') : t('运营成员', 'ops member');
    return [
      t(`**可以运行的命令**（${c.caller.userId}，${role}；在群里 @我 后输入）`, `**Commands you may run** (${c.caller.userId}, ${role}; @mention me, then type)`),
      ...lines,
      t('例如：`统计 7d`、`线索 王经理`、`阶段 王经理 商机 已报价`', 'e.g. `stats 7d`, `lead Wang`, `stage Wang opportunity sent a quote`'),
    ].join('\n');
  },
});
