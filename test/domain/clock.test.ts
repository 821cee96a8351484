import { describe, expect, it } from 'vitest';
import { inQuietHours, localDay, localMonth, nextAllowedTime, startOfNextDay } from '../../src/domain/nurture/clock.js';
import { parseDelay } from '../../src/settings/delay.js';

const quiet = { start: '21:00', end: '09:00', timezone: 'Asia/Shanghai' };
// 2026-11-22 is a Sunday; Asia/Shanghai is UTC+8 all year.
const sh = (hhmm: string, day = '2026-11-22') => Date.parse(`${day}T${hhmm}:00+08:00`);

describe('quiet hours', () => {
  it('knows a window that wraps midnight', () => {
    expect(inQuietHours(sh('20:59'), quiet)).toBe(false);
    expect(inQuietHours(sh('21:00'), quiet)).toBe(true);
    expect(inQuietHours(sh('03:00'), quiet)).toBe(true);
    expect(inQuietHours(sh('09:00'), quiet)).toBe(false);
  });

  it('pushes a due time inside quiet hours to the first allowed minute', () => {
    expect(nextAllowedTime(sh('22:17') + 12_345, quiet)).toBe(sh('09:00', '2026-11-23'));
    expect(nextAllowedTime(sh('06:30'), quiet)).toBe(sh('09:00'));
    expect(nextAllowedTime(sh('12:00') + 5_000, quiet)).toBe(sh('12:00') + 5_000);
    expect(nextAllowedTime(sh('12:00'), undefined)).toBe(sh('12:00'));
  });

  it('works in the sequence time zone, not the server one', () => {
    const ny = { start: '20:00', end: '08:00', timezone: 'America/New_York' };
    // 2026-11-22 23:00 Shanghai = 10:00 New York: allowed there.
    expect(nextAllowedTime(sh('23:00'), ny)).toBe(sh('23:00'));
    // 2026-11-23 10:00 Shanghai = 21:00 New York (EST, UTC-5): wait until 08:00 New York = 21:00 Shanghai.
    expect(nextAllowedTime(sh('10:00', '2026-11-23'), ny)).toBe(sh('21:00', '2026-11-23'));
  });
});

describe('calendar', () => {
  it('days and months in a time zone', () => {
    expect(localDay(Date.parse('2026-11-30T17:00:00Z'), 'Asia/Shanghai')).toBe('2026-12-01');
    expect(localMonth(Date.parse('2026-11-30T17:00:00Z'), 'Asia/Shanghai')).toBe('2026-12');
    expect(localDay(Date.parse('2026-11-30T15:00:00Z'), 'Asia/Shanghai')).toBe('2026-11-30');
    expect(startOfNextDay(sh('15:42') + 999, 'Asia/Shanghai')).toBe(sh('00:00', '2026-11-23'));
    // Days of 23 and 25 hours where clocks change (before the change): the next day still starts at its midnight.
    expect(startOfNextDay(Date.parse('2026-03-29T01:00:00+01:00'), 'Europe/Berlin')).toBe(Date.parse('2026-03-30T00:00:00+02:00'));
    expect(startOfNextDay(Date.parse('2026-10-25T01:00:00+02:00'), 'Europe/Berlin')).toBe(Date.parse('2026-10-26T00:00:00+01:00'));
    expect(startOfNextDay(Date.parse('2026-03-28T23:30:00+01:00'), 'Europe/Berlin')).toBe(Date.parse('2026-03-29T00:00:00+01:00'));
  });

  it('parses delays', () => {
    expect(parseDelay('1d')).toBe(86_400_000);
    expect(parseDelay('90s')).toBe(90_000);
    expect(parseDelay('2h')).toBe(7_200_000);
    expect(parseDelay('15m')).toBe(900_000);
    expect(parseDelay('1w')).toBeNull();
    expect(parseDelay('soon')).toBeNull();
  });
});
