import { bytes, clipBytes, clipChars } from '../text-bytes.js';

/** Placeholders a message template may use. */
export const PLACEHOLDERS = ['name', 'channel'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];

const PLACEHOLDER_RE = /\{\{\s*([^}\s]*)\s*\}\}/g;

/** Names of placeholders in `text` that are not known: templates with any are rejected at load time. */
export function unknownPlaceholders(text: string): string[] {
  return [...text.matchAll(PLACEHOLDER_RE)].map((m) => m[1] ?? '').filter((p) => !(PLACEHOLDERS as readonly string[]).includes(p));
}

/**
 * Double braces left once the placeholders are taken out: a placeholder written wrong (`{{name}`, `{{first name}}`,
 * full-width `｛｛name｝｝`), which render() leaves as it is, so the customer would get the braces. Templates with any
 * are rejected at load time.
 */
export function strayBraces(text: string): string[] {
  return [...text.replace(PLACEHOLDER_RE, '').matchAll(/[{｛]{2}[^{}｛｝]*[}｝]{0,2}|[^{}｛｝\s]*[}｝]{2}/g)].map((m) => m[0]);
}

/** The problem of a text with stray braces, naming the placeholders it may use. */
export const strayBracesMessage = (stray: string[], known: readonly string[]) =>
  `placeholder(s) written wrong: ${stray.map((s) => `"${s}"`).join(', ')}; write ${known.map((p) => `{{${p}}}`).join(', ')}`;

/** Fills `{{name}}`-style placeholders; a missing value renders as empty text. */
export function render(text: string, values: Partial<Record<Placeholder, string | null | undefined>>): string {
  return text.replace(PLACEHOLDER_RE, (_, p: string) => values[p as Placeholder] ?? '');
}

/** Whether a text says nothing but its placeholders (rendered empty for a lead whose name or channel is unknown). */
export function onlyPlaceholders(text: string): boolean {
  return text.replace(PLACEHOLDER_RE, '').trim() === '';
}

/**
 * The longest customer name {{name}} is counted at: 64 characters, WeCom's longest name (a member's name is 1-64
 * characters [D:90195]; a WeChat nickname is shorter), each up to 4 bytes (an emoji), so 256 bytes. Templates are
 * checked with a name this long; a longer one is cut to it when sent.
 */
export const NAME_MAX_CHARS = 64;
/** A name of NAME_MAX_CHARS characters of 4 bytes each: what a template is measured with in place of {{name}}. */
export const LONGEST_NAME = '\u{1F600}'.repeat(NAME_MAX_CHARS);

/**
 * Fills the placeholders of `text` within `max` UTF-8 bytes (a limit WeCom counts the filled text against): the
 * customer's name is cut, to NAME_MAX_CHARS characters and then as far as the text needs, never the text itself
 * (which templates:check measured with the longest name). Only a text over `max` with no name at all is cut.
 */
export function renderWithin(text: string, values: Partial<Record<Placeholder, string | null | undefined>>, max: number): string {
  let name = values.name ? clipChars(values.name, NAME_MAX_CHARS) : values.name;
  let out = render(text, { ...values, name });
  const over = bytes(out) - max;
  const uses = [...text.matchAll(PLACEHOLDER_RE)].filter((m) => m[1] === 'name').length;
  if (over > 0 && name && uses) {
    const room = bytes(name) - Math.ceil(over / uses);
    name = room >= 3 ? clipBytes(name, room) : '';
    out = render(text, { ...values, name });
  }
  return bytes(out) <= max ? out : clipBytes(out, max);
}
