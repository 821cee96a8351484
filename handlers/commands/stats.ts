import { z } from 'zod';
import { defineCommand } from '../../src/domain/commands/command.js';
import { issue } from '../../src/domain/commands/parse.js';
import { parsePeriod, periodDays } from '../../src/domain/commands/period.js';
import { channelFunnel } from '../../src/domain/report/channel-funnel.js';

/** `统计` / `stats [period] [channel]`: the funnel per channel for a period, as a markdown table. */
export const stats = defineCommand({
  name: 'stats',
  aliases: { zh: ['统计', '漏斗', '数据'], en: ['funnel', 'stat'] },
  params: ['period', 'channel'],
  args: z.object({
    period: z
      .string()
      .default('7d')
      .transform((raw, ctx) => parsePeriod(raw) ?? (ctx.addIssue(issue(`时间段「${raw}」看不懂：可以是 today、7d、30d、2026-11-01 或 2026-11-01..2026-11-30`, `period "${raw}" is not today, 7d, 30d, 2026-11-01 or 2026-11-01..2026-11-30`)), z.NEVER)),
    channel: z.string().max(64).optional(),
  }),
  permission: 'read',
  usage: { zh: '[today|7d|30d|日期..日期] [渠道]', en: '[today|7d|30d|YYYY-MM-DD..YYYY-MM-DD] [channel]' },
  help: { zh: '各渠道漏斗：新增、各阶段、转化率、流失、退订（默认近 7 天）', en: 'the funnel per channel: adds, each stage, conversion, lost, unsubscribed (default 7d)' },
  // A long period reads many daily rollups: answered later.
  slow: (a) => periodDays(a.period) > 31,
  run: (a, c) => channelFunnel(c, a.period, a.channel),
});
