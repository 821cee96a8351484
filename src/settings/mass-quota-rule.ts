import { z } from 'zod';

/**
 * WeCom's mass-message (群发) quota per customer [D:92135, updated 2025-11]: by default as many corp mass messages
 * per calendar month as the month has days; admins may tighten it to 7 per week or 1 per day; company and member
 * mass messages share it. A customer over it is skipped (status 3 in the send result). The rule is configurable
 * (MASS_MESSAGE_CAP) because admins change it.
 */
export type MassQuotaRule = { per: 'days-of-month' } | { per: 'month' | 'week' | 'day'; n: number };

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
