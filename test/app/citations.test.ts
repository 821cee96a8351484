import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SELF = path.relative(ROOT, fileURLToPath(import.meta.url));
const TEXT = /\.(ts|js|md|yaml|yml|json|xml|html|css)$/;

function* files(dir: string): Generator<string> {
  for (const name of readdirSync(path.join(ROOT, dir))) {
    const rel = path.join(dir, name);
    if (['node_modules', 'artifacts', '.data'].includes(name)) continue;
    if (statSync(path.join(ROOT, rel)).isDirectory()) yield* files(rel);
    else if (TEXT.test(name)) yield rel;
  }
}

/** Every file whose comments or text may cite another: code, tests, templates and docs. */
const sources = [...['src', 'handlers', 'jobs', 'test', 'templates', 'docs'].flatMap((d) => [...files(d)]), 'README.md', '.env.example'].filter((f) => f !== SELF);

describe('citations', () => {
  it('every repository path a comment or document cites exists (no file outside the repository is cited)', () => {
    // A path from the repository's root, e.g. src/domain/leads/lead-index.ts or docs/ops-guide.md; patterns such as
    // jobs/<kind>.ts or docs/benchmarks*.md are not one file.
    const cited = /\b(?:src|handlers|jobs|test|templates|docs)\/[\w./-]+\.(?:ts|md|yaml|json|xml|html|css)\b/g;
    const missing: string[] = [];
    const outside: string[] = [];
    for (const file of sources) {
      const text = readFileSync(path.join(ROOT, file), 'utf8');
      for (const m of text.matchAll(cited)) {
        const after = text[m.index! + m[0].length];
        if (after === '*' || after === '<') continue;
        if (!existsSync(path.join(ROOT, m[0]))) missing.push(`${file}: ${m[0]}`);
      }
      for (const m of text.matchAll(/\.\.\/shared\/|\b(?:domain|wecom-api(?:-2)?|DEVELOPERS|style)\.md\b/g)) outside.push(`${file}: ${m[0]}`);
    }
    expect(missing).toEqual([]);
    expect(outside).toEqual([]);
  });
});
