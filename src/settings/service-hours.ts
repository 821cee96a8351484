/**
 * SERVICE_HOURS as written: when people serve customers, e.g. `Mon-Fri 09:00-18:00` or
 * `Mon-Fri 09:00-12:00, Mon-Fri 13:00-18:00, Sat 10:00-16:00` (days Mon…Sun, a day range with `-` may wrap, e.g.
 * `Fri-Mon`; times HH:MM, `24:00` allowed as an end; a time range does not cross midnight). What the service clock
 * does with them: src/domain/kf/service-hours.ts.
 */

const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;

/** Parsed service hours: for each weekday (0 = Monday) its open intervals in minutes of the day, [start, end). */
export interface ServiceHours {
  text: string;
  days: Array<Array<[number, number]>>;
  parts: Array<{ from: number; to: number; start: number; end: number }>;
}

const PART = /^([A-Za-z]{3})(?:\s*-\s*([A-Za-z]{3}))?\s+(\d{2}):(\d{2})\s*-\s*(\d{2}):(\d{2})$/;

/** SERVICE_HOURS when unset. */
export const DEFAULT_SERVICE_HOURS = 'Mon-Fri 09:00-18:00';

/** Parses SERVICE_HOURS; a string describing the problem when it is not valid. */
export function parseServiceHours(text: string): ServiceHours | string {
  const days: Array<Array<[number, number]>> = DAYS.map(() => []);
  const parts: ServiceHours['parts'] = [];
  const raw = text.split(',').map((p) => p.trim());
  if (!raw.some(Boolean)) return 'is empty; e.g. "Mon-Fri 09:00-18:00"';
  for (const part of raw) {
    const m = PART.exec(part);
    if (!m) return `"${part}" is not like "Mon-Fri 09:00-18:00" (days Mon…Sun, times HH:MM)`;
    const dayOf = (d: string) => DAYS.findIndex((x) => x.toLowerCase() === d.toLowerCase());
    const from = dayOf(m[1]!);
    const to = m[2] ? dayOf(m[2]) : from;
    if (from < 0 || to < 0) return `"${part}": days are Mon, Tue, Wed, Thu, Fri, Sat, Sun`;
    const [h1, m1, h2, m2] = [m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number];
    if (h1 > 23 || m1 > 59 || h2 > 24 || m2 > 59 || (h2 === 24 && m2 !== 0)) return `"${part}": not a time of day (00:00 to 24:00)`;
    const start = h1 * 60 + m1;
    const end = h2 * 60 + m2;
    if (start >= end) return `"${part}": the end must be after the start (a range does not cross midnight: split it in two parts)`;
    parts.push({ from, to, start, end });
    for (let d = from; ; d = (d + 1) % 7) {
      days[d]!.push([start, end]);
      if (d === to) break;
    }
  }
  for (const list of days) {
    list.sort((a, b) => a[0] - b[0]);
    // Overlapping parts are merged.
    for (let i = 1; i < list.length; ) {
      if (list[i]![0] <= list[i - 1]![1]) {
        list[i - 1]![1] = Math.max(list[i - 1]![1], list[i]![1]);
        list.splice(i, 1);
      } else i++;
    }
  }
  return { text, days, parts };
}
