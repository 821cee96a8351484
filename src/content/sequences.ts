import { z } from 'zod';
import { DEFAULT_TIMEZONE, FUNNEL, STAGES, type Stage } from '../domain/vocabulary.js';
import { onlyPlaceholders, PLACEHOLDERS, strayBraces, strayBracesMessage, unknownPlaceholders } from './render.js';
import { byteLimit, loadKeyedFiles, validate } from './yaml-file.js';
import { parseDelay } from '../settings/delay.js';


/** The longest delay or span a template takes (100 years): a longer one can put a date past what a Date holds. */
export const MAX_SPAN_MS = 36_500 * 86_400_000;

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (24 h)');
/** An IANA time zone name. */
export const timezone = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, 'is not a known IANA time zone (e.g. Asia/Shanghai)');
const stage = z.enum(STAGES);
/**
 * Quiet hours as written: no message goes out between start and end (HH:MM, may wrap midnight) in the time zone;
 * without one, in the zone their reader gives (a sequence's: NURTURE_TIMEZONE; a campaign's: its own).
 */
export const quietHoursSchema = z
  .object({ start: hhmm, end: hhmm, timezone: timezone.optional() })
  .strict()
  // From a time to itself is no quiet hours at all, never a whole day: written by mistake, so refused.
  .refine((q) => q.start !== q.end, { message: 'start and end are the same time, which makes no quiet hours: leave quietHours out for none', path: ['end'] });
/** A message text: known placeholders only, at most 2048 bytes. */
export const messageText = z
  .string()
  .min(1)
  .superRefine((t, ctx) => {
    const unknown = unknownPlaceholders(t);
    if (unknown.length) ctx.addIssue({ code: 'custom', message: `unknown placeholder(s) ${unknown.map((p) => `{{${p}}}`).join(', ')}` });
    const stray = strayBraces(t);
    if (stray.length) ctx.addIssue({ code: 'custom', message: strayBracesMessage(stray, PLACEHOLDERS) });
    // WeCom refuses an empty text (40058): a lead with no known name would be sent exactly that.
    if (!unknown.length && onlyPlaceholders(t)) ctx.addIssue({ code: 'custom', message: 'says nothing but placeholders: a lead whose name is not known would get an empty message' });
  })
  // 2048 bytes: the smallest limit of the three routes (kf/send_msg, message/send); add_msg_template allows 4000.
  .superRefine(byteLimit(2048));
/**
 * A link card's title and description: WeCom limits them in UTF-8 bytes, 128 and 512, where a Chinese character is 3
 * (add_msg_template [D:92135], send_welcome_msg [D:92137]).
 */
export const linkTitle = z.string().min(1).superRefine(byteLimit(128, '(a Chinese character is 3) [D:92135]'));
export const linkDesc = z.string().superRefine(byteLimit(512, '(a Chinese character is 3) [D:92135]'));
/** A link card: title, URL, optional description and picture. */
export const messageLink = z.object({ title: linkTitle, url: z.string().url(), desc: linkDesc.optional(), picurl: z.string().url().optional() }).strict();

const stepSchema = z
  .object({
    delay: z.string().transform((d, ctx) => {
      const ms = parseDelay(d);
      if (ms === null) ctx.addIssue({ code: 'custom', message: 'must be a number and a unit s, m, h or d (e.g. 1d)' });
      else if (ms > MAX_SPAN_MS) ctx.addIssue({ code: 'custom', message: 'must be at most 36500d' });
      return ms ?? 0;
    }),
    text: messageText.optional(),
    link: messageLink.optional(),
    caseStudy: z.literal('auto').optional(),
    // An empty list would match no lead (stage) or say nothing (notStage): written by mistake, so refused.
    when: z.object({ stage: z.array(stage).min(1, 'lists at least one stage (leave `stage` out for any)').optional(), notStage: z.array(stage).min(1, 'lists at least one stage (leave `notStage` out for none)').optional() }).strict().optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (!s.text && !s.link && !s.caseStudy) ctx.addIssue({ code: 'custom', message: 'a step needs text, link or caseStudy' });
    // A step is one message with one link: the case study's took the place of `link`, which was dropped unsent.
    if (s.link && s.caseStudy) ctx.addIssue({ code: 'custom', path: ['caseStudy'], message: 'a case study is a link of its own: use link or caseStudy, not both' });
  });

