import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// docs/architecture.md, "Import rules": a layer imports only from the layers below it (type-only imports aside: the
// context's types describe every part).

/** Modules that import nothing of ours but each other, so that every layer may use them. */
const LEAVES = ['src/settings/', 'src/domain/vocabulary.ts', 'src/cron-pattern.ts', 'src/group-commit.ts', 'src/text-bytes.ts', 'src/with-timeout.ts'];
const LAYERS: Array<[number, string[]]> = [
  [6, ['src/app/']],
  [5, ['handlers/', 'jobs/']],
  [4, ['src/http/']],
  [3, ['src/domain/']],
  [2, ['src/store/', 'src/content/', 'src/queues/', 'src/inbox/', 'src/wecom/']],
  [1, ['src/redis/', 'src/config.ts', 'src/errors.ts', 'src/logger.ts', 'src/metrics.ts']],
];

/** A file's layer (0: a leaf), or null for what the rules leave out (the CLIs, dev, the sandbox, the context's types). */
function layerOf(file: string): number | null {
  if (LEAVES.some((p) => file.startsWith(p))) return 0;
  for (const [n, prefixes] of LAYERS) if (prefixes.some((p) => file.startsWith(p))) return n;
  return null;
}

function* sources(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) yield* sources(p);
    else if (/\.(ts|js)$/.test(name)) yield p.split(path.sep).join('/');
  }
}

/** Every relative import or re-export a file makes that is not type-only, as a repository path. */
function valueImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const m of text.matchAll(/^(?:import|export)\s+(type\s+)?[^;]*?\sfrom\s+'(\.[^']+)'/gms)) {
    if (m[1]) continue;
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), m[2]!));
    const ts = target.replace(/\.js$/, '.ts');
    found.push(statSync(ts, { throwIfNoEntry: false }) ? ts : target);
  }
  return found;
}

describe('import rules', () => {
  it('no module imports from a layer above its own, the leaves import only leaves, and only src/app imports handlers/ or jobs/', () => {
    const broken: string[] = [];
    for (const root of ['src', 'handlers', 'jobs']) {
      for (const file of sources(root)) {
        const layer = layerOf(file);
        for (const target of valueImports(file)) {
          const to = layerOf(target);
          if (/^(handlers|jobs)\//.test(target) && file.startsWith('src/') && !file.startsWith('src/app/')) broken.push(`${file} -> ${target}`);
          else if (layer === 0 && to !== 0) broken.push(`${file} -> ${target} (a leaf)`);
          else if (layer !== null && to !== null && to > layer) broken.push(`${file} -> ${target}`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it('sees an import that breaks them', () => {
    expect(layerOf('src/config.ts')).toBe(1);
    expect(layerOf('src/domain/kf/service-hours.ts')).toBe(3);
    expect(valueImports('src/domain/kf/service-hours.ts')).toContain('src/settings/service-hours.ts');
    expect(valueImports('src/domain/kf/service-hours.ts').filter((t) => t.endsWith('service-hours.ts'))).toEqual(['src/settings/service-hours.ts']);
  });
});
