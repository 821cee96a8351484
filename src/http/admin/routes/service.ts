import { z } from 'zod';
import type { BotContext } from '../../../context.js';
import { startOfLocalDay } from '../../../domain/kf/service-hours.js';
import { serviceStats } from '../../../domain/kf/stats.js';
import { localDay } from '../../../domain/nurture/clock.js';
import { apiRoute } from '../api-route.js';

const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be YYYY-MM-DD').refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)), 'is not a date');
const stats = {
  count: z.number(),
  medianSeconds: z.number().nullable(),
  p90Seconds: z.number().nullable(),
  medianWallSeconds: z.number().nullable(),
  p90WallSeconds: z.number().nullable(),
  overTarget: z.number(),
  overTwiceTarget: z.number(),
};
const group = z.object({ name: z.string(), ...stats });

/** The service (微信客服 response time) route of the admin API. */
export function serviceRoutes(ctx: BotContext) {
  return [
    apiRoute({
      method: 'get',
      path: '/service',
      tag: 'service',
      summary: 'First-response times of 微信客服 conversations started in a period: median and 90th percentile per servicer and per channel',
      query: z
        .object({
          from: day.optional().describe('first day (OPS_TIMEZONE), default 6 days before `to`'),
          to: day.optional().describe('last day, inclusive, default today'),
        })
        .refine((q) => !q.from || !q.to || q.from <= q.to, { message: 'from must not be after to', path: ['from'] }),
      response: z.object({ from: z.string(), to: z.string(), total: z.object(stats), servicers: z.array(group), channels: z.array(group) }),
      handler: async ({ query }) => {
        const tz = ctx.config.OPS_TIMEZONE;
        const to = query.to ?? localDay(Date.now(), tz);
        const from = query.from ?? localDay(Date.parse(`${to}T12:00:00Z`) - 6 * 86_400_000, 'UTC');
        const next = localDay(Date.parse(`${to}T12:00:00Z`) + 86_400_000, 'UTC');
        return { from, to, ...(await serviceStats(new Date(startOfLocalDay(from, tz)), new Date(startOfLocalDay(next, tz)))) };
      },
    }),
  ];
}
