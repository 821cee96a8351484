import { z } from 'zod';
import type { BotContext } from '../../../context.js';
import { campaignSchema } from '../../../content/campaigns.js';
import { CampaignError } from '../../../domain/campaigns/campaign-error.js';
import { campaignOf, createCampaign } from '../../../domain/campaigns/catalog.js';
import { cancelCampaign, launchCampaign, pauseCampaign, resumeCampaign } from '../../../domain/campaigns/control.js';
import { dryRun } from '../../../domain/campaigns/dry-run.js';
import { campaignDetail, campaignList } from '../../../domain/campaigns/overview.js';
import { syncSchedule } from '../../../domain/campaigns/schedule.js';
import { ApiError, apiRoute } from '../api-route.js';
import { actorField as actor } from '../actor-field.js';

const date = z.union([z.date(), z.string()]).nullable();
const keyParams = z.object({ key: z.string().min(1).max(40).describe('the campaign\'s key') });
const counts = z.record(z.string(), z.number());
const summary = z.object({
  key: z.string(),
  name: z.string(),
  source: z.enum(['file', 'api']),
  status: z.string(),
  paused: z.boolean(),
  draft: z.boolean(),
  kind: z.string(),
  schedule: z.object({ at: z.string().optional(), cron: z.string().optional(), timezone: z.string().optional() }),
  nextRunAt: date,
  lastRun: z.object({ id: z.string(), status: z.string(), scheduledFor: date }).nullable(),
});
const results = z.object({
  targeted: z.number(),
  excluded: counts,
  byRoute: z.object({ kf: z.number(), mass: z.number(), owner: z.number() }),
  sent: z.number(),
  reminded: z.number(),
  waitingForOwner: z.number(),
  confirmed: z.number(),
  unconfirmed: z.number(),
  withdrawn: z.number().describe('in a mass message the owner had not sent when the campaign was cancelled (the task was withdrawn)'),
  notAFriend: z.number(),
  overCap: z.number(),
  failed: z.number(),
  unknown: z.number(),
  skipped: z.number(),
  deferred: z.number(),
  enrolled: z.number(),
  notEnrolled: z.number(),
  owners: z.array(z.object({ owner: z.string(), tasks: z.number(), customers: z.number(), reminders: z.number() })),
  groupClicks: z.number(),
});
const run = z.object({
  id: z.string(),
  trigger: z.string(),
  status: z.string(),
  reason: z.string().nullable(),
  scheduledFor: date,
  startedAt: date,
  finishedAt: date,
  pass: z.number(),
  nextAt: date,
  results,
  followUp: z.record(z.string(), z.unknown()).nullable().describe('replies, clicks and stage moves in the 7 days after (counted a day after and at 7 days; `final`, else `finalAt`: when the final count is due, later for a lead reached late)'),
});

/** What each kind of refusal is, in Chinese (the English is the refusal's own message). */
const REFUSED_ZH = {
  invalid: '群发定义有误',
  conflict: '这个群发 key 已被占用',
  not_found: '没有这个群发',
  state: '群发当前的状态不允许这样做（已暂停、已取消、是草稿，或一次性群发已运行过）',
} as const;

const noCampaign = (key: string) => new ApiError(404, { zh: `没有群发 ${key}`, en: `no campaign ${key}` });

/** A refused campaign operation as an API error. */
function apiError(err: unknown): never {
  if (!(err instanceof CampaignError)) throw err;
  const status = { invalid: 400, conflict: 409, not_found: 404, state: 409 }[err.code];
  const fields = [...new Set(err.issues.map((i) => i.path).filter(Boolean))];
  const zh = `${REFUSED_ZH[err.code]}${fields.length ? `：${fields.join('、')}` : ''}`;
  throw new ApiError(status, { zh, en: err.message }, err.issues.length ? err.issues.map((i) => ({ in: 'body', path: i.path, message: i.message })) : undefined);
}

