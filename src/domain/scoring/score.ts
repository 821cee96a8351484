import type { Scoring } from '../../content/scoring.js';
import { FUNNEL, GRADES, type Grade, type Role } from '../vocabulary.js';

/** What a score is computed from. */
export interface ScoreInput {
  industry?: string | null;
  role?: string | null;
  corpName?: string | null;
  firstTouch?: { channelKey?: string | null } | null;
  touches?: ReadonlyArray<{ kind?: string | null; at?: Date | null }>;
  reached?: Partial<Record<string, Date | null | undefined>> | null;
}

/** A score, the grade it gives, and its largest contributions (largest first). */
export interface ScoreResult {
  score: number;
  grade: Grade;
  reasons: Array<{ reason: string; points: number }>;
}

/** Touch kinds that count as intent, and the intent points they count under. */
const INTENT_OF_TOUCH: Record<string, keyof Omit<Scoring['intent'], 'stage'>> = {
  reply: 'reply',
  click: 'click',
  case_opened: 'caseOpened',
  intent: 'intent',
  kf_conversation: 'kfConversation',
};
const INTENT_LABEL: Record<string, string> = { reply: 'reply', click: 'click', caseOpened: 'case opened', intent: 'intent', kfConversation: '客服 conversation' };
const REASONS_KEPT = 6;

/**
 * The entry of a YAML map under `key`, if the file has one: a key such as `constructor` or `toString` (a channel key, a
 * tag name) is not the map's, whatever a plain object inherits under that name.
 */
const own = <T>(map: Readonly<Record<string, T>>, key: string): T | undefined => (Object.hasOwn(map, key) ? map[key] : undefined);

/** Points halved every `halfLifeMs` since `at`. */
const decayed = (points: number, halfLifeMs: number, at: Date, now: number) => points * 0.5 ** (Math.max(0, now - at.getTime()) / halfLifeMs);
const round1 = (n: number) => Math.round(n * 10) / 10;

/**
 * A lead's score: fit (industry, role, company, channel: points added once) plus intent (replies, clicks, case
 * studies opened, intents, 客服 conversations, funnel stages reached: each one's points halving every half-life),
 * and the grade its score gives. Pure: the clock is a parameter.
 */
export function scoreLead(lead: ScoreInput, scoring: Scoring, now: number): ScoreResult {
  const parts: Array<{ reason: string; points: number }> = [];
  const add = (reason: string, points: number) => {
    if (points) parts.push({ reason, points });
  };
  const { fit, intent } = scoring;
  if (lead.industry) add(`industry ${lead.industry}`, own(fit.industry, lead.industry) ?? own(fit.industry, 'default') ?? 0);
  if (lead.role) add(`role ${lead.role}`, fit.role[lead.role as Role] ?? 0);
  if (lead.corpName) add('company', fit.company);
  const channel = lead.firstTouch?.channelKey;
  if (channel) add(`channel ${channel}`, own(fit.channel, channel) ?? own(fit.channel, 'default') ?? 0);

  const byIntent = new Map<keyof Omit<Scoring['intent'], 'stage'>, { points: number; n: number }>();
  for (const t of lead.touches ?? []) {
    const key = t.kind ? INTENT_OF_TOUCH[t.kind] : undefined;
    const rule = key ? intent[key] : undefined;
    if (!key || !rule || !t.at) continue;
    const sum = byIntent.get(key) ?? { points: 0, n: 0 };
    sum.points += decayed(rule.points, rule.halfLife, t.at, now);
    sum.n += 1;
    byIntent.set(key, sum);
  }
  for (const [key, { points, n }] of byIntent) {
    // What all touches of a kind add up to is capped (`max`): four messages in a minute are one keen customer, not four.
    const max = intent[key]?.max;
    add(`${INTENT_LABEL[key]}${n > 1 ? ` ×${n}` : ''}`, max === undefined ? points : Math.sign(points) * Math.min(Math.abs(points), max));
  }
  for (const stage of FUNNEL) {
    const rule = intent.stage[stage as keyof Scoring['intent']['stage']];
    const at = lead.reached?.[stage];
    if (rule && at) add(`stage ${stage}`, decayed(rule.points, rule.halfLife, at, now));
  }

  const score = Math.round(parts.reduce((s, p) => s + p.points, 0));
  const reasons = parts
    .map((p) => ({ reason: p.reason, points: round1(p.points) }))
    .sort((a, b) => Math.abs(b.points) - Math.abs(a.points))
    .slice(0, REASONS_KEPT);
  return { score, grade: gradeOf(score, scoring), reasons };
}

/** The grade a score gives: at least S's threshold is S, then A, then B; below B is C. */
export function gradeOf(score: number, scoring: Pick<Scoring, 'grades'>): Grade {
  const { S, A, B } = scoring.grades;
  return score >= S ? 'S' : score >= A ? 'A' : score >= B ? 'B' : 'C';
}

/** True when `to` is a better grade than `from`. */
export function isUpgrade(from: string | null | undefined, to: Grade): boolean {
  return GRADES.indexOf(to) < GRADES.indexOf((from ?? 'C') as Grade);
}

/** The role a lead's tags give, by the role tag group and its names (templates/scoring.yaml). */
export function roleOf(tags: ReadonlyArray<{ group?: string | null; name?: string | null }>, scoring: Pick<Scoring, 'roleTagGroup' | 'roles'>): Role | null {
  const tag = tags.find((t) => t.group === scoring.roleTagGroup && t.name && own(scoring.roles, t.name));
  return tag ? own(scoring.roles, tag.name!)! : null;
}
