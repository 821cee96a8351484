import { z } from 'zod';
import { isCronPattern } from '../cron-pattern.js';
import { isDay } from '../settings/calendar-day.js';
import { GRADES, ROLES, STAGES } from '../domain/vocabulary.js';
import type { CaseStudy } from './cases.js';
import { DEFAULT_TAG_GROUP, type ChannelCatalog } from './channels.js';
import { MAX_SPAN_MS, messageLink, messageText, quietHoursSchema, timezone, type Sequence } from './sequences.js';
import { parseDelay } from '../settings/delay.js';
import { loadKeyedFiles } from './yaml-file.js';

const key = z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'must be 1-40 characters of A-Z a-z 0-9 _ -');

/**
 * A point in time of a segment: a date (`2026-11-01`, 00:00 in the campaign's time zone), a time with its offset
 * (`2026-11-01T09:00:00+08:00`), or a span back from the run's time (`30d`, `12h`: "added in the last 30 days").
 */
const timeRef = z.string().refine(
  (v) => (parseDelay(v) ?? Infinity) <= MAX_SPAN_MS || isDay(v) || z.string().datetime({ offset: true }).safeParse(v).success,
  'must be a date that exists (2026-11-01), a time with its offset (2026-11-01T09:00:00+08:00) or a span back from the run (30d, 12h; at most 36500d)',
);

/** A tag as `group/name`; a bare name is in the group 渠道, as in channels.yaml. */
const tagList = z
  .array(z.string().min(1).max(61))
  .min(1)
  .transform((tags) => tags.map((t) => (t.includes('/') ? t : `${DEFAULT_TAG_GROUP}/${t}`)));

const sequenceKeys = z.union([key, z.array(key).min(1)]).transform((v) => (Array.isArray(v) ? v : [v]));

/** Who a campaign is for: a filter over leads (every field optional; all that are given must hold). */
export const segmentSchema = z
  .object({
    channels: z.array(key).min(1).optional().describe('leads whose first touch came through one of these channels'),
    tags: z
      .object({ all: tagList.optional(), any: tagList.optional(), none: tagList.optional() })
      .strict()
      .optional()
      .describe('`group/name` tags (a bare name is in 渠道): all of, any of, none of'),
    stages: z.array(z.enum(STAGES)).min(1).optional(),
    notStages: z.array(z.enum(STAGES)).min(1).optional(),
    grades: z.array(z.enum(GRADES)).min(1).optional(),
    industries: z.array(z.string().min(1)).min(1).optional(),
    roles: z.array(z.enum(ROLES)).min(1).optional(),
    addedAfter: timeRef.optional(),
    addedBefore: timeRef.optional(),
    lastTouchAfter: timeRef.optional(),
    lastTouchBefore: timeRef.optional(),
    inSequence: sequenceKeys.optional().describe('leads active in (any of) these sequences'),
    notInSequence: sequenceKeys.optional().describe('leads not active in any of these sequences'),
  })
  .strict();

/** What a campaign sends: text and/or a link, or the best unsent case study (with an optional text), or a sequence. */
export const contentSchema = z
  .object({
    text: messageText.optional(),
    link: messageLink.optional(),
    caseStudy: z.literal('auto').optional(),
    sequence: key.optional().describe('enroll the segment in this nurture sequence instead of sending a message'),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.sequence && (c.text || c.link || c.caseStudy)) ctx.addIssue({ code: 'custom', message: 'sequence: enrolls the segment; it goes alone, without text, link or caseStudy' });
    else if (!c.sequence && !c.text && !c.link && !c.caseStudy) ctx.addIssue({ code: 'custom', message: 'content needs text, link or caseStudy: auto (or sequence: <key>)' });
    if (c.link && c.caseStudy) ctx.addIssue({ code: 'custom', path: ['caseStudy'], message: 'a case study is a link of its own: use link or caseStudy, not both' });
  });

/** When a campaign runs: once `at` an ISO time, or on a `cron` pattern in a time zone. */
export const scheduleSchema = z
  .object({
    at: z.string().datetime({ offset: true, message: 'must be an ISO time with its offset, e.g. 2026-12-01T10:00:00+08:00' }).optional(),
    cron: z.string().refine(isCronPattern, 'is not a cron pattern like "0 10 * * 1"').optional(),
    timezone: timezone.optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (!s.at === !s.cron) ctx.addIssue({ code: 'custom', message: 'give either at (one run) or cron (with timezone)' });
    if (s.at && s.timezone) ctx.addIssue({ code: 'custom', path: ['timezone'], message: 'at carries its own offset; timezone goes with cron' });
  });


/** A campaign as ops staff write it (templates/campaigns/<key>.yaml) or post it (POST /admin/api/campaigns). */
export const campaignSchema = z
  .object({
    key,
    name: z.string().trim().min(1).max(100),
    /** marketing: existing customers never get it; service: customers are included (a notice, not marketing). */
    kind: z.enum(['marketing', 'service']).default('marketing'),
    segment: segmentSchema.default({}),
    content: contentSchema,
    schedule: scheduleSchema,
    /** Default: CAMPAIGN_QUIET_HOURS (in OPS_TIMEZONE). Without a timezone, in the campaign's own. */
    quietHours: quietHoursSchema.optional(),
    /** How long leads held back by a cap keep being tried, from the run's start (default 3d). */
    window: z
      .string()
      .default('3d')
      .refine((w) => (parseDelay(w) ?? 0) >= 60_000 && (parseDelay(w) ?? 0) <= MAX_SPAN_MS, 'must be a span like 12h or 3d (at least 1m, at most 36500d)'),
    /** Shown to the owners who confirm the mass message (an app message with each task). */
    ownerNote: z.string().trim().min(1).max(500).optional(),
    /** A draft is checked and can be dry-run, but never runs (no schedule, no launch) until this is false. */
    draft: z.boolean().default(false),
  })
  .strict();

