import { z } from 'zod';
import { defineCommand } from '../../src/domain/commands/command.js';
import { issue } from '../../src/domain/commands/parse.js';
import { addDays } from '../../src/domain/commands/period.js';
import { isDay } from '../../src/settings/calendar-day.js';
import { localDay } from '../../src/domain/nurture/clock.js';
import { buildDailyReport } from '../../src/domain/report/daily-report.js';
import { foldWidth } from '../../src/domain/width.js';

/** `日报` / `report [date]`: the daily report (default: yesterday's), now, in this chat. */
export const report = defineCommand({
  name: 'report',
  aliases: { zh: ['日报', '报告'], en: ['daily'] },
  params: ['date'],
  args: z.object({
    date: z
      .string()
      .optional()
      .transform((raw, ctx) => {
        // A date or a word, in half- or full-width forms (２０２６-１１-２７).
        const w = foldWidth(raw ?? 'yesterday');
        if (['yesterday', '昨天', '昨日'].includes(w.toLowerCase())) return { back: 1 };
        if (['today', '今天', '今日'].includes(w.toLowerCase())) return { back: 0 };
        if (isDay(w)) return { day: w };
        ctx.addIssue(issue(`日期「${raw ?? w}」应写成 2026-11-27、昨天或今天`, `date "${raw ?? w}" must be like 2026-11-27, yesterday or today`));
        return z.NEVER;
      }),
  }),
  permission: 'read',
  usage: { zh: '[日期，默认昨天]', en: '[date, default yesterday]' },
  help: { zh: '立即生成某天的运营日报', en: 'the daily report of a day, now' },
  slow: () => true,
  run: async (a, c) => {
    const day = a.date.day ?? addDays(localDay(Date.now(), c.config.OPS_TIMEZONE), -(a.date.back ?? 1));
    return buildDailyReport(c, day, c.lang);
  },
});
