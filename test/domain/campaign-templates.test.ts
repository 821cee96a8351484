import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTemplates } from '../../src/content/index.js';
import { TemplateError } from '../../src/errors.js';
import { templateDir } from '../helpers/template-dir.js';

const FIXTURES = path.resolve('test/fixtures/templates');

/** A copy of the test templates with these campaign files added. */
function templatesWith(files: Record<string, string>): string {
  return templateDir(Object.fromEntries(Object.entries(files).map(([name, text]) => [`campaigns/${name}`, text])), { from: FIXTURES });
}

async function problems(files: Record<string, string>): Promise<string[]> {
  try {
    await loadTemplates(templatesWith(files));
    return [];
  } catch (err) {
    if (!(err instanceof TemplateError)) throw err;
    return err.problems.map((p) => p.replace(/^.*campaigns\//, ''));
  }
}

describe('templates/campaigns/<key>.yaml', () => {
  it('loads a valid campaign (and the fixture draft) with the other templates', async () => {
    const t = await loadTemplates(
      templatesWith({
        'weekly.yaml': 'key: weekly\nname: 每周案例\nsegment: { channels: [expo2026], tags: { any: [行业/制造业] }, addedAfter: 30d }\ncontent: { caseStudy: auto, text: "{{name}}您好" }\nschedule: { cron: "0 10 * * 1", timezone: Asia/Shanghai }\n',
      }),
    );
    expect([...t.campaigns.keys()].sort()).toEqual(['expo-draft', 'weekly']);
    expect(t.campaigns.get('weekly')?.campaign).toMatchObject({ kind: 'marketing', window: '3d', draft: false, segment: { tags: { any: ['行业/制造业'] } } });
    expect(t.campaigns.get('expo-draft')?.campaign.draft).toBe(true);
  });

  it('names the file and the field of every mistake', async () => {
    const found = await problems({
      'a.yaml': 'key: a\nname: 未知序列\ncontent: { sequence: nope }\nschedule: { cron: "0 10 * * 1" }\n',
      'b.yaml': 'key: b\nname: 未知渠道\nsegment: { channels: [nowhere], inSequence: ghost }\ncontent: { text: 您好 }\nschedule: { cron: "0 10 * * 1" }\n',
      'c.yaml': 'key: c\nname: 时间\ncontent: { text: 您好 }\nschedule: { cron: "not a cron" }\n',
      'd.yaml': 'key: d\nname: 两种时间\ncontent: { text: 您好 }\nschedule: { at: "2026-12-01T10:00:00+08:00", cron: "0 10 * * 1" }\n',
      'e.yaml': 'key: other\nname: 文件名\ncontent: { text: 您好 }\nschedule: { at: "2026-12-01T10:00:00+08:00" }\n',
      'f.yaml': 'key: f\nname: 内容\ncontent: { text: "{{公司}}您好", link: { title: x, url: "https://example.com" }, caseStudy: auto }\nschedule: { at: "2026-12-01T10:00" }\n',
      'g.yaml': 'key: g\nname: 分群\nsegment: { stages: [vip], addedAfter: yesterday, colour: red }\ncontent: {}\nschedule: { cron: "0 10 * * 1", timezone: Mars/Base }\n',
    });
    expect(found).toEqual(
      expect.arrayContaining([
        'a.yaml: content.sequence: no sequence "nope" (have: fast, five, slow)',
        'b.yaml: segment.inSequence: no sequence "ghost" (have: fast, five, slow)',
        expect.stringMatching(/^b\.yaml: segment\.channels: no channel "nowhere"/),
        'c.yaml: schedule.cron: is not a cron pattern like "0 10 * * 1"',
        'd.yaml: schedule: give either at (one run) or cron (with timezone)',
        'e.yaml: key: "other" must match the file name',
        'f.yaml: content.text: unknown placeholder(s) {{公司}}',
        'f.yaml: content.caseStudy: a case study is a link of its own: use link or caseStudy, not both',
        'f.yaml: schedule.at: must be an ISO time with its offset, e.g. 2026-12-01T10:00:00+08:00',
        expect.stringMatching(/^g\.yaml: segment\.stages\.0: /),
        expect.stringMatching(/^g\.yaml: segment\.addedAfter: must be a date/),
        expect.stringMatching(/^g\.yaml: segment: Unrecognized key/),
        'g.yaml: content: content needs text, link or caseStudy: auto (or sequence: <key>)',
        'g.yaml: schedule.timezone: is not a known IANA time zone (e.g. Asia/Shanghai)',
      ]),
    );
  });
});
