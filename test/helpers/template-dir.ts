import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadTemplates } from '../../src/content/index.js';
import type { TemplateError } from '../../src/errors.js';

/**
 * A templates folder in a temp dir: a copy of `from` when given, then `files` (paths relative to the folder, e.g.
 * `sequences/s.yaml`) written over it.
 */
export function templateDir(files: Record<string, string>, opts: { from?: string } = {}): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tpl-'));
  if (opts.from) cpSync(opts.from, dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

/** What loadTemplates refuses `dir` for, each problem with its path relative to `dir` (none: []). */
export async function templateProblems(dir: string, opts: Parameters<typeof loadTemplates>[1] = {}): Promise<string[]> {
  try {
    await loadTemplates(dir, opts);
    return [];
  } catch (e) {
    return (e as TemplateError).problems.map((p) => p.replace(dir + path.sep, ''));
  }
}
