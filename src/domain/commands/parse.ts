import type { ZodIssue } from 'zod';
import { stripMentions } from '../../wecom/events/robot.js';
import { foldWidth } from '../width.js';
import { translator, type AnyCommand, type Lang } from './command.js';
import type { CommandMatch, CommandRegistry } from './registry.js';

/**
 * One word of a command: as normalised (what the command word is recognised by) and as typed (what an argument is),
 * and where it is.
 */
export interface Token {
  text: string;
  /** The same word as typed (full-width letters, digits and punctuation kept): the argument a command gets. */
  raw: string;
  start: number;
  end: number;
}

/** What a line of chat asks for. */
export type ParsedLine =
  | { kind: 'empty'; lang: Lang }
  | { kind: 'unknown'; word: string; lang: Lang; suggestion: CommandMatch | null }
  | { kind: 'command'; match: CommandMatch; line: Line; tokens: Token[] };

/**
 * A line of chat, normalised (where words and their separators are found), and as typed (what arguments are taken
 * from): the two have the same length, so offsets hold in both.
 */
export interface Line {
  text: string;
  typed: string;
}

const QUOTES: Record<string, string> = { '"': '"', '“': '”', '「': '」', '『': '』', "'": "'", '‘': '’' };
/** Separators between words: spaces (full-width ones become spaces) and list punctuation. */
const SEPARATOR = /[\s,;、]/u;
const CJK = /[\u3400-\u9fff]/u;

/** The language of free text: Chinese when it has a Chinese character. */
export function languageOf(text: string): Lang {
  return CJK.test(text) ? 'zh' : 'en';
}

/** A day as typed, in half- or full-width digits; two of them around a range's sign, with spaces. */
const DAY_TYPED = '[0-9０-９]{4}[-－][0-9０-９]{2}[-－][0-9０-９]{2}';
const SPACED_RANGE = new RegExp(`(${DAY_TYPED})[\\s\u3000]*(\\.\\.|[~～]|至|到|—|–|--)[\\s\u3000]*(${DAY_TYPED})`, 'gu');

/**
 * Normalises a line typed in a chat: @mentions at either end and sentence punctuation at the end ("统计 7d。") go, a
 * date range typed with spaces closes up, and full-width letters, digits, punctuation and spaces become their ASCII
 * forms in `text`, one character for one, so the typed line keeps the same offsets: words are split and the command
 * word recognised on `text`, while arguments are taken from `typed` (docs/ops-guide.md, "Running the bot from the ops
 * group").
 */
export function normalizeLine(raw: string): Line {
  const typed = stripMentions(raw)
    .replace(/[。.!?~！？～．]+$/u, '')
    .trim()
    // A range typed with spaces ("2026-11-01 至 2026-11-30") is one word, as without them.
    .replace(SPACED_RANGE, '$1$2$3');
  return { text: foldWidth(typed), typed };
}

/** Splits a normalised line into words; quoted text ("…", “…”, 「…」) is one word. */
export function tokenize(line: Line): Token[] {
  const { text, typed } = line;
  const out: Token[] = [];
  // Offsets are UTF-16 units (what String.slice takes); walk code points.
  const chars = [...text];
  const at: number[] = [];
  let offset = 0;
  for (const c of chars) {
    at.push(offset);
    offset += c.length;
  }
  at.push(offset);
  const push = (from: number, to: number, inner: [number, number]) =>
    out.push({ text: text.slice(at[inner[0]], at[inner[1]]), raw: typed.slice(at[inner[0]], at[inner[1]]), start: at[from]!, end: at[to]! });
  let i = 0;
  while (i < chars.length) {
    const c = chars[i]!;
    if (SEPARATOR.test(c)) {
      i++;
      continue;
    }
    const close = QUOTES[c];
    if (close) {
      const j = chars.indexOf(close, i + 1);
      if (j > i) {
        push(i, j + 1, [i + 1, j]);
        i = j + 1;
        continue;
      }
    }
    let j = i;
    while (j < chars.length && !SEPARATOR.test(chars[j]!)) j++;
    push(i, j, [i, j]);
    i = j;
  }
  return out;
}

/**
 * Reads a line of chat: the command word (by name or alias; a Chinese alias may run into its first argument, as in
 * "统计7d"; "统计:7d" works too) and the words after it; or what is unknown, with the closest command.
 */
