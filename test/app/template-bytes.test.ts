import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTemplates } from '../../src/content/index.js';
import type { TemplateError } from '../../src/errors.js';

function dirWith(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tpl-bytes-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

/** What loadTemplates refuses `dir` for, each problem with its path relative to `dir` (none: []). */
async function templateProblems(dir: string, opts: Parameters<typeof loadTemplates>[1] = {}): Promise<string[]> {
  try {
    await loadTemplates(dir, opts);
    return [];
  } catch (e) {
    return (e as TemplateError).problems.map((p) => p.replace(dir + path.sep, ''));
  }
}

describe('a channel welcome is measured as sent, placeholders filled', () => {
  it('refuses a welcome under 4000 bytes as written that {{name}} at its longest (64 characters) takes over [D:92137]', async () => {
    const text = `{{name}}您好，${'欢'.repeat(1300)}`; // 3,909 bytes as written; 4,165 with a 64-emoji name
    const dir = dirWith({ 'channels.yaml': `channels:\n  - key: a\n    name: 展会\n    welcome: { text: "${text}" }\n` });
    expect(await templateProblems(dir)).toEqual([
      'channels.yaml: channel #1 (a): welcome.text: filled in, with {{channel}} as "展会" and {{name}} at its longest (64 characters, 256 bytes), the welcome is 4165 bytes, over WeCom\'s 4000 [D:92137]: shorten it by 165 bytes',
    ]);
  });

  it('counts {{channel}} as the channel\'s own name, and takes a welcome that fits with the longest name', async () => {
    const fits = `{{name}}您好，${'欢'.repeat(1240)}`; // 3,729 bytes, 3,985 with the longest name
    expect(await templateProblems(dirWith({ 'channels.yaml': `channels:\n  - key: a\n    name: 展会\n    welcome: { text: "${fits}" }\n` }))).toEqual([]);
    const withChannel = `感谢在{{channel}}交流，${'欢'.repeat(1320)}`;
    const problems = await templateProblems(dirWith({ 'channels.yaml': `channels:\n  - key: a\n    name: ${'展'.repeat(20)}\n    welcome: { text: "${withChannel}" }\n` }));
    expect(problems).toEqual([expect.stringMatching(/^channels\.yaml: channel #1 \(a\): welcome\.text: filled in, with \{\{channel\}\} as "展+" .* is 4038 bytes, over WeCom's 4000 \[D:92137\]: shorten it by 38 bytes$/)]);
  });
});
