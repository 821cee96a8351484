import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { BotContext } from '../../../context.js';
import { changeTags, distinctTags, splitTagName, tagsFromNames, tagsInBoth } from '../../../domain/leads/change-tags.js';
import { resolveLeadId } from '../../../domain/leads/query.js';
import { listPauses, pause, resume } from '../../../domain/pause/pauses.js';
import { gradeBoard } from '../../../domain/reports/grade-board.js';
import { cachedSequenceStats } from '../../../domain/reports/sequence-stats-cache.js';
import { Lead, splitLeadId } from '../../../store/models/lead.js';
import { PAUSE_KINDS } from '../../../store/models/pause.js';
import { ApiError, apiRoute, noLead } from '../api-route.js';
import { actorField as actor } from '../actor-field.js';

const counts = z.object({ S: z.number(), A: z.number(), B: z.number(), C: z.number() });
const tag = z
  .string()
  .trim()
  .min(1)
  .max(61)
  // WeCom refuses a group or tag name that is empty or over 30 characters (add_corp_tag [D:92117]).
  .refine((t) => splitTagName(t).every((p) => p.length > 0 && [...p].length <= 30), { message: 'a tag group and a tag name are 1-30 characters each', params: { zh: '标签组名和标签名各 1–30 个字' } })
  .describe('`group/name`, or a bare name (the existing tag of that name when one group has it, else in the group 渠道); a name that is one existing tag\'s but for full-width forms (`重点客户(华东)`, `重点客户（华东）`) is that tag');

/** What POST /pauses pauses: a campaign has its own routes, which check its key and its state (campaigns.ts). */
const pauseKind = z.enum(['lead', 'sequence', 'channel'], {
  errorMap: () => ({ message: 'must be lead, sequence or channel (a campaign: POST /admin/api/campaigns/<key>/pause or /resume)' }),
});

/** Routes behind the dashboard's pages: grades, sequences, tags, pauses. */
export function boardRoutes(ctx: BotContext) {
  return [
    apiRoute({
      method: 'get',
      path: '/grades',
      tag: 'grades',
      summary: 'Grades overall and per channel, and the S and A leads waiting for follow-up',
      query: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) }),
      response: z.object({ overall: counts, channels: z.array(counts.extend({ channel: z.string() })), waiting: z.array(z.record(z.string(), z.unknown())) }),
      handler: ({ query }) => gradeBoard(ctx.leadIndex, { limit: query.limit }),
    }),
    apiRoute({
      method: 'get',
      path: '/sequences',
      tag: 'sequences',
      summary: 'Each sequence: enrollments by status, and per step what was sent, failed, clicked, replied and stopped (computed at most every SEQUENCE_STATS_MAX_AGE_SECONDS; asOf says when)',
      response: z.array(z.object({ key: z.string(), name: z.string(), kind: z.enum(['marketing', 'service']).describe('service: for customers, entered on becoming one'), asOf: z.date(), enrollments: z.record(z.string(), z.number()), steps: z.array(z.record(z.string(), z.union([z.number(), z.string(), z.boolean()]))) })),
      handler: () => cachedSequenceStats(ctx),
    }),
    apiRoute({
      method: 'post',
      path: '/leads/:id/tags',
      tag: 'leads',
      summary: 'Adds and removes corp tags on a lead, in WeCom (mark_tag) and on the lead',
      params: z.object({ id: z.string().min(1) }),
      body: z.object({ add: z.array(tag).max(20).default([]), remove: z.array(tag).max(20).default([]), actor }).strict().refine((b) => b.add.length + b.remove.length > 0, { message: 'give tags to add or to remove', params: { zh: '请给出要加或要去掉的标签' } }),
      response: z.object({
        added: z.array(z.string()),
        removed: z.array(z.string()),
        unknown: z.array(z.string()).describe('tags to remove that no corp tag has'),
        owners: z.array(z.string()).describe('the owners the tags were marked for'),
        failed: z.array(z.object({ userId: z.string(), errcode: z.number() })).describe('owners WeCom refused (e.g. 84061: no relationship)'),
      }),
      errors: { 409: 'nobody follows the customer (no active owner): WeCom has no relationship to tag' },
      handler: async ({ params, body }) => {
        const id = resolveLeadId(params.id, ctx.corpId);
        const ref = splitLeadId(id);
        if (!ref || !(await Lead.exists({ _id: id }))) throw noLead(params.id);
        const add = distinctTags(await tagsFromNames(body.add));
        const remove = distinctTags(await tagsFromNames(body.remove));
        const name = (t: { group: string; name: string }) => `${t.group}/${t.name}`;
        const both = tagsInBoth(add, remove);
        if (both.length) throw new ApiError(400, { zh: `${both.map(name).join('、')}：既在要加的标签里，又在要去掉的标签里；每个标签只写一处`, en: `${both.map(name).join(', ')}: both in add and in remove; give each tag once` });
        const r = await changeTags(ctx, ref, { add, remove }, { actor: body.actor, sourceKey: `tags|api|${Date.now()}|${randomBytes(3).toString('hex')}` });
        // WeCom tags a customer per relationship [D:92117]: with nobody following the customer there is nothing to mark.
        if (!r.nothing && !r.marked.length && !r.failed.length) throw new ApiError(409, { zh: `线索 ${params.id} 没有在跟进的负责人：企业微信无法给这位客户打标签`, en: `lead ${params.id} has no active owner: WeCom cannot tag the customer` });
        const unknown = new Set(r.unknown.map(name));
        const done = r.marked.length > 0;
        return {
          added: done ? add.map(name) : [],
          removed: done ? remove.map(name).filter((t) => !unknown.has(t)) : [],
          unknown: [...unknown],
          owners: r.marked,
          failed: r.failed,
        };
      },
    }),
    apiRoute({
      method: 'get',
      path: '/pauses',
      tag: 'pauses',
      summary: 'What staff paused: leads, sequences and channels that get no nurture or campaign message',
      response: z.array(z.object({ kind: z.enum(PAUSE_KINDS), target: z.string(), by: z.string(), reason: z.string().nullable(), at: z.union([z.date(), z.string()]) })),
      handler: async () => (await listPauses()).map((p) => ({ kind: p.kind, target: p.target, by: p.by, reason: p.reason ?? null, at: p.at })),
    }),
    apiRoute({
      method: 'post',
      path: '/pauses',
      tag: 'pauses',
      summary: 'Pauses (or, with resume: true, resumes) a lead, a sequence or a channel; an enrollment keeps its place',
      body: z
        .object({ kind: pauseKind, target: z.string().min(1).max(128), resume: z.boolean().default(false), reason: z.string().max(500).optional(), actor })
        .strict()
        .refine((b) => b.kind !== 'sequence' || ctx.sequences.has(b.target), { message: 'no such sequence', path: ['target'], params: { zh: '没有这个培育序列' } })
        .refine((b) => b.kind !== 'channel' || ctx.channels.get(b.target), { message: 'no such channel', path: ['target'], params: { zh: '没有这个渠道' } }),
      response: z.object({ changed: z.boolean() }),
      errors: { 404: 'no such lead (an unknown sequence or channel is a 400 naming target)' },
      handler: async ({ body }) => {
        const target = body.kind === 'lead' ? resolveLeadId(body.target, ctx.corpId) : body.target;
        if (body.kind === 'lead' && !(await Lead.exists({ _id: target }))) throw noLead(body.target);
        const t = { kind: body.kind, target };
        return { changed: body.resume ? await resume(ctx, t, { actor: body.actor }) : await pause(ctx, t, { actor: body.actor, reason: body.reason }) };
      },
    }),
  ];
}
