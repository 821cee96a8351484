import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { GRADES, ROLES } from '../domain/vocabulary.js';
import { parseDelay } from '../settings/delay.js';
import { parseYaml, validate } from './yaml-file.js';

const points = z.number().min(-1000).max(1000);
const halfLife = z.string().transform((d, ctx) => {
  const ms = parseDelay(d);
  if (ms === null || ms <= 0) ctx.addIssue({ code: 'custom', message: 'must be a duration like 7d or 12h' });
  return ms ?? 1;
});
const decaying = z.object({ points, halfLife }).strict();
/** A kind of touch: each one's points decay; `max` caps what all of them add up to (many replies in one chat are not many leads' worth). */
const touchRule = z.object({ points, halfLife, max: z.number().positive().max(1000).optional() }).strict();
const gradeSettings = z
  .object({
    /** How fast a customer's message should get a person's reply (the service clock). */
    replyTargetSeconds: z.number().int().positive().optional(),
    /** Customer-facing marketing messages per day for leads of this grade (overrides NURTURE_DAILY_CAP). */
    nurtureDailyCap: z.number().int().min(0).optional(),
    /** Whether churn of a lead of this grade alerts the ops group. */
    churnAlert: z.boolean().optional(),
  })
  .strict();

const scoringSchema = z
  .object({
    /** The tag group whose tag gives a lead's role, and which tag means which role. */
    roleTagGroup: z.string().min(1).default('角色'),
    roles: z.record(z.string().min(1), z.enum(ROLES)).default({ 决策者: 'decision-maker', 管理者: 'manager', 使用者: 'user' }),
    fit: z
      .object({
        /** Points per industry (tag group 行业); `default` for any other industry. */
        industry: z.record(z.string().min(1), points).default({}),
        role: z.object({ 'decision-maker': points, manager: points, user: points }).partial().strict().default({}),
        /** Points when the lead's company is known. */
        company: points.default(0),
        /** Points per channel key; `default` for any other channel. */
        channel: z.record(z.string().min(1), points).default({}),
      })
      .strict()
      .default({}),
    intent: z
      .object({
        reply: touchRule.optional(),
        click: touchRule.optional(),
        caseOpened: touchRule.optional(),
        intent: touchRule.optional(),
        kfConversation: touchRule.optional(),
        stage: z.object({ engaged: decaying, qualified: decaying, opportunity: decaying, customer: decaying }).partial().strict().default({}),
      })
      .strict()
      .default({}),
    /** The lowest score of each grade; below B is C. */
    grades: z
      .object({ S: points, A: points, B: points })
      .strict()
      .refine((g) => g.S > g.A && g.A > g.B, 'must be S > A > B'),
    perGrade: z.object({ S: gradeSettings, A: gradeSettings, B: gradeSettings, C: gradeSettings }).partial().strict().default({}),
  })
  .strict();

export type Scoring = z.infer<typeof scoringSchema>;
export type GradeSettings = z.infer<typeof gradeSettings>;

/**
 * What scores and grades are made of when templates/scoring.yaml does not exist. These are the bot's defaults, not
 * WeCom's or anybody's standard: a starting point to calibrate (`npm run grades:calibrate`).
 */
export const DEFAULT_SCORING: Scoring = scoringSchema.parse({
  fit: { industry: { default: 5 }, role: { 'decision-maker': 25, manager: 15, user: 5 }, company: 10, channel: { default: 0 } },
  intent: {
    reply: { points: 10, halfLife: '14d', max: 30 },
    click: { points: 5, halfLife: '7d', max: 20 },
    caseOpened: { points: 8, halfLife: '14d', max: 24 },
    intent: { points: 30, halfLife: '30d', max: 45 },
    kfConversation: { points: 10, halfLife: '14d', max: 20 },
    stage: { engaged: { points: 5, halfLife: '30d' }, qualified: { points: 20, halfLife: '60d' }, opportunity: { points: 30, halfLife: '90d' }, customer: { points: 40, halfLife: '365d' } },
  },
  grades: { S: 80, A: 50, B: 25 },
  perGrade: {
    // A grade without a reply target waits SERVICE_REPLY_TARGET_SECONDS.
    S: { replyTargetSeconds: 300, nurtureDailyCap: 1, churnAlert: true },
    A: { nurtureDailyCap: 1, churnAlert: true },
  },
});

/**
 * Loads `<dir>/scoring.yaml` (absent: DEFAULT_SCORING); every problem names the file and the field. `channelKeys`: the
 * channels `fit.channel` may name (null: not known, as when channels.yaml is not YAML; not checked then).
 */
export async function loadScoring(dir: string, channelKeys: ReadonlySet<string> | null): Promise<{ scoring: Scoring; problems: string[] }> {
  const file = path.join(dir, 'scoring.yaml');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { scoring: DEFAULT_SCORING, problems: [] };
    throw err;
  }
  const { data, problems: yamlProblems } = parseYaml(text, file);
  if (yamlProblems.length) return { scoring: DEFAULT_SCORING, problems: yamlProblems };
  const { value, problems } = validate(scoringSchema, data, file);
  if (!value) return { scoring: DEFAULT_SCORING, problems };
  for (const key of Object.keys(value.fit.channel)) {
    if (key !== 'default' && channelKeys && !channelKeys.has(key)) problems.push(`${file}: fit.channel.${key}: no channel "${key}" in channels.yaml`);
  }
  for (const grade of Object.keys(value.perGrade)) if (!GRADES.includes(grade as never)) problems.push(`${file}: perGrade.${grade}: not a grade`);
  return { scoring: value, problems };
}
