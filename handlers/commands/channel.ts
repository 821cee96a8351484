import { z } from 'zod';
import { CommandError, defineCommand } from '../../src/domain/commands/command.js';
import { table } from '../../src/domain/commands/markdown.js';
import { issue } from '../../src/domain/commands/parse.js';
import { channelOverview } from '../../src/domain/channels/overview.js';
import { CHANNEL_KEY, createChannel } from '../../src/domain/channels/stored-channels.js';
import { foldWidth } from '../../src/domain/width.js';

const ACTIONS: Record<string, 'new' | 'list'> = { new: 'new', create: 'new', 新建: 'new', 新增: 'new', 创建: 'new', list: 'list', ls: 'list', 列表: 'list', 全部: 'list' };

/**
 * `渠道` / `channel new <key> <name> [owner…]`: a new channel with its 联系我 QR code (state = key), stored so it
 * attributes new contacts at once; `渠道 list`: every channel with its QR code and adds.
 */
export const channel = defineCommand({
  name: 'channel',
  aliases: { zh: ['渠道'], en: ['channels'] },
  params: ['action', 'key', 'name', '*owners'],
  args: z
    .object({
      action: z
        .string()
        .default('list')
        .transform((w, ctx) => ACTIONS[foldWidth(w).toLowerCase()] ?? (ctx.addIssue(issue(`「${w}」应为 new（新建）或 list（列表）`, `"${w}" must be new or list`)), z.NEVER)),
      key: z.string().optional(),
      name: z.string().max(64).optional(),
      owners: z.array(z.string().regex(/^[\w.@-]{1,64}$/)).max(100).default([]),
    })
    .superRefine((a, ctx) => {
      if (a.action !== 'new') return;
      if (!a.key) ctx.addIssue({ ...issue('缺少 <标识>（二维码的 state：字母、数字、_ 或 -，最多 30 个）', 'missing <key> (the code\'s state: letters, digits, _ or -, up to 30)'), path: ['key'] });
      // The key and the name are kept as typed: a key in full-width letters is refused, not converted.
      else if (!CHANNEL_KEY.test(a.key) && CHANNEL_KEY.test(foldWidth(a.key))) ctx.addIssue({ ...issue(`标识「${a.key}」请用半角字母、数字、_ 或 -（它就是二维码的 state）`, `key "${a.key}" must be typed in half-width letters, digits, _ or - (it is the code's state)`), path: ['key'] });
      else if (!CHANNEL_KEY.test(a.key)) ctx.addIssue({ ...issue(`标识「${a.key}」只能用字母、数字、_ 或 -，最多 30 个（它就是二维码的 state）`, `key "${a.key}" may only hold letters, digits, _ or -, up to 30 (it is the code's state)`), path: ['key'] });
      if (!a.name) ctx.addIssue({ ...issue('缺少 <名称>（有空格请加引号）', 'missing <name> (quote it if it has spaces)'), path: ['name'] });
    }),
  permission: (a) => (a.action === 'new' ? 'admin' : 'read'),
  usage: { zh: 'new <标识> <名称> [负责人…] | list', en: 'new <key> <name> [owner…] | list' },
  // Help lists it for every member (list is theirs), so it says, as 暂停 and 群发 do, which part is for admins.
  help: { zh: '列出渠道，或新建渠道（生成联系我二维码；新建需管理员）', en: 'list the channels, or create one (its 联系我 QR code; creating: admins)' },
  // Creating one calls WeCom: answered through response_url.
  slow: (a) => a.action === 'new',
  run: async (a, c) => {
    if (a.action === 'new') {
      const owners = a.owners.length ? a.owners : [c.caller.userId];
      const r = await createChannel(c, { key: a.key!, name: a.name!, owners, by: c.caller.userId });
      if (r.kind === 'exists') {
        throw new CommandError('rejected', c.t(`渠道「${a.key}」已经存在${r.fromTemplates ? '（在 channels.yaml 里）' : ''}${r.qrCode ? `，二维码：${r.qrCode}` : ''}。`, `Channel "${a.key}" exists already${r.fromTemplates ? ' (in channels.yaml)' : ''}${r.qrCode ? `; QR code: ${r.qrCode}` : ''}.`));
      }
      // Not finished: nothing attributes to it yet, and the same command again completes it (no second code).
      if (r.kind === 'unknown') {
        throw new CommandError('failed', c.t(
          `企业微信没有回答是否已为渠道「${a.key}」生成二维码（超时或连接中断），渠道还没有建好。请稍后再发一次同样的命令：已生成的二维码会被找回并补全，不会再生成一个。`,
          `WeCom did not answer whether it made the QR code of channel "${a.key}" (timeout or lost connection); the channel is not ready. Send the same command again later: a code already made is found and completed, never made twice.`,
        ));
      }
      // WeCom does not know an owner: nothing was made, and the same key can be used again.
      if (r.kind === 'unknown_owner') {
        const who = r.unknown ? r.unknown.join('、') : null;
        throw new CommandError('rejected', c.t(
          `渠道「${a.key}」没有建成：企业微信不认识负责人 ${who ?? `${owners.join('、')} 中的某一位`}（错误码 ${r.errcode}：通讯录里没有这个 userid，或没有开通客户联系）。没有生成二维码；请改正负责人的 userid 后再发一次，标识「${a.key}」仍可使用。`,
          `Channel "${a.key}" was not created: WeCom does not know the owner${r.unknown && r.unknown.length > 1 ? 's' : ''} ${r.unknown ? r.unknown.join(', ') : `(one of ${owners.join(', ')})`} (errcode ${r.errcode}: no such userid in the directory, or no 客户联系 for them). No QR code was made; fix the owner's userid and send the command again: the key "${a.key}" is still free.`,
        ));
      }
      if (r.kind === 'unsaved') {
        throw new CommandError('failed', c.t(
          `企业微信已为渠道「${a.key}」生成二维码，但保存渠道时数据库出错，渠道还没有生效（先不要用这个二维码）。请稍后再发一次同样的命令：会补全这个二维码，不会再生成一个。`,
          `WeCom made the QR code of channel "${a.key}", but the database did not take the channel, so it is not in use yet (do not hand out the code yet). Send the same command again later: it completes this code, never makes a second one.`,
        ));
      }
      const made = r.channel.owners;
      return c.t(
        `${r.completed ? '已补全' : '已新建'}渠道 **${a.name}**（\`${a.key}\`），负责人：${made.join('、')}。${r.completed ? '（二维码是上次已生成的那个，没有重复生成。）' : ''}\n联系我二维码：${r.qrCode ?? '（企业微信没有返回）'}\n扫码添加的客户都会记到这个渠道，并打上标签 渠道/${r.channel.tags[0]!.name}。`,
        `${r.completed ? 'Completed' : 'Created'} channel **${a.name}** (\`${a.key}\`), owners: ${made.join(', ')}.${r.completed ? ' (The QR code is the one made by the earlier attempt; no second code was made.)' : ''}\n联系我 QR code: ${r.qrCode ?? '(WeCom returned none)'}\nCustomers who scan it are attributed to it and tagged 渠道/${r.channel.tags[0]!.name}.`,
      );
    }
    const all = await channelOverview(c.channels);
    const rows = all.map((ch) => [ch.name, `\`${ch.key}\``, ch.counts.added, ch.counts.customer, ch.qrCode ? `[QR](${ch.qrCode})` : '–', c.channels.isTemplate(ch.key) ? 'channels.yaml' : c.t('命令', 'command')]);
    const head = c.lang === 'zh' ? ['渠道', '标识', '新增', '成交', '二维码', '来源'] : ['channel', 'key', 'added', 'customers', 'QR', 'from'];
    return `${c.t('**渠道**（累计）', '**Channels** (all time)')}\n${table(head, rows)}`;
  },
});
