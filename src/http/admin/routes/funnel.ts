import { z } from 'zod';
import type { BotContext } from '../../../context.js';
import { channelOverview } from '../../../domain/channels/overview.js';
import { funnel } from '../../../domain/funnel/funnel.js';
import { apiRoute } from '../api-route.js';
import { queryDay, resolvePeriodQuery } from '../period-query.js';

const counts = {
  added: z.number(),
  engaged: z.number(),
  qualified: z.number(),
  opportunity: z.number(),
  customer: z.number(),
  lost: z.number(),
  unsubscribed: z.number(),
  grades: z.object({ S: z.number(), A: z.number(), B: z.number(), C: z.number() }),
};
const funnelCounts = z.object({ ...counts, conversion: z.record(z.string(), z.number().nullable()) });

/** The funnel and channel routes of the admin API. */
export function funnelRoutes(ctx: BotContext) {
  return [
    apiRoute({
      method: 'get',
      path: '/funnel',
      tag: 'funnel',
      summary: 'The funnel per channel of the leads added in a period: how many reached each stage, lost, unsubscribed, grades',
      query: z.object({
        from: queryDay.optional().describe('first day (OPS_TIMEZONE), default 29 days before `to`'),
        to: queryDay.optional().describe('last day, inclusive, default today'),
        channel: z.string().max(30).optional(),
      }),
      response: z.object({
        from: z.string(),
        to: z.string(),
        channels: z.array(funnelCounts.extend({ channel: z.string() })),
        total: funnelCounts,
        roles: z.array(funnelCounts.extend({ role: z.string() })),
      }),
      handler: ({ query }) => {
        // Any length: the funnel reads its days' rollups by range (all time is a fair question).
        const { from, to } = resolvePeriodQuery(query, ctx.config.OPS_TIMEZONE, 30);
        return funnel({ from, to, channel: query.channel });
      },
    }),
    apiRoute({
      method: 'get',
      path: '/channels',
      tag: 'channels',
      summary: 'Every channel with its 联系我 QR code and its funnel since it started',
      response: z.array(
        z.object({
          key: z.string(),
          name: z.string(),
          source: z.enum(['templates', 'command']).describe('templates: templates/channels.yaml (or the built-in organic); command: created in chat (渠道 new)'),
          tags: z.array(z.object({ group: z.string(), name: z.string() })),
          welcome: z.boolean(),
          sequence: z.string().nullable(),
          owners: z.array(z.string()),
          cost: z.number().nullable(),
          qrCode: z.string().nullable(),
          configId: z.string().nullable(),
          syncedAt: z.union([z.date(), z.string()]).nullable(),
          kf: z
            .object({ scene: z.string(), openKfid: z.string().nullable(), url: z.string().nullable() })
            .nullable()
            .describe("the channel's 微信客服 link: the scene that attributes a customer to it; the account and URL once channels:sync made it"),
          counts: z.object(counts),
        }),
      ),
      handler: () => channelOverview(ctx.channels),
    }),
  ];
}
