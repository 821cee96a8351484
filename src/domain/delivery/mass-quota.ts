import type { MassQuotaRule } from '../../settings/mass-quota-rule.js';
import { localDay } from '../nurture/clock.js';

// The rule itself (MASS_MESSAGE_CAP) is parsed with the settings; here are its periods.
export { massQuotaRule, type MassQuotaRule } from '../../settings/mass-quota-rule.js';

/** WeCom counts its quota periods in China time. */
const WECOM_TZ = 'Asia/Shanghai';

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
