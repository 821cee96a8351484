/** Placeholders a message template may use. */
export const PLACEHOLDERS = ['name', 'channel'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];

const PLACEHOLDER_RE = /\{\{\s*([^}\s]*)\s*\}\}/g;

/** Names of placeholders in `text` that are not known: templates with any are rejected at load time. */
export function unknownPlaceholders(text: string): string[] {
  return [...text.matchAll(PLACEHOLDER_RE)].map((m) => m[1] ?? '').filter((p) => !(PLACEHOLDERS as readonly string[]).includes(p));
}

/** Fills `{{name}}`-style placeholders; a missing value renders as empty text. */
export function render(text: string, values: Partial<Record<Placeholder, string | null | undefined>>): string {
  return text.replace(PLACEHOLDER_RE, (_, p: string) => values[p as Placeholder] ?? '');
}
