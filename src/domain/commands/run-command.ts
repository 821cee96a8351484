import type { BotContext } from '../../context.js';
import { WecomApiError } from '../../errors.js';
import { opsCommands } from '../../metrics.js';
import { jobIds } from '../../queues/job-ids.js';
import { createOnce } from '../../store/create-once.js';
import { CommandAudit } from '../../store/models/command-audit.js';
import { CommandError, translator, type AnyCommand, type Caller, type CommandContext, type CommandOutcome, type Lang } from './command.js';
import { bindArgs, languageOf, parseLine } from './parse.js';
import { allows, roleOf } from './permissions.js';
import { clipLines, ROBOT_MARKDOWN_BYTES } from './markdown.js';

/** A robot message that may be a command: who wrote what, where. */
export interface CommandRequest {
  msgid: string;
  userId: string;
  chatId: string | null;
  chatType: 'single' | 'group';
  /** The text after the @mention. */
  text: string;
}

/** What to do with a request, decided before anything happens. */
export type Plan =
  | { kind: 'answer'; lang: Lang; answer: string; outcome: CommandOutcome; command: string | null }
  | { kind: 'run'; lang: Lang; command: AnyCommand; alias: string; args: unknown; ctx: CommandContext; slow: boolean };

/** An answer and how the command ended. */
export interface Result {
  answer: string;
  outcome: CommandOutcome;
  detail?: string;
}

/**
 * Reads a request and decides what happens, in this order, so that nothing happens for a caller who may not: the
 * caller's role (OPS_ADMINS, OPS_USERIDS, else a polite refusal), the command word (unknown: the closest command),
 * the arguments (zod: what is wrong and the usage), the command's permission for those arguments. An empty line is
 * `help`.
 */
export function plan(ctx: BotContext, req: CommandRequest): Plan {
  const line = parseLine(ctx.commands, req.text);
  const lang = line.kind === 'command' ? line.match.lang : line.lang;
  const t = translator(lang);
  const role = roleOf(ctx.config, req.userId);
  const commandName = line.kind === 'command' ? line.match.command.name : null;
  if (!role) {
    return {
      kind: 'answer',
      lang,
      outcome: 'refused',
      command: commandName,
      answer: t(`抱歉，${req.userId} 还没有使用运营命令的权限，这条命令没有执行。需要的话请联系运营管理员开通。`, `Sorry, ${req.userId} may not run ops commands, so nothing was done. Ask an ops admin if you need access.`),
    };
  }
  const help = ctx.commands.find('help');
  // Only the @mention: what may I run here?
  const match = line.kind === 'command' ? line.match : line.kind === 'empty' && help ? { command: help.command, lang, alias: lang === 'zh' ? help.command.aliases.zh[0]! : help.command.name } : null;
  if (!match) {
    const suggestion = line.kind === 'unknown' ? line.suggestion : null;
    const word = line.kind === 'unknown' ? line.word : '';
    const hint = suggestion ? t(`你是不是想用「${suggestion.alias}」？`, ` Did you mean "${suggestion.alias}"?`) : '';
    return { kind: 'answer', lang, outcome: 'unknown_command', command: null, answer: `${t(`没有「${word}」这个命令。`, `There is no command "${word}".`)}${hint}${t('发送「帮助」查看全部命令。', ' Send "help" for every command.')}` };
  }
  const { command, alias } = match;
  const bound = bindArgs(command, line.kind === 'command' ? line.tokens : [], line.kind === 'command' ? line.line : { text: '', typed: '' }, lang);
  if (!bound.ok) {
    const usage = `\`${alias}${command.usage[lang] ? ` ${command.usage[lang]}` : ''}\``;
    return { kind: 'answer', lang, outcome: 'invalid_args', command: command.name, answer: `${bound.problems.join(t('；', '; '))}\n${t('用法', 'Usage')}: ${usage}` };
  }
  const level = typeof command.permission === 'function' ? command.permission(bound.args, ctx) : command.permission;
  if (!allows(role, level)) {
    return { kind: 'answer', lang, outcome: 'refused', command: command.name, answer: t(`抱歉，「${alias}」这样用需要运营管理员权限，这条命令没有执行。`, `Sorry, "${alias}" used this way needs an ops admin, so nothing was done.`) };
  }
  const caller: Caller = { userId: req.userId, role, chatId: req.chatId, chatType: req.chatType };
  const cctx: CommandContext = { ...ctx, lang, t, caller, msgid: req.msgid };
  return { kind: 'run', lang, command, alias, args: bound.args, ctx: cctx, slow: command.slow?.(bound.args) ?? false };
}

