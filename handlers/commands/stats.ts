import { z } from 'zod';
import { findChannel } from '../../src/domain/channels/find-channel.js';
import { CommandError, defineCommand } from '../../src/domain/commands/command.js';
import { issue } from '../../src/domain/commands/parse.js';
import { parsePeriod, periodDays, periodProblem, type PeriodSpec } from '../../src/domain/commands/period.js';
import { channelFunnel } from '../../src/domain/report/channel-funnel.js';

const LAST_7_DAYS: PeriodSpec = { kind: 'last', days: 7 };
const USAGE = { zh: '[today|7d|30d|日期..日期] [渠道]', en: '[today|7d|30d|YYYY-MM-DD..YYYY-MM-DD] [channel]' };

/**
 * `统计` / `stats [period] [channel]`: the funnel per channel for a period, as a markdown table. Both are optional, so
 * `统计 expo2026` is the channel's last 7 days: a first word that is no period is taken for a channel when it names
 * one (which only the catalog can say, so at run time).
 */
export const stats = defineCommand({
  name: 'stats',
  aliases: { zh: ['统计', '漏斗', '数据'], en: ['funnel', 'stat'] },
  params: ['period', 'channel'],
  args: z
    .object({ period: z.string().optional(), channel: z.string().max(64).optional() })
    .transform((a, ctx) => {
      const period = a.period === undefined ? LAST_7_DAYS : parsePeriod(a.period);
      if (period) return { period, channel: a.channel, notPeriod: null };
      const problem = periodProblem(a.period!);
      if (a.channel === undefined && problem.unreadable) return { period: LAST_7_DAYS, channel: a.period, notPeriod: a.period! };
      ctx.addIssue({ ...issue(problem.zh, problem.en), path: ['period'] });
      return z.NEVER;
    }),
  permission: 'read',
  usage: USAGE,
  help: { zh: '各渠道漏斗：新增、各阶段、转化率、流失、退订（默认近 7 天）', en: 'the funnel per channel: adds, each stage, conversion, lost, unsubscribed (default 7d)' },
  // A long period reads many daily rollups: answered later.
  slow: (a) => periodDays(a.period) > 31,
  run: (a, c) => {
    if (a.notPeriod !== null && !findChannel(c.channels, a.notPeriod)) {
      const known = c.channels.all().map((x) => x.key).join(', ');
      const problem = periodProblem(a.notPeriod);
      throw new CommandError(
        'invalid_args',
        c.t(`${problem.zh}；也没有这个渠道（现有渠道：${known}）\n用法: \`统计 ${USAGE.zh}\``, `${problem.en}, nor a channel (channels: ${known})\nUsage: \`stats ${USAGE.en}\``),
      );
    }
    return channelFunnel(c, a.period, a.channel);
  },
});
