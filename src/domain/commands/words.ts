/** The words ops staff type and read in chat: stages and grades in both languages, dates in the ops time zone. */
import { GRADES, STAGES, type Grade, type Stage } from '../vocabulary.js';
import { foldWidth } from '../width.js';
import type { Lang } from './command.js';

const STAGE_ZH: Record<Stage, string> = {
  added: '新增',
  engaged: '已互动',
  qualified: '合格',
  opportunity: '商机',
  customer: '成交客户',
  lost: '流失',
  unsubscribed: '退订',
};

/** Words that name a stage (its key, its Chinese name, common synonyms). */
const STAGE_WORDS: Record<string, Stage> = {
  ...Object.fromEntries(STAGES.map((s) => [s, s])),
  新增: 'added',
  互动: 'engaged',
  已互动: 'engaged',
  合格: 'qualified',
  有意向: 'qualified',
  意向: 'qualified',
  商机: 'opportunity',
  客户: 'customer',
  成交: 'customer',
  成交客户: 'customer',
  流失: 'lost',
  退订: 'unsubscribed',
};

/** The stage a word names (full-width letters too), or null. */
export function stageOf(typed: string): Stage | null {
  const word = foldWidth(typed);
  return STAGE_WORDS[word.toLowerCase()] ?? STAGE_WORDS[word] ?? null;
}

/** Every word a stage may be given as (for the usage line and errors). */
export const STAGE_CHOICES = Object.keys(STAGE_WORDS);

/** A stage as the answer's language names it. */
export function stageName(stage: string, lang: Lang): string {
  return lang === 'zh' ? (STAGE_ZH[stage as Stage] ?? stage) : stage;
}

/** The grade (or `auto`, unpinning) a word names (full-width letters too), or null. */
export function gradeOf(word: string): Grade | 'auto' | null {
  const w = foldWidth(word).toUpperCase();
  if ((GRADES as readonly string[]).includes(w)) return w as Grade;
  if (['AUTO', '自动', '取消'].includes(w)) return 'auto';
  return null;
}

const TOUCH_ZH: Record<string, string> = {
  add: '添加员工',
  add_half: '添加员工（待通过）',
  click: '点击链接',
  case_opened: '打开案例',
  reply: '回复',
  intent: '询问价格/演示/试用',
  kf_conversation: '客服会话',
};

const ROLE_ZH: Record<string, string> = { 'decision-maker': '决策者', manager: '管理者', user: '使用者' };

/** A lead's role as the answer's language names it. */
export function roleName(role: string, lang: Lang): string {
  return lang === 'zh' ? (ROLE_ZH[role] ?? role) : role;
}

/** Score contributions (src/domain/scoring/score.ts), each by its first words, as Chinese names them. */
const REASON_ZH: Array<[RegExp, (m: RegExpExecArray) => string]> = [
  [/^industry (.+)$/, (m) => `行业 ${m[1]}`],
  [/^role (.+)$/, (m) => `角色 ${roleName(m[1]!, 'zh')}`],
  [/^company$/, () => '公司'],
  [/^channel (.+)$/, (m) => `渠道 ${m[1]}`],
  [/^reply( ×\d+)?$/, (m) => `回复${m[1] ?? ''}`],
  [/^click( ×\d+)?$/, (m) => `点击链接${m[1] ?? ''}`],
  [/^case opened( ×\d+)?$/, (m) => `打开案例${m[1] ?? ''}`],
  [/^intent( ×\d+)?$/, (m) => `意向${m[1] ?? ''}`],
  [/^客服 conversation( ×\d+)?$/, (m) => `客服会话${m[1] ?? ''}`],
  [/^stage (.+)$/, (m) => `阶段 ${stageName(m[1]!, 'zh')}`],
];

/** A score contribution ("industry 制造业", "reply ×2", "stage qualified") as the answer's language names it. */
export function reasonName(reason: string, lang: Lang): string {
  if (lang !== 'zh') return reason;
  for (const [re, name] of REASON_ZH) {
    const m = re.exec(reason);
    if (m) return name(m);
  }
  return reason;
}

// The reasons an enrollment stops (StopReason in src/domain/nurture/policy.ts, and the ends of run-step.ts), or is not made.
const STOP_REASONS: Record<string, [zh: string, en: string]> = {
  reply: ['客户回复了', 'the customer replied'],
  unsubscribe: ['客户退订了', 'the customer opted out'],
  churn: ['客户删除了我方', 'the customer deleted us'],
  owner_removed: ['负责人删除了客户', 'the owner removed the customer'],
  not_customer: ['不再是成交客户', 'no longer a customer'],
  // Why enroll refused a lead (src/domain/nurture/enroll.ts), besides the reasons above
  unsubscribed: ['客户已退订', 'the customer had opted out'],
  no_lead: ['线索不存在', 'no such lead'],
  no_owner: ['客户不是任何成员的好友（仅通过微信客服联系）', 'not a contact of any member (微信客服 only)'],
  sequence_removed: ['序列已删除', 'the sequence was removed'],
  steps_removed: ['序列的步骤已删减', "the sequence's steps were cut"],
  lead_missing: ['线索已不存在', 'the lead is gone'],
};

/** Why an enrollment stopped, as the answer's language says it (an unknown reason as it is). */
export function stopReasonName(reason: string, lang: Lang): string {
  const stage = /^stage:(.+)$/.exec(reason);
  if (stage) return lang === 'zh' ? `到了「${stageName(stage[1]!, 'zh')}」阶段` : `reached stage ${stage[1]}`;
  const names = STOP_REASONS[reason];
  return names ? names[lang === 'zh' ? 0 : 1] : reason;
}

/** A touch kind as the answer's language names it. */
export function touchName(kind: string, lang: Lang): string {
  return lang === 'zh' ? (TOUCH_ZH[kind] ?? kind) : kind.replace(/_/g, ' ');
}

/** `MM-DD HH:mm` of a moment in the ops time zone. */
export function shortTime(at: Date | string | null | undefined, tz: string): string {
  if (!at) return '–';
  const p = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', { timeZone: tz, hourCycle: 'h23', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' })
      .formatToParts(new Date(at))
      .map((x) => [x.type, x.value]),
  );
  return `${p.month}-${p.day} ${p.hour}:${p.minute}`;
}
