import { z } from 'zod';
import { addDays } from '../../domain/commands/period.js';
import { isDay } from '../../settings/calendar-day.js';
import { localDay } from '../../domain/nurture/clock.js';
import { ApiError } from './api-route.js';

/** A calendar day of a query, YYYY-MM-DD, that exists (2026-02-31 does not). */
export const queryDay = z.string().refine(isDay, { message: 'must be a calendar day, YYYY-MM-DD', params: { zh: '应为日历上有的一天，YYYY-MM-DD' } });

const DAY_MS = 86_400_000;

/**
 * The period a query asks for, its gaps filled: `to` defaults to today in `tz`, `from` to `defaultDays - 1` days
 * before `to`. A period that ends before it starts, or is longer than `maxDays` (when given), is a 400 naming `from`.
 */
export function resolvePeriodQuery(q: { from?: string; to?: string }, tz: string, defaultDays: number, maxDays = Infinity): { from: string; to: string } {
  const to = q.to ?? localDay(Date.now(), tz);
  const from = q.from ?? addDays(to, -(defaultDays - 1));
  // The Chinese names the dates in words (开始日期, 时间段): no raw `from：` before it.
  const problem = (message: string, zh: string) => new ApiError(400, { zh: `查询参数有误：${zh}`, en: `invalid query: from: ${message}` }, [{ in: 'query', path: 'from', message }]);
  if (from > to) throw problem(`from must not be after to (${to})`, `开始日期（${from}）不能晚于结束日期（${to}）`);
  if ((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS + 1 > maxDays) throw problem(`a period is at most ${maxDays} days`, `时间段最长 ${maxDays} 天`);
  return { from, to };
}
