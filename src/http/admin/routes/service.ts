import { z } from 'zod';
import type { BotContext } from '../../../context.js';
import { addDays } from '../../../domain/commands/period.js';
import { serviceStats } from '../../../domain/kf/stats.js';
import { waitingCustomers, waitingLevel } from '../../../domain/leads/lead-index.js';
import { Lead } from '../../../store/models/lead.js';
import { apiRoute } from '../api-route.js';
import { queryDay, resolvePeriodQuery } from '../period-query.js';

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
const date = z.union([z.date(), z.string()]);
const breach = z.object({
  lead: z.string(),
  name: z.string().nullable(),
  servicer: z.string().nullable(),
  channel: z.string().nullable(),
  startedAt: date,
  repliedAt: date,
  serviceSeconds: z.number(),
  targetSeconds: z.number(),
});
const waiting = z.object({
  id: z.string(),
  name: z.string().nullable(),
  externalUserId: z.string(),
  grade: z.string(),
  stage: z.string(),
  channel: z.string().nullable(),
  owners: z.array(z.object({ userId: z.string(), status: z.string() }).passthrough()),
  since: date.describe('the first message no person has answered yet'),
  waitedSeconds: z.number().describe('wall-clock seconds since then'),
  excerpt: z.string(),
  targetSeconds: z.number().describe('the reply target of the lead\'s grade, in service hours'),
  firstDue: date,
  level: z.number().describe('0 within the target, 1 past it (servicer or owner told), 2 past twice it (ops group told)'),
  servicer: z.string().nullable(),
});

/** The service (微信客服 response time) route of the admin API. */
export function serviceRoutes(ctx: BotContext) {
  return [
    apiRoute({
      method: 'get',
      path: '/service',
      tag: 'service',
      summary: 'First-response times of 微信客服 conversations started in a period: median and 90th percentile per servicer and per channel',
      query: z.object({
        from: queryDay.optional().describe('first day (OPS_TIMEZONE), default 6 days before `to`; a period is at most 366 days'),
        to: queryDay.optional().describe('last day, inclusive, default today'),
      }),
      response: z.object({ from: z.string(), to: z.string(), total: z.object(stats), servicers: z.array(group), channels: z.array(group), breaches: z.array(breach) }),
      handler: async ({ query }) => {
        const tz = ctx.config.OPS_TIMEZONE;
        const { from, to } = resolvePeriodQuery(query, tz, 7, 366);
        // Counted, not stepped until past `to`: the day after 9999-12-31 has no YYYY-MM-DD form to compare with.
        const count = Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000) + 1;
        const days = Array.from({ length: count }, (_, i) => addDays(from, i));
        const s = await serviceStats(tz, days);
        // The customers' names, by primary key (20 at most).
        const names = await Promise.all(s.breaches.map((b) => Lead.findById(b.lead, { name: 1 }).lean()));
        return { from, to, ...s, breaches: s.breaches.map((b, i) => ({ ...b, name: names[i]?.name ?? null })) };
      },
    }),
    apiRoute({
      method: 'get',
      path: '/service/waiting',
      tag: 'service',
      summary: 'Customers waiting for a person\'s answer in 微信客服 now (a service clock runs), the longest waiting first (at most 200 listed)',
      response: z.object({
        total: z.number(),
        late: z.number().describe('how many of all the waiting customers (not only those listed) are past their target (level 1 or 2)'),
        items: z.array(waiting),
      }),
      handler: async () => {
        const now = Date.now();
        const { items, total, late } = await waitingCustomers(ctx.leadIndex, now);
        return {
          total,
          late,
          items: items.map((r) => ({
            id: r.id,
            name: r.name,
            externalUserId: r.externalUserId,
            grade: r.grade,
            stage: r.stage,
            channel: r.channel,
            owners: r.owners,
            since: r.waiting!.since,
            waitedSeconds: Math.max(0, Math.round((now - new Date(r.waiting!.since).getTime()) / 1000)),
            excerpt: r.waiting!.excerpt,
            targetSeconds: r.waiting!.targetSeconds,
            firstDue: r.waiting!.firstDue,
            level: waitingLevel(r.waiting!, now),
            servicer: r.waiting!.servicer,
          })),
        };
      },
    }),
  ];
}
