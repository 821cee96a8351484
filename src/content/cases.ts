import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { listFiles } from './list-files.js';
import { linkDesc, linkTitle } from './sequences.js';
import { parseYaml, validate } from './yaml-file.js';

/** An industry value marking a case study as general: sent when no case matches the lead's industry. */
export const GENERAL_INDUSTRY = '通用';

const caseSchema = z
  .object({
    slug: z.string().regex(/^[a-z0-9-]+$/, 'must be lowercase letters, digits and -'),
    // A case study goes out as a link card: title and summary are its title and description [D:92135].
    title: linkTitle,
    industries: z.array(z.string().min(1)).min(1, `list at least one industry (or ${GENERAL_INDUSTRY} for a general case)`),
    roles: z.array(z.enum(['decision-maker', 'manager', 'user'])).optional(),
    url: z.string().url(),
    picurl: z.string().url().optional(),
    summary: z.string().min(1).pipe(linkDesc),
  })
  .strict();

export type CaseStudy = z.infer<typeof caseSchema> & { body: string };

/** Loads every `<dir>/cases/<slug>.md` (YAML front matter between `---` lines, then the body). */
export async function loadCases(dir: string): Promise<{ cases: CaseStudy[]; problems: string[] }> {
  const folder = path.join(dir, 'cases');
  const cases: CaseStudy[] = [];
  const problems: string[] = [];
  for (const name of await listFiles(folder, /\.md$/)) {
    const file = path.join(folder, name);
    // A byte-order mark (some editors start UTF-8 files with one) is not text, as the YAML parser also reads it.
    const text = (await readFile(file, 'utf8')).replace(/^\uFEFF/, '');
    const m = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?([\s\S]*)$/.exec(text);
    if (!m) {
      problems.push(`${file}: front matter: the file must start with YAML between two --- lines`);
      continue;
    }
    const { data, problems: yamlProblems } = parseYaml(m[1]!, file);
    problems.push(...yamlProblems);
    if (yamlProblems.length) continue;
    const { value, problems: p } = validate(caseSchema, data, file);
    problems.push(...p);
    if (!value) continue;
    if (value.slug !== name.replace(/\.md$/, '')) problems.push(`${file}: slug: "${value.slug}" must match the file name`);
    else cases.push({ ...value, body: m[2]!.trim() });
  }
  return { cases, problems };
}