const STAGE_STOP = new RegExp(`^stage:(${STAGES.join('|')})$`);
// One message whatever was written: `stage: qualified` (with a space) is a YAML pair, not a string.
const stopOn = z.custom<string>(
  (v) => typeof v === 'string' && (['reply', 'unsubscribe', 'churn'].includes(v) || STAGE_STOP.test(v)),
  `must be reply, unsubscribe, churn or "stage:<${STAGES.join('|')}>" (quoted, no space after the colon)`,
);

const sequenceSchema = z
  .object({
    key: z.string().regex(/^[A-Za-z0-9_-]+$/, 'must be letters, digits, _ or -'),
    name: z.string().min(1),
    /**
     * marketing (default): for leads on their way, ended when one becomes a customer; service: for customers, the
     * sequence a lead is enrolled in when it becomes one (channels.yaml `serviceSequence`), which reaching `customer`
     * does not end.
     */
    kind: z.enum(['marketing', 'service']).default('marketing'),
    stopOn: z.array(stopOn).default([]),
    quietHours: quietHoursSchema.optional(),
    steps: z.array(stepSchema).min(1, 'a sequence needs at least one step'),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.kind === 'service' && s.stopOn.includes('stage:customer')) {
      ctx.addIssue({ code: 'custom', path: ['stopOn'], message: 'a service sequence is for customers: "stage:customer" would end it as it starts' });
    }
    // Reaching a stage counts as reaching every earlier one (policy.ts stageStop): a customer is past them all.
    for (const stop of s.kind === 'service' ? s.stopOn : []) {
      const stage = stop.startsWith('stage:') ? stop.slice('stage:'.length) : null;
      if (stage && stage !== 'customer' && FUNNEL.includes(stage as Stage)) {
        ctx.addIssue({ code: 'custom', path: ['stopOn'], message: `a service sequence is for customers: "${stop}" would end it as it starts (a customer has reached every funnel stage)` });
      }
    }
  });

/** Quiet hours with their zone: `HH:MM` to `HH:MM` (may wrap midnight) in `timezone`. */
export interface QuietHours {
  start: string;
  end: string;
  timezone: string;
}
export type Sequence = Omit<z.infer<typeof sequenceSchema>, 'quietHours'> & { quietHours?: QuietHours };
export type SequenceStep = Sequence['steps'][number];

/** A sequence file with problems, as far as it goes: the steps that pass on their own, at their places (others: undefined). */
export interface PartialSequence {
  key: string;
  steps: Array<SequenceStep | undefined>;
}

/**
 * Loads every `<dir>/sequences/<key>.yaml`; the file name must match the key. Returns sequences and problems. Quiet
 * hours that name no timezone are in `timezone` (the bot passes NURTURE_TIMEZONE). `invalid`: the names of files left
 * out for their problems (a channel or campaign naming one is not told it names a missing sequence); `partial`: the
 * valid steps of those files, for the checks that can still run on them (their 微信客服 texts).
 */
export async function loadSequences(
  dir: string,
  timezone: string = DEFAULT_TIMEZONE,
): Promise<{ sequences: Map<string, Sequence>; problems: string[]; invalid: ReadonlySet<string>; partial: PartialSequence[] }> {
  const { items, problems, left } = await loadKeyedFiles(dir, 'sequences', (data, file) => validate(sequenceSchema, data, file));
  const resolved = (s: z.infer<typeof sequenceSchema>): Sequence => ({ ...s, quietHours: s.quietHours ? { ...s.quietHours, timezone: s.quietHours.timezone ?? timezone } : undefined });
  const partial = left.flatMap(({ name, data }) => {
    const raw = (data as { steps?: unknown } | null | undefined)?.steps;
    if (!Array.isArray(raw)) return [];
    const steps = raw.map((step) => {
      const one = stepSchema.safeParse(step);
      return one.success ? one.data : undefined;
    });
    return steps.some(Boolean) ? [{ key: name, steps }] : [];
  });
  return { sequences: new Map(items.map((i) => [i.value.key, resolved(i.value)])), problems, invalid: new Set(left.map((l) => l.name)), partial };
}