/** Runs a planned command; never throws: a failure is an answer that says so (and is logged). */
export async function execute(p: Extract<Plan, { kind: 'run' }>): Promise<Result> {
  const { t } = p.ctx;
  try {
    // A long answer (a list, a table) keeps whole lines and says how many it left out [D:101031].
    const answer = clipLines(await p.command.run(p.args, p.ctx), ROBOT_MARKDOWN_BYTES, (n) => t(`…（还有 ${n} 行未显示，请缩小范围）`, `… (${n} more lines not shown: narrow it down)`));
    return { answer, outcome: 'ok' };
  } catch (err) {
    if (err instanceof CommandError) return { answer: err.answer, outcome: err.outcome };
    if (err instanceof WecomApiError && !err.retryable) {
      return { answer: t(`企业微信拒绝了这个操作（错误码 ${err.errcode}），没有完成。`, `WeCom refused this (errcode ${err.errcode}); it was not done.`), outcome: 'rejected', detail: `${err.api} ${err.errcode}` };
    }
    p.ctx.log.error({ command: p.command.name, msgid: p.ctx.msgid, err: (err as Error).message }, 'command failed');
    return { answer: t('抱歉，执行时出错了，请稍后再试。', 'Sorry, something went wrong; please try again later.'), outcome: 'failed', detail: (err as Error).message };
  }
}

/** Keeps a command in the audit log: once per robot message, when it has ended. */
export async function audit(req: CommandRequest, entry: AuditFacts): Promise<void> {
  opsCommands.inc({ command: entry.command ?? 'none', outcome: entry.outcome });
  await writeAudit(auditEntry(req, entry));
}

/**
 * Audits a command that ran. An entry the database did not take is written later by a `command-audit` job (its
 * duration as of now, not of the failed write), so neither the answer nor the entry is lost to an outage.
 */
export async function auditOrLater(ctx: Pick<BotContext, 'queues' | 'log'>, req: CommandRequest, facts: AuditFacts): Promise<void> {
  const entry = auditEntry(req, facts);
  await audit(req, facts).catch(async (err: Error) => {
    ctx.log.warn({ msgid: req.msgid, err: err.message }, 'command ran, but its audit entry could not be written: it is written later');
    await ctx.queues.add('command-audit', entry, { jobId: jobIds.commandAudit(req.msgid) }).catch((e: Error) =>
      ctx.log.error({ msgid: req.msgid, err: e.message }, 'command ran, but its audit entry could be neither written nor queued'),
    );
  });
}

/** What an audit entry says of a command's run. */
export interface AuditFacts {
  lang: Lang;
  command: string | null;
  outcome: CommandOutcome;
  detail?: string | null;
  later?: boolean;
  startedAt: number;
}

/** A command's audit entry, as stored (one per msgid). */
export type AuditEntry = ReturnType<typeof auditEntry>;

/** The audit entry of a request and its run (its duration counted now). */
export function auditEntry(req: CommandRequest, entry: AuditFacts) {
  return {
    _id: req.msgid,
    userId: req.userId,
    chatId: req.chatId,
    chatType: req.chatType,
    text: req.text,
    command: entry.command,
    lang: entry.lang,
    outcome: entry.outcome,
    detail: entry.detail ? entry.detail.slice(0, 500) : null,
    later: entry.later ?? false,
    at: new Date(entry.startedAt),
    ms: Date.now() - entry.startedAt,
  };
}

/** Writes an audit entry once (a second write of the same msgid changes nothing). */
export async function writeAudit(entry: AuditEntry): Promise<void> {
  await createOnce(CommandAudit, entry);
}

/** The answer to a message that has no text (an image, a file): how to use the robot. */
export function textOnlyAnswer(text: string | null): string {
  return translator(languageOf(text ?? '中'))('我只看得懂文字命令，发送「帮助」看看能做什么。', 'I only understand text commands; send "help" to see them.');
}
