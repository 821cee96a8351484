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
