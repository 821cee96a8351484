import { describe, expect, it } from 'vitest';
import { massQuotaPeriod, massQuotaRule } from '../../src/domain/delivery/mass-quota.js';

const at = (iso: string) => Date.parse(iso);

describe('the mass-message quota rule [D:92135]', () => {
  it('parses days/month (default), N/month, N/week and N/day, and refuses anything else', () => {
    expect(massQuotaRule.parse(undefined)).toEqual({ per: 'days-of-month' });
    expect(massQuotaRule.parse('4/month')).toEqual({ per: 'month', n: 4 });
    expect(massQuotaRule.parse('7/week')).toEqual({ per: 'week', n: 7 });
    expect(massQuotaRule.parse('1/day')).toEqual({ per: 'day', n: 1 });
    expect(massQuotaRule.safeParse('4 per month').success).toBe(false);
    expect(massQuotaRule.safeParse('days/week').success).toBe(false);
  });

  it('allows as many per month as the month has days, counted in China time', () => {
    const rule = { per: 'days-of-month' as const };
    expect(massQuotaPeriod(rule, at('2027-02-10T00:00:00Z'))).toEqual({ key: 'M2027-02', cap: 28 });
    expect(massQuotaPeriod(rule, at('2028-02-10T00:00:00Z'))).toEqual({ key: 'M2028-02', cap: 29 });
    // 16:30 UTC on Nov 30 is already December 1 in China.
    expect(massQuotaPeriod(rule, at('2026-11-30T16:30:00Z'))).toEqual({ key: 'M2026-12', cap: 31 });
  });

  it('names weeks by their Monday and days by their date', () => {
    // Sunday 2026-11-29 (China) belongs to the week of Monday 2026-11-23; Monday 2026-11-30 starts the next.
    expect(massQuotaPeriod({ per: 'week', n: 7 }, at('2026-11-29T10:00:00+08:00'))).toEqual({ key: 'W2026-11-23', cap: 7 });
    expect(massQuotaPeriod({ per: 'week', n: 7 }, at('2026-11-30T00:10:00+08:00'))).toEqual({ key: 'W2026-11-30', cap: 7 });
    expect(massQuotaPeriod({ per: 'day', n: 1 }, at('2026-11-28T23:59:00+08:00'))).toEqual({ key: 'D2026-11-28', cap: 1 });
  });
});
