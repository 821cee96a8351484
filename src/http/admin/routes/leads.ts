import { z } from 'zod';
import type { BotContext } from '../../../context.js';
import { pinGrade } from '../../../domain/leads/grade.js';
import { findLeads } from '../../../domain/leads/lead-index.js';
import { decodeCursor, LEAD_SORTS, leadDetail, resolveLeadId, summarize } from '../../../domain/leads/query.js';
import { moveStage, type StageMoveOut } from '../../../domain/leads/stage.js';
import type { WordBook } from '../../../domain/leads/timeline-words.js';
import { CampaignRecord } from '../../../store/models/campaign.js';
import { GRADES, STAGES } from '../../../domain/vocabulary.js';
import { Lead, splitLeadId } from '../../../store/models/lead.js';
import { ApiError, apiRoute, noLead } from '../api-route.js';
import { actorField as actor } from '../actor-field.js';

const date = z.union([z.date(), z.string()]).nullable();
const leadSummary = z.object({
  id: z.string().describe('corp id and external user id, `<corp>:<external_userid>`'),
  externalUserId: z.string(),
  name: z.string().nullable(),
  corpName: z.string().nullable(),
  channel: z.string().nullable(),
  stage: z.enum(STAGES),
  grade: z.enum(GRADES),
  gradePinned: z.boolean(),
  score: z.number(),
  role: z.string().nullable(),
  industry: z.string().nullable(),
  owners: z.array(z.object({ userId: z.string(), status: z.string(), remark: z.string().nullable() })),
  tags: z.array(z.object({ group: z.string(), name: z.string() })),
  addedAt: date,
  lastTouchAt: date,
});
const words = z.object({ zh: z.string(), en: z.string() });

/** The names a lead's timeline is told in: channels, sequences, campaigns (files and the API's), intents, case studies. */
async function wordBook(ctx: BotContext): Promise<WordBook> {
  const campaigns = new Map((await CampaignRecord.find({}, { name: 1 }).lean()).map((c) => [String(c._id), c.name as string]));
  const intents = new Map(ctx.replies.intents.map((i) => [i.key, i.class]));
  const cases = new Map(ctx.cases.map((c) => [c.slug, c.title]));
  return {
    channel: (k) => ctx.channels.get(k)?.name,
    sequence: (k) => ctx.sequences.get(k)?.name,
    campaign: (k) => campaigns.get(k),
    intentClass: (k) => intents.get(k),
    caseTitle: (s) => cases.get(s),
  };
}

const idParams = z.object({ id: z.string().min(1).describe('a lead id, or an external user id of the bot\'s corp') });