export function parseLine(registry: CommandRegistry, raw: string): ParsedLine {
  const line = normalizeLine(raw);
  const tokens = tokenize(line);
  const first = tokens[0];
  // Nothing after the @mention: the bot answers in Chinese, its users' language.
  if (!first) return { kind: 'empty', lang: raw.trim() ? languageOf(raw) : 'zh' };
  let word = first.text;
  const rest = tokens.slice(1);
  const colon = word.indexOf(':');
  if (colon > 0) {
    const after = word.slice(colon + 1);
    word = word.slice(0, colon);
    if (after) rest.unshift({ text: after, raw: first.raw.slice(colon + 1), start: first.start + colon + 1, end: first.end });
  }
  let match = registry.find(word);
  if (!match && CJK.test(word)) {
    // People often type Chinese commands without a space: the longest Chinese alias the word starts with.
    const prefix = registry
      .list()
      .flatMap((c) => c.aliases.zh)
      .filter((a) => word.startsWith(a) && word.length > a.length)
      .sort((a, b) => b.length - a.length)[0];
    if (prefix) {
      match = registry.find(prefix);
      rest.unshift({ text: word.slice(prefix.length), raw: first.raw.slice(prefix.length), start: first.start + prefix.length, end: first.end });
    }
  }
  if (!match) {
    const lang = languageOf(word);
    return { kind: 'unknown', word, lang, suggestion: registry.suggest(word, lang) };
  }
  return { kind: 'command', match, line, tokens: rest };
}

/** The language a line of chat is answered in: its command word's, else (an unknown word, nothing) the line's. */
export function lineLanguage(registry: CommandRegistry, raw: string): Lang {
  const line = parseLine(registry, raw);
  return line.kind === 'command' ? line.match.lang : line.lang;
}

/** Argument names as a Chinese speaker reads them in an error. */
const LABELS: Record<string, string> = {
  lead: '线索',
  stage: '阶段',
  grade: '等级',
  reason: '原因',
  period: '时间段',
  channel: '渠道',
  tags: '标签',
  target: '对象',
  action: '操作',
  key: '标识',
  name: '名称',
  owners: '负责人',
  date: '日期',
  query: '线索',
};

/** Argument names English answers spell out where the parameter's own name would mean nothing to the reader. */
const EN_LABELS: Record<string, string> = { query: 'name | company | external id', target: 'lead | sequence | channel' };

/** Issue parameters a command's own checks set for a message in both languages. */
export interface BilingualIssue {
  zh: string;
  en: string;
}

/**
 * The named arguments of a command's words, checked with its zod schema; or the answer saying what is wrong. Every
 * argument is given as typed (a name or a tag keeps its full-width brackets and colons): a command that
 * recognises a word (a period, a stage, a grade) folds its width itself (src/domain/width.ts).
 */
export function bindArgs(command: AnyCommand, tokens: Token[], line: Line, lang: Lang): { ok: true; args: unknown } | { ok: false; problems: string[] } {
  const t = translator(lang);
  const raw: Record<string, unknown> = {};
  command.params.forEach((p, i) => {
    if (p.startsWith('...')) {
      const from = tokens[i];
      // The rest of the line as typed (a reason keeps its own punctuation); one quoted word loses its quotes.
      raw[p.slice(3)] = from === undefined ? undefined : tokens.length === i + 1 ? from.raw : line.typed.slice(from.start).trim();
    } else if (p.startsWith('*')) {
      raw[p.slice(1)] = tokens.slice(i).map((x) => x.raw);
    } else {
      raw[p] = tokens[i]?.raw;
    }
  });
  const takesRest = command.params.some((p) => p.startsWith('...') || p.startsWith('*'));
  if (!takesRest && tokens.length > command.params.length) {
    const extra = tokens.slice(command.params.length).map((x) => x.raw).join(' ');
    return { ok: false, problems: [t(`多余的内容：${extra}`, `unexpected: ${extra}`)] };
  }
  const parsed = command.args.safeParse(raw);
  if (parsed.success) return { ok: true, args: parsed.data };
  return { ok: false, problems: parsed.error.issues.map((i) => describeIssue(i, lang)) };
}

/** One zod issue in the command's language. */
function describeIssue(issue: ZodIssue, lang: Lang): string {
  const t = translator(lang);
  const name = String(issue.path[0] ?? '');
  const field = lang === 'zh' ? `<${LABELS[name] ?? name}>` : `<${EN_LABELS[name] ?? name}>`;
  if (issue.code === 'custom') {
    const params = issue.params as Partial<BilingualIssue> | undefined;
    const own = params?.[lang];
    if (own) return own;
  }
  if (issue.code === 'invalid_type' && issue.received === 'undefined') return t(`缺少 ${field}`, `missing ${field}`);
  if (issue.code === 'invalid_enum_value') return t(`${field} 应为 ${issue.options.join(' / ')} 之一`, `${field} must be one of ${issue.options.join(', ')}`);
  if (issue.code === 'too_small') return issue.type === 'array' ? t(`缺少 ${field}`, `missing ${field}`) : t(`${field} 太短`, `${field} is too short`);
  if (issue.code === 'too_big') return t(`${field} 太长`, `${field} is too long`);
  if (issue.code === 'invalid_string' && issue.validation === 'regex') return t(`${field} 格式不对`, `${field} is not in the right form`);
  return `${field}: ${issue.message}`;
}

/** A bilingual custom issue for a command's own zod checks (`ctx.addIssue(issue('…', '…'))`). */
export function issue(zh: string, en: string): { code: 'custom'; message: string; params: BilingualIssue } {
  return { code: 'custom', message: en, params: { zh, en } };
}
