/**
 * Service hours (SERVICE_HOURS): when people serve customers, e.g. `Mon-Fri 09:00-18:00` or
 * `Mon-Fri 09:00-12:00, Mon-Fri 13:00-18:00, Sat 10:00-16:00` (days Mon…Sun, a day range with `-` may wrap, e.g.
 * `Fri-Mon`; times HH:MM, `24:00` allowed as an end; a time range does not cross midnight). Pure functions: the time
 * zone and the clock are parameters. The service clock counts only time inside these hours.
 */
import type { ServiceHours } from '../../settings/service-hours.js';

// Parsed with the settings (SERVICE_HOURS); here is what the service clock does with them.
export { DEFAULT_SERVICE_HOURS, parseServiceHours, type ServiceHours } from '../../settings/service-hours.js';

const DAY_NAMES_ZH = ['周一', '周二', '周三', '周四', '周五', '周六', '周日'];
const MINUTE = 60_000;

const formatters = new Map<string, Intl.DateTimeFormat>();
function local(ms: number, tz: string): { y: number; m: number; d: number; minutes: number } {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    formatters.set(tz, f);
  }
  const p = Object.fromEntries(f.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  return { y: Number(p.year), m: Number(p.month), d: Number(p.day), minutes: Number(p.hour) * 60 + Number(p.minute) };
}

/** The offset of `tz` at `ms` (local minus UTC, ms). */
function offsetAt(ms: number, tz: string): number {
  const l = local(ms, tz);
  const asUtc = Date.UTC(l.y, l.m - 1, l.d, 0, l.minutes);
  return asUtc - (ms - (ms % MINUTE));
}

/** The instant of local date y-m-d at `minutes` past midnight in `tz`. */
function zoned(y: number, m: number, d: number, minutes: number, tz: string): number {
  const guess = Date.UTC(y, m - 1, d, 0, minutes);
  let at = guess - offsetAt(guess, tz);
  const again = guess - offsetAt(at, tz);
  if (again !== at) at = again;
  return at;
}

/** The instant local day `day` (YYYY-MM-DD) begins in `tz`. */
export function startOfLocalDay(day: string, tz: string): number {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  return zoned(y, m, d, 0, tz);
}

/** The open intervals (absolute ms) from the local day of `fromMs` on, in order, for `days` days. */
function* intervals(fromMs: number, hours: ServiceHours, tz: string, days = 400): Generator<[number, number]> {
  const l = local(fromMs, tz);
  for (let i = 0; i < days; i++) {
    const date = new Date(Date.UTC(l.y, l.m - 1, l.d + i));
    const weekday = (date.getUTCDay() + 6) % 7;
    for (const [s, e] of hours.days[weekday]!) {
      const y = date.getUTCFullYear();
      const m = date.getUTCMonth() + 1;
      const d = date.getUTCDate();
      const next = new Date(Date.UTC(y, m - 1, d + 1));
      // 24:00 is the next day's midnight.
      const end = e === 1440 ? zoned(next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate(), 0, tz) : zoned(y, m, d, e, tz);
      yield [zoned(y, m, d, s, tz), end];
    }
  }
}

/** True when `ms` falls inside the service hours. */
export function isOpen(ms: number, hours: ServiceHours, tz: string): boolean {
  for (const [s, e] of intervals(ms - 86_400_000, hours, tz, 3)) if (ms >= s && ms < e) return true;
  return false;
}

/** `ms` itself when the hours are open then, else when they next open. */
export function nextOpening(ms: number, hours: ServiceHours, tz: string): number {
  for (const [s, e] of intervals(ms - 86_400_000, hours, tz)) {
    if (e <= ms) continue;
    return Math.max(s, ms);
  }
  return Infinity;
}

/** The moment `seconds` of service hours have passed since `startMs` (the service clock's deadline). */
export function addServiceSeconds(startMs: number, seconds: number, hours: ServiceHours, tz: string): number {
  let left = seconds * 1000;
  for (const [s, e] of intervals(startMs - 86_400_000, hours, tz)) {
    if (e <= startMs) continue;
    const from = Math.max(s, startMs);
    if (from + left <= e) return from + left;
    left -= e - from;
  }
  return Infinity;
}

/** Seconds of service hours between `a` and `b` (a response time counted as the clock counts it). */
export function serviceSecondsBetween(a: number, b: number, hours: ServiceHours, tz: string): number {
  if (b <= a) return 0;
  let total = 0;
  for (const [s, e] of intervals(a - 86_400_000, hours, tz)) {
    if (s >= b) break;
    if (e <= a) continue;
    total += Math.min(e, b) - Math.max(s, a);
  }
  return Math.round(total / 1000);
}

const hhmm = (min: number) => `${String(Math.floor(min / 60)).padStart(2, '0')}:${String(min % 60).padStart(2, '0')}`;

/** The hours as customers read them, e.g. 周一至周五 09:00-18:00. */
export function describeServiceHours(hours: ServiceHours): string {
  return hours.parts
    .map((p) => `${p.from === p.to ? DAY_NAMES_ZH[p.from] : `${DAY_NAMES_ZH[p.from]}至${DAY_NAMES_ZH[p.to]}`} ${hhmm(p.start)}-${hhmm(p.end)}`)
    .join('，');
}