/** The lead routes of the admin API. */
export function leadRoutes(ctx: BotContext) {
  const find = async (raw: string) => {
    const id = resolveLeadId(raw, ctx.corpId);
    const ref = splitLeadId(id);
    if (!ref || !(await Lead.exists({ _id: id }))) throw noLead(raw);
    return { id, ref };
  };
  return [
    apiRoute({
      method: 'get',
      path: '/leads',
      tag: 'leads',
      summary: 'Leads, newest touch first (or newest added, or best score), filtered like a segment',
      query: z.object({
        q: z.string().max(100).optional().describe('matches name, an owner\'s remark, company or the external user id'),
        stage: z.enum(STAGES).optional(),
        grade: z.enum(GRADES).optional(),
        channel: z.string().max(30).optional(),
        tag: z.string().max(64).optional().describe('`group/name`, or a tag name'),
        owner: z.string().max(64).optional().describe('an owner\'s userid'),
        sort: z.enum(LEAD_SORTS).default('lastTouch').describe('grade: S, A, B, C, by score within a grade'),
        limit: z.coerce.number().int().min(1).max(200).default(50),
        cursor: z
          .string()
          .max(512)
          .optional()
          .refine((c) => {
            if (!c) return true;
            try {
              decodeCursor(c);
              return true;
            } catch {
              return false;
            }
          }, { message: 'is not a cursor from this API', params: { zh: '不是本 API 给出的游标' } })
          .describe("the `next` of the page before, asked with the same sort (a cursor of another sort is a 400)"),
      }),
      response: z.object({
        items: z.array(leadSummary),
        next: z.string().nullable().describe('the cursor of the next page, null at the end'),
        total: z.number().nullable().describe('how many leads match (null while the lead index is being built)'),
      }),
      handler: ({ query }) => {
        // A page follows the order it was made in: a cursor of another order would give a page from the wrong place.
        const madeFor = query.cursor ? decodeCursor(query.cursor).sort : null;
        if (madeFor && madeFor !== query.sort) {
          throw new ApiError(400, {
            zh: `cursor：这是 sort=${madeFor} 的游标，不是 sort=${query.sort} 的；请不带游标从 sort=${query.sort} 的第一页读起`,
            en: `cursor: it is a cursor of sort=${madeFor}, not sort=${query.sort}; ask the first page of sort=${query.sort} without one`,
          });
        }
        return findLeads(ctx.leadIndex, query);
      },
    }),
    apiRoute({
      method: 'get',
      path: '/leads/:id',
      tag: 'leads',
      summary: 'One lead: profile, stage, grade and its reasons, owners, timeline, enrollments, deliveries',
      params: idParams,
      response: leadSummary.extend({
        reached: z.record(z.string(), date),
        scoreReasons: z.array(z.object({ reason: z.string(), points: z.number(), label: z.object({ zh: z.string(), en: z.string() }).describe('the reason as the ops chat names it, in each language') })),
        timeline: z.array(z.object({
          at: date,
          type: z.string(),
          detail: z.record(z.string(), z.unknown()),
          label: words.nullable().describe('the detail in words, in each language (a customer message\'s intent by its name, a stage move, why a welcome was skipped), without internal ids; null for an entry without words'),
        })),
        enrollments: z.array(z.record(z.string(), z.unknown())),
        deliveries: z.array(z.object({
          key: z.string(),
          kind: z.string(),
          via: z.string().nullable(),
          status: z.string(),
          at: date,
          step: z.number().nullable(),
          caseSlug: z.string().nullable(),
          reason: z.string().nullable(),
          clicks: z.number(),
          label: words.describe('what was sent, in each language: its kind, sequence and step, intent and case study\'s title'),
          reasonLabel: words.nullable().describe('`reason` in words, in each language (WeCom\'s own message as it is); null without a reason'),
        }).passthrough()),
      }),
      handler: async ({ params }) => {
        const detail = await leadDetail(resolveLeadId(params.id, ctx.corpId), ctx.sequences.keys(), await wordBook(ctx));
        if (!detail) throw noLead(params.id);
        return detail;
      },
    }),
    apiRoute({
      method: 'post',
      path: '/leads/:id/stage',
      tag: 'leads',
      summary: 'Moves a lead to any stage, with a reason (on its timeline); the enrollments the new stage stops end, and a new customer enters its service sequence',
      params: idParams,
      body: z.object({ stage: z.enum(STAGES), reason: z.string().trim().min(1, 'say why').max(500), actor }).strict(),
      response: z.object({
        lead: leadSummary,
        change: z.object({ from: z.enum(STAGES), to: z.enum(STAGES) }).nullable(),
        serviceEnrolled: z.boolean().describe('the lead entered its service sequence now (it became a customer, or, asked again, an enrollment missed before was made)'),
      }),
      handler: async ({ params, body }) => {
        const { id, ref } = await find(params.id);
        const out: StageMoveOut = {};
        const change = await moveStage(ctx, ref, body.stage, { by: 'staff', source: 'api', actor: body.actor, reason: body.reason }, out);
        return { lead: summarize((await Lead.findById(id).lean())!), change, serviceEnrolled: out.serviceEnrolled === true };
      },
    }),
    apiRoute({
      method: 'post',
      path: '/leads/:id/grade',
      tag: 'leads',
      summary: 'Pins a lead\'s grade (it wins over the score until unpinned), or unpins it with "auto"',
      params: idParams,
      body: z.object({ grade: z.enum([...GRADES, 'auto']), reason: z.string().trim().max(500).optional(), actor }).strict(),
      response: z.object({ lead: leadSummary }),
      handler: async ({ params, body }) => {
        const { ref } = await find(params.id);
        const doc = await pinGrade(ctx, ref, body.grade, { actor: body.actor, reason: body.reason });
        return { lead: summarize(doc!.toObject() as never) };
      },
    }),
  ];
}