/** A campaign definition as written (what is stored, shown and snapshotted on each run). */
export type CampaignInput = z.input<typeof campaignSchema>;
/** A campaign definition, validated and normalised. */
export type Campaign = z.infer<typeof campaignSchema>;
export type Segment = z.infer<typeof segmentSchema>;
export type CampaignContent = z.infer<typeof contentSchema>;

/** A problem in a campaign: where (a field path) and what. */
export interface CampaignProblem {
  path: string;
  message: string;
}

/**
 * What templates:check knows exists but failed its own check (reported there): a campaign naming it is not told it
 * names something missing. `channels` true: channels.yaml could not be read at all, so no channel is checked.
 */
export interface InvalidRefs {
  sequences?: ReadonlySet<string>;
  channels?: ReadonlySet<string> | true;
  /** A case file failed its check: "needs at least one case" may be wrong, so it is not said. */
  cases?: boolean;
}

/** Checks what a campaign names against the other templates: sequences, channels, case studies. */
export function checkCampaignRefs(
  c: Campaign,
  t: { sequences: ReadonlyMap<string, Sequence>; channels: ChannelCatalog; cases: readonly CaseStudy[] },
  invalid: InvalidRefs = {},
): CampaignProblem[] {
  const problems: CampaignProblem[] = [];
  const have = `have: ${[...t.sequences.keys()].join(', ') || 'none'}`;
  const noSequence = (k: string) => !t.sequences.has(k) && !invalid.sequences?.has(k);
  if (c.content.sequence && noSequence(c.content.sequence)) problems.push({ path: 'content.sequence', message: `no sequence "${c.content.sequence}" (${have})` });
  // A marketing campaign leaves customers out (plan.ts): it would put only leads that are not customers yet in a
  // sequence written for customers, which becoming one does not end.
  if (c.content.sequence && c.kind === 'marketing' && t.sequences.get(c.content.sequence)?.kind === 'service') {
    problems.push({ path: 'content.sequence', message: `"${c.content.sequence}" is a service sequence (for customers), whom a marketing campaign leaves out: give the campaign kind: service` });
  }
  for (const [field, keys] of [['segment.inSequence', c.segment.inSequence], ['segment.notInSequence', c.segment.notInSequence]] as const) {
    for (const k of keys ?? []) if (noSequence(k)) problems.push({ path: field, message: `no sequence "${k}" (${have})` });
  }
  for (const ch of c.segment.channels ?? []) {
    if (invalid.channels === true || invalid.channels?.has(ch)) continue;
    if (!t.channels.get(ch)) problems.push({ path: 'segment.channels', message: `no channel "${ch}" (have: ${t.channels.all().map((x) => x.key).join(', ')})` });
  }
  if (c.content.caseStudy && t.cases.length === 0 && !invalid.cases) problems.push({ path: 'content.caseStudy', message: 'caseStudy: auto needs at least one case in cases/' });
  return problems;
}

/** Parses a campaign definition; problems name the field. */
export function parseCampaign(data: unknown): { value?: Campaign; problems: CampaignProblem[] } {
  const parsed = campaignSchema.safeParse(data);
  if (parsed.success) return { value: parsed.data, problems: [] };
  return { problems: parsed.error.issues.map((i) => ({ path: i.path.join('.') || '(top level)', message: i.message })) };
}

/**
 * Loads every `<dir>/campaigns/<key>.yaml` (the file name must match the key). Returns the campaigns as written
 * (what the store keeps) with their parsed form, and the problems, each naming the file and the field. References
 * to sequences, channels and cases are checked by loadTemplates. `partial`: of the files left out for their problems,
 * the content that passes on its own, for the checks that can still run on it (its 微信客服 text).
 */
export async function loadCampaigns(dir: string): Promise<{
  campaigns: Map<string, { input: CampaignInput; campaign: Campaign; file: string }>;
  problems: string[];
  partial: Array<{ campaign: Pick<Campaign, 'key' | 'content'>; file: string }>;
}> {
  const { items, problems, left } = await loadKeyedFiles(dir, 'campaigns', (data, file) => {
    const { value, problems: p } = parseCampaign(data);
    return { value, problems: p.map((x) => `${file}: ${x.path}: ${x.message}`) };
  });
  const partial = left.flatMap(({ name, data, file }) => {
    const content = contentSchema.safeParse((data as { content?: unknown } | null | undefined)?.content);
    return content.success ? [{ campaign: { key: name, content: content.data }, file }] : [];
  });
  return { campaigns: new Map(items.map((i) => [i.value.key, { input: i.data as CampaignInput, campaign: i.value, file: i.file }])), problems, partial };
}
