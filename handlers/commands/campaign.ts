import { z } from 'zod';
import { defineCommand } from '../../src/domain/commands/command.js';
import { issue } from '../../src/domain/commands/parse.js';
import { runCampaignCommand } from '../../src/domain/campaigns/command.js';
import { foldWidth } from '../../src/domain/width.js';

/** Subcommands that read or start a whole audience: answered later, through response_url. */
const SLOW = new Set(['dry-run', 'dryrun', '预演', 'launch', '发送', '立即发送']);
/** Subcommands for admins only (CAMPAIGN_COMMAND.adminOnly and their Chinese words): refused before anything runs. */
const ADMIN = new Set(['launch', '发送', '立即发送', 'cancel', '取消']);
/** The subcommand word, recognised in half- or full-width letters. */
const subcommand = (words: string[]) => foldWidth(words[0] ?? '').toLowerCase();

/**
 * `群发` / `campaign list | show | dry-run | launch | pause | resume | cancel <key>`: campaigns from the ops chat (the
 * domain decides what each does; launch and cancel are for admins).
 */
export const campaign = defineCommand({
  name: 'campaign',
  aliases: { zh: ['群发'], en: ['campaigns'] },
  params: ['*words'],
  // A subcommand and a key: more is said to be more, as for every other command (not as "<words> is too long").
  args: z.object({
    words: z
      .array(z.string())
      .default([])
      .superRefine((w, ctx) => {
        if (w.length > 2) ctx.addIssue(issue(`多余的内容：${w.slice(2).join(' ')}`, `unexpected: ${w.slice(2).join(' ')}`));
      }),
  }),
  permission: (a) => (ADMIN.has(subcommand(a.words)) ? 'admin' : 'read'),
  usage: { zh: 'list | show <key> | dry-run <key> | launch <key> | pause <key> | resume <key> | cancel <key>', en: 'list | show <key> | dry-run <key> | launch <key> | pause <key> | resume <key> | cancel <key>' },
  help: { zh: '群发活动：查看、预演、立即发送、暂停、恢复、取消（发送和取消需管理员）', en: 'campaigns: list, show, dry-run, launch, pause, resume, cancel (launch and cancel: admins)' },
  // Without a key it only says how to use it: answered at once, not "working on it" first.
  slow: (a) => SLOW.has(subcommand(a.words)) && a.words.length > 1,
  run: (a, c) => runCampaignCommand(c, { args: a.words, actor: c.caller.userId, isAdmin: c.caller.role === 'admin' }),
});
