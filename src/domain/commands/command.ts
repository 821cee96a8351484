import type { z } from 'zod';
import type { BotContext } from '../../context.js';

/** The language of a command, which is the language of its answer: a Chinese alias gets a Chinese answer. */
export type Lang = 'zh' | 'en';

/**
 * What a command needs: `read` (look at leads, the funnel, channels), `lead` (change one lead: stage, grade, tags,
 * pausing it) or `admin` (everything else: channels, pausing a sequence or a channel, launching or cancelling a
 * campaign; the other campaign subcommands are for members too). OPS_USERIDS may run `read` and `lead`; OPS_ADMINS
 * everything.
 */
export type Level = 'read' | 'lead' | 'admin';

/** Text in both languages. */
export interface Bilingual {
  zh: string;
  en: string;
}

/** Who ran a command, from where. */
export interface Caller {
  userId: string;
  role: 'admin' | 'user';
  /** The group chat's id; null in a single chat with the robot. */
  chatId: string | null;
  chatType: 'single' | 'group';
}

/** What a command runs with: the bot's context (its `commands` too, for help), the language to answer in, the caller. */
export interface CommandContext extends BotContext {
  lang: Lang;
  /** Picks the text of the command's language. */
  t(zh: string, en: string): string;
  caller: Caller;
  /** The robot message the command came in (its idempotency root). */
  msgid: string;
}

/**
 * How tokens after the command word become named arguments before zod checks them: `name` takes one token, `...name`
 * the rest of the text as written (a reason, a channel name), `*name` the remaining tokens as a list (tags, owners).
 * Each is given as typed, full-width forms kept; a word the command recognises is folded by the command.
 */
export type ParamSpec = string;

/**
 * One chat command, declared in one file under handlers/commands/ and listed in handlers/commands/index.ts.
 * Everything about it is here: its names, what it takes (zod), who may run it, its help line, whether it is slow,
 * and what it does (a thin call into the domain that returns the markdown answer).
 */
export interface CommandDef<A> {
  /** Its English name (also an alias), e.g. `stats`. */
  name: string;
  /** Chinese and English aliases (the first Chinese one is how help names it in Chinese). */
  aliases: { zh: string[]; en: string[] };
  /** How the tokens after the command word are named (see ParamSpec); `params[i]` takes token i. */
  params: readonly ParamSpec[];
  /** The arguments, checked with zod: a failing field answers with its message and the usage line. */
  args: z.ZodType<A, z.ZodTypeDef, Record<string, unknown>>;
  /** Who may run it; may depend on the arguments (pausing a lead vs. a sequence). Checked before anything happens. */
  permission: Level | ((args: A, ctx: Pick<BotContext, 'sequences' | 'channels'>) => Level);
  /** Usage line after the command word, e.g. `[today|7d|30d] [channel]`. */
  usage: Bilingual;
  /** One line of help. */
  help: Bilingual;
  /**
   * True when the command is answered later through response_url by a job (a WeCom call, a report, a long period):
   * the passive reply says it is working on it.
   */
  slow?: (args: A) => boolean;
  /** Does it; returns the markdown answer. Throws CommandError for an answer that is not a success. */
  run(args: A, ctx: CommandContext): Promise<string>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCommand = CommandDef<any>;

/** Declares a command (an identity function that gives the declaration its types). */
export function defineCommand<A>(def: CommandDef<A>): CommandDef<A> {
  return def;
}

/** How a command ended, as the audit log keeps it. */
export type CommandOutcome =
  | 'ok'
  | 'working'
  | 'refused'
  | 'unknown_command'
  | 'invalid_args'
  | 'not_found'
  | 'ambiguous'
  | 'rejected'
  | 'failed'
  /** A slow command not run: its response_url expired while it waited (nobody would hear its answer). */
  | 'expired';

/** An answer that is not a success (nothing found, several matches, WeCom refused): its text and its outcome. */
export class CommandError extends Error {
  constructor(
    readonly outcome: Exclude<CommandOutcome, 'ok' | 'working'>,
    /** The markdown answer, already in the command's language. */
    readonly answer: string,
  ) {
    super(answer);
    this.name = 'CommandError';
  }
}

/** The picker of one language. */
export function translator(lang: Lang): (zh: string, en: string) => string {
  return (zh, en) => (lang === 'zh' ? zh : en);
}
