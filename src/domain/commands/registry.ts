import type { AnyCommand, Lang } from './command.js';

/** A word's command and the language of the alias it used. */
export interface CommandMatch {
  command: AnyCommand;
  lang: Lang;
  /** The alias as written in the registry. */
  alias: string;
}

const fold = (s: string) => s.toLowerCase();

/**
 * Every chat command by name and alias. Mistakes fail when the command is added (at start-up), not when someone types
 * it: a duplicate name or alias, an alias with a space, a rest parameter that is not last.
 */
export class CommandRegistry {
  private readonly commands: AnyCommand[] = [];
  private readonly byAlias = new Map<string, CommandMatch>();

  /** Adds a command. */
  add(command: AnyCommand): this {
    if (!/^[a-z][a-z0-9-]*$/.test(command.name)) throw new Error(`command name "${command.name}" must be lower-case letters, digits or -`);
    if (!command.aliases.zh.length) throw new Error(`command "${command.name}" needs a Chinese alias`);
    const rest = command.params.findIndex((p) => p.startsWith('...') || p.startsWith('*'));
    if (rest >= 0 && rest !== command.params.length - 1) throw new Error(`command "${command.name}": "${command.params[rest]}" takes the rest, so it must be the last parameter`);
    const aliases: Array<[string, Lang]> = [
      [command.name, 'en'],
      ...command.aliases.en.map((a): [string, Lang] => [a, 'en']),
      ...command.aliases.zh.map((a): [string, Lang] => [a, 'zh']),
    ];
    for (const [alias, lang] of aliases) {
      if (!alias || /\s/.test(alias)) throw new Error(`command "${command.name}": alias "${alias}" must be one word`);
      const taken = this.byAlias.get(fold(alias));
      if (taken && taken.command !== command) throw new Error(`command "${command.name}": alias "${alias}" is already "${taken.command.name}"'s`);
      if (!taken) this.byAlias.set(fold(alias), { command, lang, alias });
    }
    if (this.commands.some((c) => c.name === command.name)) throw new Error(`command "${command.name}" is added twice`);
    this.commands.push(command);
    return this;
  }

  /** The command a word names (English case-insensitively), with the language of the alias used. */
  find(word: string): CommandMatch | null {
    return this.byAlias.get(fold(word)) ?? null;
  }

  /** Every command, in the order added. */
  list(): readonly AnyCommand[] {
    return this.commands;
  }

  /**
   * The alias closest to a word no command has (edit distance, a swap of two letters counting once), preferring
   * aliases in the word's language on a tie; null when nothing is remotely close.
   */
  suggest(word: string, lang: Lang): CommandMatch | null {
    const w = fold(word);
    let best: { m: CommandMatch; d: number } | null = null;
    for (const [alias, m] of this.byAlias) {
      // Only the names help shows (the English name and the first Chinese alias): a suggestion must be one the caller
      // can find in help.
      if (!isShown(m)) continue;
      const d = editDistance(w, alias);
      if (!best || d < best.d || (d === best.d && m.lang === lang && best.m.lang !== lang)) best = { m, d };
    }
    if (!best) return null;
    // Further than half the word away is a guess, not a suggestion.
    return best.d <= Math.max(2, Math.ceil([...w].length / 2)) ? best.m : null;
  }
}

/** Whether help shows this alias of its command (command.ts: name, and aliases.zh[0]). */
function isShown(m: CommandMatch): boolean {
  return m.alias === m.command.name || m.alias === m.command.aliases.zh[0];
}

/** Optimal string alignment distance over code points (Chinese characters count one each). */
export function editDistance(a: string, b: string): number {
  const s = [...a];
  const t = [...b];
  const d: number[][] = Array.from({ length: s.length + 1 }, (_, i) => Array.from({ length: t.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= s.length; i++) {
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[s.length]![t.length]!;
}
