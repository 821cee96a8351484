import { z } from 'zod';
import { localDay } from '../nurture/clock.js';

/**
 * WeCom's mass-message (群发) quota per customer [D:92135, updated 2025-11]: by default as many corp mass messages
 * per calendar month as the month has days; admins may tighten it to 7 per week or 1 per day; company and member
 * mass messages share it. A customer over it is skipped (status 3 in the send result). The rule is configurable
 * (MASS_MESSAGE_CAP) because admins change it.
 */
export type MassQuotaRule = { per: 'days-of-month' } | { per: 'month' | 'week' | 'day'; n: number };

/** WeCom counts its quota periods in China time. */
const WECOM_TZ = 'Asia/Shanghai';

/** Parses MASS_MESSAGE_CAP: `days/month`, `N/month`, `N/week` or `N/day` (N = 0 turns the mass route off). */
export const massQuotaRule = z
  .string()
  .default('days/month')
  .transform((raw, ctx): MassQuotaRule => {
    const text = raw.trim();
    if (text === 'days/month') return { per: 'days-of-month' };
    const m = /^(\d+)\/(month|week|day)$/.exec(text);
    if (!m) {
      ctx.addIssue({ code: 'custom', message: `"${text}" is not days/month, N/month, N/week or N/day` });
      return z.NEVER;
    }
    return { per: m[2] as 'month' | 'week' | 'day', n: Number(m[1]) };
  });

function chinaDate(ms: number): { y: number; m: number; d: number } {
  const [y, m, d] = localDay(ms, WECOM_TZ).split('-').map(Number);
  return { y: y!, m: m!, d: d! };
}

/**
 * The quota period `ms` falls in and its size: a key that names the period (`M2026-11`, `W2026-11-23` = the week's
 * Monday, `D2026-11-28`) and how many mass messages a customer may get in it.
 */
export function massQuotaPeriod(rule: MassQuotaRule, ms: number): { key: string; cap: number } {
  const { y, m, d } = chinaDate(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  if (rule.per === 'days-of-month') return { key: `M${y}-${pad(m)}`, cap: new Date(Date.UTC(y, m, 0)).getUTCDate() };
  if (rule.per === 'month') return { key: `M${y}-${pad(m)}`, cap: rule.n };
  if (rule.per === 'day') return { key: `D${y}-${pad(m)}-${pad(d)}`, cap: rule.n };
  // Weeks start on Monday; the key is that Monday's date.
  const utc = Date.UTC(y, m - 1, d);
  const weekday = (new Date(utc).getUTCDay() + 6) % 7;
  const monday = new Date(utc - weekday * 86_400_000);
  return { key: `W${monday.getUTCFullYear()}-${pad(monday.getUTCMonth() + 1)}-${pad(monday.getUTCDate())}`, cap: rule.n };
}

/** How the rule reads in a log line or a report. */
export function describeMassQuota(rule: MassQuotaRule): string {
  return rule.per === 'days-of-month' ? 'days/month' : `${rule.n}/${rule.per}`;
}
