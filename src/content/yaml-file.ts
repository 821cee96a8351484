import { parseDocument } from 'yaml';
import type { z } from 'zod';

/** Parses YAML text, returning problems prefixed with `file` instead of throwing. */
export function parseYaml(text: string, file: string): { data: unknown; problems: string[] } {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length) return { data: undefined, problems: doc.errors.map((e) => `${file}: YAML ${e.message.split('\n')[0]}`) };
  return { data: doc.toJS(), problems: [] };
}

/** Validates `data` with `schema`, turning zod issues into `file: field: message` problems. */
export function validate<S extends z.ZodTypeAny>(schema: S, data: unknown, file: string): { value?: z.infer<S>; problems: string[] } {
  const parsed = schema.safeParse(data);
  if (parsed.success) return { value: parsed.data, problems: [] };
  return { problems: parsed.error.issues.map((i) => `${file}: ${i.path.join('.') || '(top level)'}: ${i.message}`) };
}
