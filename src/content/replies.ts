import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { strayBraces, strayBracesMessage } from './render.js';
import { byteLimit, parseYaml, validate } from './yaml-file.js';

/**
 * How strong an intent is when several match one message, strongest first (docs/ops-guide.md, "Customer
 * conversations"): "你好，请问报价多少？" is a pricing question, not small talk.
 */
export const INTENT_CLASSES = ['unsubscribe', 'subscribe', 'human', 'qualify', 'faq', 'smalltalk'] as const;
/** Each class as staff read it in a notice or an alert (the intent's own key follows when it is not the class's). */
export const INTENT_CLASS_NAMES: Record<(typeof INTENT_CLASSES)[number], string> = { unsubscribe: '退订', subscribe: '订阅', human: '转人工', qualify: '询价', faq: '咨询', smalltalk: '寒暄' };
/** The same in English (the dashboard's English pages). */
export const INTENT_CLASS_NAMES_EN: Record<(typeof INTENT_CLASSES)[number], string> = { unsubscribe: 'unsubscribe', subscribe: 'subscribe', human: 'asks for a person', qualify: 'pricing / demo / trial', faq: 'question', smalltalk: 'small talk' };
export type IntentClass = (typeof INTENT_CLASSES)[number];

/**
 * What an intent does besides replying: `unsubscribe` (the lead opts out: every enrollment ends), `resubscribe` (an
 * explicit 订阅), `qualify` (stage qualified, never backwards), `notify_owner` (an app message to the owner),
 * `alert_ops` (the ops group's webhook), `handoff` (to a person: kf/service_state/trans).
 */
export const INTENT_ACTIONS = ['unsubscribe', 'resubscribe', 'qualify', 'notify_owner', 'alert_ops', 'handoff'] as const;
export type IntentAction = (typeof INTENT_ACTIONS)[number];

/** Placeholders a reply may use: the customer's name, the channel's name, the service hours. */
export const REPLY_PLACEHOLDERS = ['name', 'channel', 'hours'] as const;

const placeholders = (max: number) =>
  z
    .string()
    .min(1)
    .superRefine((t, ctx) => {
      const unknown = [...t.matchAll(/\{\{\s*([^}\s]*)\s*\}\}/g)].map((m) => m[1] ?? '').filter((p) => !(REPLY_PLACEHOLDERS as readonly string[]).includes(p));
      if (unknown.length) ctx.addIssue({ code: 'custom', message: `unknown placeholder(s) ${unknown.map((p) => `{{${p}}}`).join(', ')}; known: {{name}}, {{channel}}, {{hours}}` });
      const stray = strayBraces(t);
      if (stray.length) ctx.addIssue({ code: 'custom', message: strayBracesMessage(stray, REPLY_PLACEHOLDERS) });
    })
    .superRefine(byteLimit(max, '[D:94677]'));

const link = z.object({ title: z.string().min(1).max(128), url: z.string().url(), desc: z.string().max(512).optional() }).strict();
const menuItem = z.union([
  z.object({ intent: z.string().min(1), text: z.string().min(1).max(128) }).strict(),
  z.object({ url: z.string().url(), text: z.string().min(1).max(128) }).strict(),
]);

/**
 * One reply: a single message (a 客服 window allows only 5 [D:94677]). Text, a link, a menu and/or the best case study
 * for the lead are folded into one `text` (links as lines) or, with a menu, one `msgmenu` (links as its items).
 */
export const replySchema = z
  .object({
    text: placeholders(2048).optional(),
    link: link.optional(),
    menu: z
      .object({ head: placeholders(1024).optional(), items: z.array(menuItem).min(1).max(10), tail: placeholders(1024).optional() })
      .strict()
      .optional(),
    caseStudy: z.literal('auto').optional(),
  })
  .strict()
  .refine((r) => r.text || r.link || r.menu || r.caseStudy, 'a reply needs text, link, menu or caseStudy');
export type Reply = z.infer<typeof replySchema>;

const patternSchema = z.string().superRefine((p, ctx) => {
  try {
    new RegExp(p, 'iu');
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `not a regular expression: ${(err as Error).message}` });
    return;
  }
  // Messages are matched in their NFKC form (full-width letters, digits and punctuation made half-width, src/domain/kf/
  // intents.ts): a pattern holding a form NFKC changes would never match.
  const changed = [...new Set([...p].filter((ch) => ch.normalize('NFKC') !== ch))];
  if (changed.length) ctx.addIssue({ code: 'custom', message: `messages are matched in half-width forms: write ${changed.map((ch) => `"${ch}" as "${ch.normalize('NFKC')}"`).join(', ')} (escaped where it is a regular expression's own, e.g. \\?)` });
});

