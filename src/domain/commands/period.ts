import { localDay } from '../nurture/clock.js';
import { DAY, isDay } from '../../settings/calendar-day.js';
import { foldWidth } from '../width.js';

/** A period as typed: relative to today (the last N days, today included), or fixed days. */
export type PeriodSpec = { kind: 'last'; days: number } | { kind: 'yesterday' } | { kind: 'days'; from: string; to: string };

const RANGE = /^(\d{4}-\d{2}-\d{2})(?:\.\.|~|至|到|—|–|--)(\d{4}-\d{2}-\d{2})$/u;


/** `day` moved by `n` calendar days. */
export function addDays(day: string, n: number): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

/**
 * Reads a period: `today` (今天), `yesterday` (昨天), `7d` / `30d` / `Nd` (近7天, 7天: the last N days, today
 * included), `YYYY-MM-DD`, or `YYYY-MM-DD..YYYY-MM-DD` (also with ~, 至 or 到), in half- or full-width forms (`７ｄ`).
 * Null when it is none of them.
 */
export function parsePeriod(raw: string): PeriodSpec | null {
  const s = foldWidth(raw).trim().toLowerCase();
  if (['today', '今天', '今日'].includes(s)) return { kind: 'last', days: 1 };
  if (['yesterday', '昨天', '昨日'].includes(s)) return { kind: 'yesterday' };
  const n = /^(?:近|最近|last)?(\d{1,3})(?:d|days?|天|日)$/u.exec(s);
  if (n) {
    const days = Number(n[1]);
    return days >= 1 && days <= 366 ? { kind: 'last', days } : null;
  }
  if (isDay(s)) return { kind: 'days', from: s, to: s };
  const r = RANGE.exec(s);
  if (r && isDay(r[1]!) && isDay(r[2]!) && r[1]! <= r[2]!) return { kind: 'days', from: r[1]!, to: r[2]! };
  return null;
}

/**
 * Why a typed period is not one parsePeriod reads, in both languages: a reversed range, too many days, no such day;
 * `unreadable` when it is not shaped like a period at all (a word that may be something else, e.g. a channel).
 */
export function periodProblem(raw: string): { zh: string; en: string; unreadable?: true } {
  const s = foldWidth(raw).trim().toLowerCase();
  const n = /^(?:近|最近|last)?(\d{1,})(?:d|days?|天|日)$/u.exec(s);
  if (n) return { zh: `时间段「${raw}」：最多 366 天，最少 1 天`, en: `period "${raw}": at most 366 days, at least 1` };
  const r = RANGE.exec(s);
  if (r && isDay(r[1]!) && isDay(r[2]!)) return { zh: `时间段「${raw}」：开始日期晚于结束日期`, en: `period "${raw}": its first day is after its last` };
  const bad = [r?.[1], r?.[2], DAY.test(s) ? s : undefined].find((d) => d !== undefined && !isDay(d));
  if (bad) return { zh: `时间段「${raw}」：没有 ${bad} 这一天`, en: `period "${raw}": there is no day ${bad}` };
  return { zh: `时间段「${raw}」看不懂：可以是 today、7d、30d、2026-11-01 或 2026-11-01..2026-11-30`, en: `period "${raw}" is not today, 7d, 30d, 2026-11-01 or 2026-11-01..2026-11-30`, unreadable: true };
}

/** The first and last day (inclusive) of a period, in the ops time zone, as of `now`. */
export function resolvePeriod(p: PeriodSpec, now: number, tz: string): { from: string; to: string } {
  const today = localDay(now, tz);
  if (p.kind === 'days') return { from: p.from, to: p.to };
  if (p.kind === 'yesterday') return { from: addDays(today, -1), to: addDays(today, -1) };
  return { from: addDays(today, -(p.days - 1)), to: today };
}

/** How many days a period spans. */
export function periodDays(p: PeriodSpec): number {
  if (p.kind === 'last') return p.days;
  if (p.kind === 'yesterday') return 1;
  return Math.round((Date.parse(`${p.to}T00:00:00Z`) - Date.parse(`${p.from}T00:00:00Z`)) / 86_400_000) + 1;
}