/** The campaign routes of the admin API. */
export function campaignRoutes(ctx: BotContext) {
  const existing = async (key: string) => {
    const c = await campaignOf(key);
    if (!c) throw noCampaign(key);
    return c;
  };
  return [
    apiRoute({
      method: 'get',
      path: '/campaigns',
      tag: 'campaigns',
      summary: 'Every campaign (from templates/campaigns/ and from this API) with its next run and its last run',
      response: z.array(summary),
      handler: () => campaignList(ctx.config.OPS_TIMEZONE),
    }),
    apiRoute({
      method: 'post',
      path: '/campaigns',
      tag: 'campaigns',
      summary: 'Creates a campaign: a segment, content, and a schedule ({at} or {cron, timezone}); its key must be new',
      // Who created it is kept on its record (createdBy, shown with the campaign), as the other routes keep their actor.
      body: campaignSchema.extend({ actor }),
      response: summary,
      handler: async ({ body: { actor: by, ...definition } }) => {
        const c = await createCampaign(ctx, definition, by).catch(apiError);
        ctx.log.info({ campaign: c.key, actor: by }, 'campaign created by staff');
        await syncSchedule(ctx, c.key);
        return (await campaignList(ctx.config.OPS_TIMEZONE)).find((x) => x.key === c.key)!;
      },
    }),
    apiRoute({
      method: 'get',
      path: '/campaigns/:key',
      tag: 'campaigns',
      summary: 'One campaign: its definition and its runs with their results (sent, waiting for owners, confirmed, …) and follow-up',
      params: keyParams,
      response: summary.extend({ definition: z.record(z.string(), z.unknown()), createdBy: z.string().nullable(), runs: z.array(run) }),
      handler: async ({ params }) => {
        const detail = await campaignDetail(params.key, 20, ctx.config.OPS_TIMEZONE);
        if (!detail) throw noCampaign(params.key);
        return detail;
      },
    }),
    apiRoute({
      method: 'post',
      path: '/campaigns/:key/dry-run',
      tag: 'campaigns',
      summary: 'What a run would do now, sending nothing: leads targeted, by route, excluded and why, deferred, tasks per owner, a sample of ten',
      params: keyParams,
      response: z.object({
        at: date,
        targeted: z.number(),
        byRoute: z.object({ kf: z.number(), mass: z.number(), owner: z.number(), enroll: z.number() }),
        skipped: z.number().describe('targeted leads with nothing to send: caseStudy: auto and no case study fits them'),
        excluded: counts,
        deferred: z.object({ dailyCap: z.number(), quietHours: z.number(), until: date }),
        owners: z.array(z.object({ owner: z.string(), tasks: z.number(), customers: z.number(), reminders: z.number() })),
        perLeadContent: z.boolean(),
        sample: z.array(z.object({ id: z.string(), name: z.string().nullable(), stage: z.string(), grade: z.string(), channel: z.string().nullable(), owner: z.string().nullable(), via: z.string() })),
      }),
      handler: async ({ params }) => dryRun(ctx, (await existing(params.key)).campaign),
    }),
    apiRoute({
      method: 'post',
      path: '/campaigns/:key/launch',
      tag: 'campaigns',
      summary: 'Runs the campaign now (a one-off campaign\'s only run, brought forward); once per minute however often it is pressed',
      params: keyParams,
      body: z.object({ actor }).strict().default({}),
      response: z.object({ run: z.object({ id: z.string(), status: z.string(), scheduledFor: date }), created: z.boolean() }),
      handler: async ({ params, body }) => {
        const { run: r, created } = await launchCampaign(ctx, params.key).catch(apiError);
        ctx.log.info({ campaign: params.key, run: r._id, actor: body.actor, created }, 'campaign launched by staff');
        return { run: { id: r._id, status: r.status, scheduledFor: r.scheduledFor }, created };
      },
    }),
    apiRoute({
      method: 'post',
      path: '/campaigns/:key/pause',
      tag: 'campaigns',
      summary: 'Pauses the campaign: its runs stop before their next send; runs due meanwhile are skipped',
      params: keyParams,
      body: z.object({ actor, reason: z.string().trim().max(500).optional() }).strict().default({}),
      response: z.object({ key: z.string(), paused: z.boolean(), changed: z.boolean() }),
      handler: async ({ params, body }) => ({ key: params.key, paused: true, ...(await pauseCampaign(ctx, params.key, body.actor, body.reason).catch(apiError)) }),
    }),
    apiRoute({
      method: 'post',
      path: '/campaigns/:key/resume',
      tag: 'campaigns',
      summary: 'Resumes a paused campaign: its runs go on where they stopped; nothing sent is sent again',
      params: keyParams,
      body: z.object({ actor }).strict().default({}),
      response: z.object({ key: z.string(), paused: z.boolean(), changed: z.boolean(), runs: z.number() }),
      handler: async ({ params, body }) => ({ key: params.key, paused: false, ...(await resumeCampaign(ctx, params.key, body.actor).catch(apiError)) }),
    }),
    apiRoute({
      method: 'post',
      path: '/campaigns/:key/cancel',
      tag: 'campaigns',
      summary: 'Cancels the campaign for good: no more runs; open runs stop before their next send, and mass-message tasks owners have not confirmed are withdrawn (nothing sent is undone)',
      params: keyParams,
      body: z.object({ actor }).strict().default({}),
      response: z.object({ key: z.string(), status: z.string(), changed: z.boolean(), runs: z.number(), withdrawn: z.number().describe('mass-message tasks withdrawn') }),
      handler: async ({ params, body }) => ({ key: params.key, status: 'cancelled', ...(await cancelCampaign(ctx, params.key, body.actor).catch(apiError)) }),
    }),
  ];
}
