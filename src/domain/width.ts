/**
 * Full-width forms (a Chinese keyboard types them): letters, digits, punctuation (U+FF01–U+FF5E) and the ideographic
 * space (U+3000), each of which has one half-width (ASCII) twin.
 */
const FULL_WIDTH = /[\uff01-\uff5e\u3000]/gu;

/**
 * Text with its full-width forms as their half-width twins, one character for one (so offsets hold): what a word is
 * recognised by (a command, `７ｄ`, `Ａ`) and how a typed name is compared with a stored one. Never what is stored.
 */
export function foldWidth(text: string): string {
  return text.replace(FULL_WIDTH, (c) => (c === '\u3000' ? ' ' : String.fromCharCode(c.charCodeAt(0) - 0xfee0)));
}

/** Whether two names are the same but for full-width forms and, with `caseless`, letter case. */
export function sameName(a: string | null | undefined, b: string | null | undefined, opts: { caseless?: boolean } = {}): boolean {
  if (a == null || b == null) return false;
  const fold = (s: string) => (opts.caseless ? foldWidth(s).toLowerCase() : foldWidth(s));
  return fold(a) === fold(b);
}

/**
 * A regular expression source matching `text` whatever the width of its characters: each character that has a
 * full-width twin matches either form (`（` and `(`, `Ａ` and `A`, the ideographic space and a space); the rest is
 * escaped. For a query on stored names (MongoDB `$regex`; FerretDB runs it as a Go regular expression).
 */
export function widthInsensitiveSource(text: string): string {
  let out = '';
  for (const c of text) {
    const half = foldWidth(c);
    if (half === c && !/[\x20-\x7e]/.test(c)) {
      out += c;
      continue;
    }
    const full = half === ' ' ? '\u3000' : String.fromCharCode(half.charCodeAt(0) + 0xfee0);
    out += `[${escapeInClass(half)}${full}]`;
  }
  return out;
}

/** A character as a literal inside a character class (ASCII punctuation escaped: Go and JavaScript read it so). */
function escapeInClass(c: string): string {
  return /[!-/:-@[-`{-~]/.test(c) ? `\\${c}` : c;
}
