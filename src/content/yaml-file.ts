import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { overBytes } from '../text-bytes.js';
import { listFiles } from './list-files.js';

/** Parses YAML text, returning problems prefixed with `file` instead of throwing. */
export function parseYaml(text: string, file: string): { data: unknown; problems: string[] } {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length) return { data: undefined, problems: doc.errors.map((e) => `${file}: YAML ${yamlError(e, text)}`) };
  return { data: doc.toJS(), problems: [] };
}

/** A YAML error in one line: its message (which ends "…at line 4, column 1:" before a code frame) and the line itself. */
function yamlError(e: { message: string; linePos?: [{ line: number; col: number }, ...unknown[]] }, text: string): string {
  const message = e.message.split('\n')[0]!.replace(/:\s*$/, '');
  const line = e.linePos ? text.split(/\r?\n/)[e.linePos[0].line - 1]?.trim() : undefined;
  return line ? `${message}: ${line}` : message;
}

/** A refinement refusing a text over `max` UTF-8 bytes, saying how long it is and by how much to shorten it. */
export const byteLimit =
  (max: number, note = '') =>
  (text: string, ctx: z.RefinementCtx): void => {
    const problem = overBytes(text, max, note);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  };

/** Validates `data` with `schema`, turning zod issues into `file: field: message` problems. */
export function validate<S extends z.ZodTypeAny>(schema: S, data: unknown, file: string): { value?: z.infer<S>; problems: string[] } {
  const parsed = schema.safeParse(data);
  if (parsed.success) return { value: parsed.data, problems: [] };
  return { problems: parsed.error.issues.map((i) => `${file}: ${i.path.join('.') || '(top level)'}: ${i.message}`) };
}

/**
 * Reads every `<dir>/<sub>/<key>.yaml` (or `.yml`) through `parse`, in file-name order. A file's key must match its
 * name; a file with problems (YAML, fields, key) is left out and its problems returned, each naming the file. `left`:
 * the files left out, by name (what other files refer to them by), with their data when it is YAML (for the checks
 * that can still run on the parts of it that pass).
 */
export async function loadKeyedFiles<T extends { key: string }>(
  dir: string,
  sub: string,
  parse: (data: unknown, file: string) => { value?: T; problems: string[] },
): Promise<{ items: Array<{ value: T; data: unknown; file: string }>; problems: string[]; left: Array<{ name: string; data?: unknown; file: string }> }> {
  const folder = path.join(dir, sub);
  const items: Array<{ value: T; data: unknown; file: string }> = [];
  const problems: string[] = [];
  const left: Array<{ name: string; data?: unknown; file: string }> = [];
  for (const name of await listFiles(folder, /\.ya?ml$/)) {
    const file = path.join(folder, name);
    const key = name.replace(/\.ya?ml$/, '');
    const { data, problems: yamlProblems } = parseYaml(await readFile(file, 'utf8'), file);
    problems.push(...yamlProblems);
    if (yamlProblems.length) {
      left.push({ name: key, file });
      continue;
    }
    const { value, problems: p } = parse(data, file);
    problems.push(...p);
    if (!value) left.push({ name: key, data, file });
    else if (value.key !== key) {
      problems.push(`${file}: key: "${value.key}" must match the file name`);
      left.push({ name: key, data, file });
    } else items.push({ value, data, file });
  }
  return { items, problems, left };
}