const intentSchema = z
  .object({
    key: z.string().regex(/^[a-z0-9_-]{1,32}$/, 'must be 1-32 of a-z 0-9 _ -'),
    /** How strong it is when several intents match (default faq). */
    class: z.enum(INTENT_CLASSES).default('faq'),
    /** Words found anywhere in the message (Latin ones as whole words); case, full- and half-width do not matter. */
    keywords: z.array(z.string().min(1)).default([]),
    /** Whole messages (e.g. T, TD), ignoring case, width, spaces and punctuation around them. */
    exact: z.array(z.string().min(1)).default([]),
    /** Regular expressions over the normalised message (case-insensitive). */
    patterns: z.array(patternSchema).default([]),
    reply: replySchema.optional(),
    actions: z.array(z.enum(INTENT_ACTIONS)).default([]),
  })
  .strict()
  .refine((i) => i.keywords.length + i.exact.length + i.patterns.length > 0, 'an intent needs keywords, exact or patterns')
  .refine((i) => i.reply || i.actions.length, 'an intent needs a reply or actions');

const fallbackSchema = z
  .object({
    /** Inside service hours: this reply, and the hand-off to a person. */
    inHours: z.object({ reply: replySchema.optional() }).strict().default({}),
    /** Outside them: this reply (use {{hours}}), and the hand-off when they open. */
    outOfHours: z.object({ reply: replySchema.optional() }).strict().default({}),
  })
  .strict();

const repliesSchema = z
  .object({
    intents: z.array(intentSchema).default([]),
    fallback: fallbackSchema.default({}),
  })
  .strict();

export type Intent = z.infer<typeof intentSchema>;
export type Replies = z.infer<typeof repliesSchema>;

/** What replies are when templates/replies.yaml does not exist: no intents, everything goes to a person. */
export const DEFAULT_REPLIES: Replies = repliesSchema.parse({
  fallback: {
    inHours: { reply: { text: '您好，已为您转接人工客服，请稍候。' } },
    outOfHours: { reply: { text: '您好，现在是非服务时间（服务时间：{{hours}}）。您的消息已记录，上班后人工客服会第一时间回复您。' } },
  },
});

/**
 * Loads `<dir>/replies.yaml` (absent: DEFAULT_REPLIES); every problem names the file, the intent and the field. With
 * problems, `replies` holds what passed on its own (each valid intent, the fallback when valid), so the checks that build
 * on it (its 微信客服 texts with their link lines) still run and report theirs in the same go. `written`: every intent key
 * the file names, an intent with problems included (a menu item naming one is not reported as naming a missing
 * intent); null when the file is not YAML.
 */
export async function loadReplies(dir: string): Promise<{ replies: Replies; problems: string[]; written: ReadonlySet<string> | null }> {
  const file = path.join(dir, 'replies.yaml');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { replies: DEFAULT_REPLIES, problems: [], written: new Set() };
    throw err;
  }
  const { data, problems: yamlProblems } = parseYaml(text, file);
  if (yamlProblems.length) return { replies: DEFAULT_REPLIES, problems: yamlProblems, written: null };
  const raw = (data ?? {}) as { intents?: unknown; fallback?: unknown };
  const rawIntents: unknown[] = Array.isArray(raw.intents) ? raw.intents : [];
  const keyAt = (i: number) => (rawIntents[i] as { key?: unknown } | null)?.key;
  const written = new Set(rawIntents.map((_, i) => keyAt(i)).filter((k): k is string => typeof k === 'string'));
  let { value, problems } = validate(repliesSchema, data ?? {}, file);
  if (!value) {
    // Name the intent by its key, not only by its index.
    problems = problems.map((p) =>
      p.replace(/: intents\.(\d+)(\.|: )/, (m, i: string, after: string) => {
        const key = keyAt(Number(i));
        return typeof key === 'string' ? `: intent ${key}: ${after === '.' ? '' : '(intent): '}` : m;
      }),
    );
    value = salvage(rawIntents, raw.fallback);
  }
  const keys = new Set<string>();
  for (const i of value.intents) {
    if (keys.has(i.key)) problems.push(`${file}: intent ${i.key}: key: duplicate key`);
    keys.add(i.key);
  }
  const replies = [...value.intents.map((i) => ({ where: `intent ${i.key}`, reply: i.reply })), { where: 'fallback.inHours', reply: value.fallback.inHours.reply }, { where: 'fallback.outOfHours', reply: value.fallback.outOfHours.reply }];
  for (const { where, reply } of replies) {
    for (const item of reply?.menu?.items ?? []) {
      if ('intent' in item && !written.has(item.intent)) problems.push(`${file}: ${where}: reply.menu.items: no intent "${item.intent}" in this file`);
    }
  }
  return { replies: value, problems, written };
}

/** What of a replies.yaml with problems passes on its own: its valid intents, and its fallback when valid (else none). */
function salvage(rawIntents: unknown[], rawFallback: unknown): Replies {
  const intents = rawIntents.flatMap((i) => {
    const one = intentSchema.safeParse(i);
    return one.success ? [one.data] : [];
  });
  const fallback = fallbackSchema.safeParse(rawFallback ?? {});
  return { intents, fallback: fallback.success ? fallback.data : { inHours: {}, outOfHours: {} } };
}

/** Whether any reply sends a case study (then cases/ must hold at least one). */
export function repliesUseCases(replies: Replies): boolean {
  return [...replies.intents.map((i) => i.reply), replies.fallback.inHours.reply, replies.fallback.outOfHours.reply].some((r) => r?.caseStudy);
}
