import type { QuietHours } from '../../content/sequences.js';

const MINUTE = 60_000;
const DAY_MINUTES = 1440;
type Parts = { y: string; m: string; d: string; minutes: number };
const formatters = new Map<string, Intl.DateTimeFormat>();
/** The last minute asked for, per time zone: every step of a busy minute asks the same (formatToParts is slow). */
const lastMinute = new Map<string, { minute: number; parts: Parts }>();

function parts(ms: number, tz: string): Parts {
  const minute = Math.floor(ms / MINUTE);
  const cached = lastMinute.get(tz);
  if (cached?.minute === minute) return cached.parts;
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });
    formatters.set(tz, f);
  }
  const p = Object.fromEntries(f.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  const out = { y: p.year!, m: p.month!, d: p.day!, minutes: Number(p.hour) * 60 + Number(p.minute) };
  lastMinute.set(tz, { minute, parts: out });
  return out;
}

const toMinutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** The calendar day (YYYY-MM-DD) of `ms` in `tz`. */
export function localDay(ms: number, tz: string): string {
  const { y, m, d } = parts(ms, tz);
  return `${y}-${m}-${d}`;
}

/** The calendar month (YYYY-MM) of `ms` in `tz`. */
export function localMonth(ms: number, tz: string): string {
  return localDay(ms, tz).slice(0, 7);
}

/** True when `ms` falls inside the quiet hours (a window may wrap midnight, e.g. 21:00–09:00). */
export function inQuietHours(ms: number, quiet: QuietHours): boolean {
  const now = parts(ms, quiet.timezone).minutes;
  const start = toMinutes(quiet.start);
  const end = toMinutes(quiet.end);
  if (start === end) return false;
  return start < end ? now >= start && now < end : now >= start || now < end;
}

/**
 * The first moment at or after `ms` outside the quiet hours: `ms` itself, or the start of the minute the quiet
 * hours end, in their time zone. (Across a daylight-saving change the result is re-checked once.)
 */
export function nextAllowedTime(ms: number, quiet: QuietHours | undefined): number {
  if (!quiet) return ms;
  let t = ms;
  for (let i = 0; i < 2 && inQuietHours(t, quiet); i++) {
    const now = parts(t, quiet.timezone).minutes;
    const wait = (toMinutes(quiet.end) - now + DAY_MINUTES) % DAY_MINUTES || DAY_MINUTES;
    t = t - (t % MINUTE) + wait * MINUTE;
  }
  return t;
}

/** The start (00:00) of the day after `ms`'s day in `tz`. */
export function startOfNextDay(ms: number, tz: string): number {
  const now = parts(ms, tz).minutes;
  const t = ms - (ms % MINUTE) + (DAY_MINUTES - now) * MINUTE;
  // A day of 23 or 25 hours (a daylight saving change) lands an hour off midnight: moved onto it, unless that zone has
  // no midnight that day (clocks going from 23:59 to 01:00), when its first minute is the day's start.
  const off = parts(t, tz).minutes;
  if (off === 0) return t;
  const fixed = off < DAY_MINUTES / 2 ? t - off * MINUTE : t + (DAY_MINUTES - off) * MINUTE;
  return fixed > ms && parts(fixed, tz).minutes === 0 ? fixed : t;
}
