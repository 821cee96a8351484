import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ConfigError, TemplateError } from '../../src/errors.js';
import { parseChannels } from '../../src/content/channels.js';
import { render } from '../../src/content/render.js';
import { loadTemplates } from '../../src/content/index.js';
import { startTestBot } from '../helpers/test-bot.js';
import { templateDir, templateProblems } from '../helpers/template-dir.js';

const valid = {
  WECOM_CORP_ID: 'ww123',
  WECOM_TOKEN: 'tok',
  WECOM_ENCODING_AES_KEY: 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C',
  WECOM_SECRET: 'super-secret-value',
  WECOM_AGENT_ID: '1000002',
};

describe('configuration', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig(valid);
    expect(c).toMatchObject({ PORT: 3000, ROLE: 'all', WECOM_API_BASE: 'https://qyapi.weixin.qq.com', CALLBACK_MAX_SKEW_SECONDS: 300, TEMPLATES_DIR: './templates' });
    // The ops group's settings: the daily report at 09:00 and the nightly rescore, in Shanghai time; nobody may run
    // commands and nothing under /admin exists until configured.
    expect(c).toMatchObject({ OPS_REPORT_CRON: '0 9 * * *', OPS_TIMEZONE: 'Asia/Shanghai', RESCORE_CRON: '30 3 * * *', OPS_ADMINS: [], OPS_USERIDS: [] });
    expect([c.ADMIN_TOKEN, c.WECOM_ROBOT_TOKEN, c.WECOM_ROBOT_ENCODING_AES_KEY]).toEqual([undefined, undefined, undefined]);
  });

  it('微信客服 and its service clock: the documented defaults, and the ops webhook as its key only', () => {
    const c = loadConfig(valid);
    expect(c.SERVICE_HOURS.text).toBe('Mon-Fri 09:00-18:00');
    expect(c.SERVICE_HOURS.days.map((d) => d.length)).toEqual([1, 1, 1, 1, 1, 0, 0]);
    expect(c).toMatchObject({ SERVICE_TIMEZONE: 'Asia/Shanghai', SERVICE_REPLY_TARGET_SECONDS: 600, KF_REPLIES_PER_MINUTE: 3 });
    // Unset: the kf APIs go with WECOM_SECRET (src/wecom/client.ts), and ops alerts are kept but not posted.
    expect(c.WECOM_KF_SECRET).toBeUndefined();
    expect(c.WECOM_OPS_WEBHOOK_KEY).toBeUndefined();
    const set = loadConfig({ ...valid, SERVICE_HOURS: 'Mon-Fri 09:00-12:00, Sat 10:00-24:00', SERVICE_TIMEZONE: 'Europe/Berlin', SERVICE_REPLY_TARGET_SECONDS: '300', KF_REPLIES_PER_MINUTE: '5', WECOM_KF_SECRET: 'kf-secret', WECOM_OPS_WEBHOOK_KEY: '693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa' });
    expect(set).toMatchObject({ SERVICE_TIMEZONE: 'Europe/Berlin', SERVICE_REPLY_TARGET_SECONDS: 300, KF_REPLIES_PER_MINUTE: 5, WECOM_KF_SECRET: 'kf-secret' });
    expect(set.SERVICE_HOURS.days[5]).toEqual([[600, 1440]]);
    expect(() => loadConfig({ ...valid, SERVICE_TIMEZONE: 'Asia/Peking' })).toThrow(/SERVICE_TIMEZONE/);
    expect(() => loadConfig({ ...valid, SERVICE_REPLY_TARGET_SECONDS: '0' })).toThrow(/SERVICE_REPLY_TARGET_SECONDS/);
    // The whole URL where the key is meant (WeCom answers 93000 to it [D:99110]).
    expect(() => loadConfig({ ...valid, WECOM_OPS_WEBHOOK_KEY: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6' })).toThrow(/WECOM_OPS_WEBHOOK_KEY: must be the key= part/);
  });

  it('lists every problem at once and never echoes a secret', () => {
    const err = (() => {
      try {
        loadConfig({ ...valid, WECOM_CORP_ID: undefined, WECOM_ENCODING_AES_KEY: 'short-secret-aes', ROLE: 'boss', PORT: 'eighty', REDIS_URL: 'http://user:hunter2@x', NURTURE_TIMEZONE: 'Mars/Base' });
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    const keys = err!.problems.map((p) => p.split(':')[0]).sort();
    expect(keys).toEqual(['NURTURE_TIMEZONE', 'PORT', 'REDIS_URL', 'ROLE', 'WECOM_CORP_ID', 'WECOM_ENCODING_AES_KEY']);
    expect(err!.message).not.toContain('short-secret-aes');
    expect(err!.message).not.toContain('hunter2');
  });

  it('takes only an ADMIN_TOKEN that can be sent as "Authorization: Bearer <ADMIN_TOKEN>" (one word of printable ASCII)', () => {
    expect(loadConfig({ ...valid, ADMIN_TOKEN: 'Zx9-_.~!$%&*+/=?^`{|}abc' }).ADMIN_TOKEN).toBe('Zx9-_.~!$%&*+/=?^`{|}abc');
    // A pass phrase with spaces, or a token with other characters, would be refused on every request.
    for (const token of ['correct horse battery staple', 'admin-token-with-a-tab\there', '管理员令牌管理员令牌管理员令牌管理员令牌', 'admin-token-ｆｕｌｌ-width']) {
      let err: ConfigError | undefined;
      try {
        loadConfig({ ...valid, ADMIN_TOKEN: token });
      } catch (e) {
        err = e as ConfigError;
      }
      expect(err, token).toBeInstanceOf(ConfigError);
      expect(err!.problems.map((p) => p.split(':')[0])).toEqual(['ADMIN_TOKEN']);
      expect(err!.message).not.toContain(token);
    }
  });

  it('refuses a PORT that is not a port (over 65535, negative, not a number) at start-up, saying what it must be', () => {
    for (const PORT of ['70000', '-1', 'eighty', '80.5']) {
      expect(() => loadConfig({ ...valid, PORT })).toThrow(/PORT: must be a port number \(0-65535\)/);
    }
    expect(loadConfig({ ...valid, PORT: '65535' }).PORT).toBe(65535);
    expect(() => loadConfig({ ...valid, EVENT_CONCURRENCY: 'many' })).toThrow(/EVENT_CONCURRENCY: must be a whole number/);
  });

  it('parses per-API rate limits and rejects bad ones', () => {
    expect(loadConfig({ ...valid, WECOM_RATE_LIMITS: 'externalcontact/get=100/s, default=9000/m,default=140000/h' }).WECOM_RATE_LIMITS).toEqual({
      'externalcontact/get': [{ limit: 100, windowMs: 1000 }],
      default: [
        { limit: 9000, windowMs: 60_000 },
        { limit: 140_000, windowMs: 3_600_000 },
      ],
    });
    expect(() => loadConfig({ ...valid, WECOM_RATE_LIMITS: 'lots' })).toThrow(/WECOM_RATE_LIMITS/);
  });

  it('limits app messages per member a little under WeCom\'s 30 a minute and 1,000 an hour unless told otherwise', () => {
    expect(loadConfig(valid).WECOM_MEMBER_MESSAGE_LIMITS).toEqual([
      { limit: 25, windowMs: 60_000 },
      { limit: 900, windowMs: 3_600_000 },
    ]);
    expect(loadConfig({ ...valid, WECOM_MEMBER_MESSAGE_LIMITS: '3/s, 20/m' }).WECOM_MEMBER_MESSAGE_LIMITS).toEqual([
      { limit: 3, windowMs: 1000 },
      { limit: 20, windowMs: 60_000 },
    ]);
    expect(loadConfig({ ...valid, WECOM_MEMBER_MESSAGE_LIMITS: 'none' }).WECOM_MEMBER_MESSAGE_LIMITS).toEqual([]);
    expect(() => loadConfig({ ...valid, WECOM_MEMBER_MESSAGE_LIMITS: '0/m' })).toThrow(/WECOM_MEMBER_MESSAGE_LIMITS/);
    expect(() => loadConfig({ ...valid, WECOM_MEMBER_MESSAGE_LIMITS: 'message/send=25/m' })).toThrow(/WECOM_MEMBER_MESSAGE_LIMITS/);
  });

  it('npm start stops with one clear message on bad config (exit 78, no secret)', () => {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', WECOM_SECRET: 'do-not-print-me', WECOM_TOKEN: 'x'.repeat(40) };
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/app/main.ts'], { env, encoding: 'utf8', cwd: process.cwd(), timeout: 30_000 });
    expect(r.status).toBe(78);
    expect(r.stderr).toContain('invalid configuration');
    expect(r.stderr).toContain('WECOM_CORP_ID: is required');
    expect(r.stderr).toContain('WECOM_TOKEN: must be at most 32 characters');
    expect(r.stderr + r.stdout).not.toContain('do-not-print-me');
  });
});

describe('channel templates', () => {
  const file = 'templates/channels.yaml';

  it('loads channels, normalises bare tags to the 渠道 group and adds organic', () => {
    const cat = parseChannels(
      `channels:\n  - key: expo\n    name: 展会\n    tags: [展会, { group: 行业, name: 制造业 }]\n    welcome: { text: "{{name}}您好" }\n`,
      file,
    );
    expect(cat.get('expo')?.tags).toEqual([{ group: '渠道', name: '展会' }, { group: '行业', name: '制造业' }]);
    expect(cat.resolve('nope').key).toBe('organic');
    expect(cat.resolve(undefined).key).toBe('organic');
  });

  it('names file, channel and field for every problem', () => {
    const yaml = [
      'channels:',
      '  - key: "bad key!"',
      '    name: A',
      '  - key: ok',
      '    name: B',
      '    welcome: { text: "hi {{nmae}}" }',
      '  - key: ok',
      '    name: C',
      '  - key: long',
      '    name: D',
      `    tags: [${'长'.repeat(31)}]`,
      '    welcome: {}',
    ].join('\n');
    let problems: string[] = [];
    try {
      parseChannels(yaml, file);
    } catch (e) {
      problems = (e as TemplateError).problems;
    }
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^templates\/channels\.yaml: channel #1 \(bad key!\): key: must be 1-30/),
        expect.stringMatching(/channel #2 \(ok\): welcome\.text: unknown placeholder\(s\) \{\{nmae\}\}/),
        expect.stringMatching(/channel #4 \(long\): tags\.0: WeCom allows at most 30 characters/),
        expect.stringMatching(/channel #4 \(long\): welcome: a welcome needs text, link or both/),
      ]),
    );
  });

  it('rejects duplicate keys and YAML syntax errors', () => {
    expect(() => parseChannels('channels:\n  - { key: a, name: A }\n  - { key: a, name: B }\n', file)).toThrow(/channel a: key: duplicate/);
    expect(() => parseChannels('channels: [ { key: a', file)).toThrow(/templates\/channels\.yaml: YAML/);
    // The problem names its place and shows the line (the parser's message ends in a colon before a code frame).
    expect(() => parseChannels('channels:\n  - key: a\n    name: A\n   bad: [x\n', file)).toThrow('templates/channels.yaml: YAML Sequence item without - indicator at line 4, column 1: bad: [x');
  });

  it('fills placeholders, missing values render empty', () => {
    expect(render('{{name}}您好，感谢在{{channel}}交流', { name: '王', channel: '展会' })).toBe('王您好，感谢在展会交流');
    expect(render('{{ name }}您好', {})).toBe('您好');
  });

  it('npm run templates:check passes on the shipped templates and fails with precise errors', () => {
    const ok = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/templates-check.ts'], { encoding: 'utf8', timeout: 30_000 });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('expo2026');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tpl-'));
    writeFileSync(path.join(dir, 'channels.yaml'), 'channels:\n  - key: x\n    name: X\n    welcome: { text: "{{oops}}" }\n');
    const bad = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/templates-check.ts'], { encoding: 'utf8', env: { ...process.env, TEMPLATES_DIR: dir }, timeout: 30_000 });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('channel #1 (x): welcome.text: unknown placeholder(s) {{oops}}');
  });
});

describe('sequence and case study templates', () => {
  const dirWith = (files: Record<string, string>) => templateDir(files);

  it('loads the shipped templates', async () => {
    const t = await loadTemplates('templates');
    expect(t.sequences.get('onboarding')?.steps.map((s) => s.delay)).toEqual([86_400_000, 172_800_000, 259_200_000, 259_200_000]);
    expect(t.cases.map((c) => c.slug)).toContain('manufacturing-lighthouse');
  });

  it("a sequence's quiet hours without a timezone are in NURTURE_TIMEZONE (given to the loader); one named stays", async () => {
    const dir = dirWith({
      'sequences/plain.yaml': 'key: plain\nname: P\nquietHours: { start: "21:00", end: "09:00" }\nsteps:\n  - { delay: 1d, text: 你好 }\n',
      'sequences/named.yaml': 'key: named\nname: N\nquietHours: { start: "21:00", end: "09:00", timezone: Asia/Tokyo }\nsteps:\n  - { delay: 1d, text: 你好 }\n',
    });
    const berlin = await loadTemplates(dir, { nurtureTimezone: 'Europe/Berlin' });
    expect(berlin.sequences.get('plain')?.quietHours).toEqual({ start: '21:00', end: '09:00', timezone: 'Europe/Berlin' });
    expect(berlin.sequences.get('named')?.quietHours?.timezone).toBe('Asia/Tokyo');
    expect((await loadTemplates(dir)).sequences.get('plain')?.quietHours?.timezone).toBe('Asia/Shanghai');
    // The bot gives the loader its NURTURE_TIMEZONE.
    const t = await startTestBot('seq_tz', { env: { NURTURE_TIMEZONE: 'Europe/Berlin', TEMPLATES_DIR: dir } });
    try {
      expect(t.bot.ctx.sequences.get('plain')?.quietHours?.timezone).toBe('Europe/Berlin');
    } finally {
      await t.stop();
    }
  });

  it('names file and field for every problem, across all template kinds at once', async () => {
    const dir = dirWith({
      'channels.yaml': 'channels:\n  - key: a\n    name: A\n    sequence: missing\n',
      'sequences/s1.yaml': 'key: s1\nname: S\nstopOn: [sometimes]\nquietHours: { start: "25:00", end: "09:00", timezone: Mars/Base }\nsteps:\n  - delay: 1w\n    text: "{{nmae}}"\n  - delay: 1d\n',
      'sequences/other.yaml': 'key: s2\nname: S\nsteps:\n  - { delay: 1d, text: hi }\n',
      'sequences/s3.yaml': 'key: s3\nname: S\nquietHours: { start: "21:00", end: "21:00" }\nsteps:\n  - { delay: 1d, text: hi, when: { stage: [] } }\n  - { delay: 1d, text: " {{name}} " }\n',
      'cases/c1.md': '---\nslug: c1\ntitle: T\nindustries: []\nurl: not-a-url\nsummary: s\n---\nbody\n',
      'cases/c2.md': 'no front matter here',
    });
    const problems = await templateProblems(dir);
    expect(problems).toEqual(
      expect.arrayContaining([
        'channels.yaml: channel a: sequence: no sequence "missing" in sequences/ (have: none)',
        expect.stringMatching(/^sequences\/s1\.yaml: stopOn\.0: /),
        'sequences/s1.yaml: quietHours.start: must be HH:MM (24 h)',
        'sequences/s1.yaml: quietHours.timezone: is not a known IANA time zone (e.g. Asia/Shanghai)',
        'sequences/s1.yaml: steps.0.delay: must be a number and a unit s, m, h or d (e.g. 1d)',
        'sequences/s1.yaml: steps.0.text: unknown placeholder(s) {{nmae}}',
        'sequences/s1.yaml: steps.1: a step needs text, link or caseStudy',
        'sequences/other.yaml: key: "s2" must match the file name',
        // Written by mistake: quiet hours from a time to itself (none at all), a step for an empty list of stages (no lead).
        'sequences/s3.yaml: quietHours.end: start and end are the same time, which makes no quiet hours: leave quietHours out for none',
        'sequences/s3.yaml: steps.0.when.stage: lists at least one stage (leave `stage` out for any)',
        'sequences/s3.yaml: steps.1.text: says nothing but placeholders: a lead whose name is not known would get an empty message',
        expect.stringMatching(/^cases\/c1\.md: industries: list at least one industry/),
        'cases/c1.md: url: Invalid url',
        'cases/c2.md: front matter: the file must start with YAML between two --- lines',
      ]),
    );
  });

  it('refuses a step with both a link and a case study (the case study is the message\'s one link)', async () => {
    const dir = dirWith({
      'sequences/s.yaml': 'key: s\nname: S\nsteps:\n  - { delay: 1d, text: 看看这个, link: { title: 清单, url: "https://example.com/l" }, caseStudy: auto }\n',
      'cases/c.md': '---\nslug: c\ntitle: T\nindustries: [通用]\nurl: https://example.com/c\nsummary: s\n---\n',
    });
    await expect(loadTemplates(dir)).rejects.toThrow(`${path.join(dir, 'sequences', 's.yaml')}: steps.0.caseStudy: a case study is a link of its own: use link or caseStudy, not both`);
  });

  it('measures a link\'s title and description in bytes, as WeCom does (128 and 512: a Chinese character is 3)', async () => {
    const title = '某汽车零部件厂排产效率提升'.repeat(4); // 52 characters, 156 bytes
    const desc = '交期达成率从七成八到九成五'.repeat(14); // 182 characters, 546 bytes
    const dir = dirWith({
      'channels.yaml': `channels:\n  - key: a\n    name: A\n    welcome: { link: { title: ${title}, url: "https://example.com/w", desc: ${desc} } }\n`,
      'sequences/s.yaml': `key: s\nname: S\nsteps:\n  - { delay: 1d, link: { title: ${title}, url: "https://example.com/l", desc: ${desc} } }\n`,
      'cases/c.md': `---\nslug: c\ntitle: ${title}\nindustries: [通用]\nurl: https://example.com/c\nsummary: ${desc}\n---\n`,
    });
    const problems = await templateProblems(dir);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^channels\.yaml: channel #1 \(a\): welcome\.link\.title: must be at most 128 bytes/),
        expect.stringMatching(/^channels\.yaml: channel #1 \(a\): welcome\.link\.desc: must be at most 512 bytes/),
        expect.stringMatching(/^sequences\/s\.yaml: steps\.0\.link\.title: must be at most 128 bytes/),
        expect.stringMatching(/^sequences\/s\.yaml: steps\.0\.link\.desc: must be at most 512 bytes/),
        expect.stringMatching(/^cases\/c\.md: title: must be at most 128 bytes/),
        expect.stringMatching(/^cases\/c\.md: summary: must be at most 512 bytes/),
      ]),
    );
  });

  it('refuses a placeholder written wrong, which would reach the customer as written', async () => {
    const dir = dirWith({
      'channels.yaml': 'channels:\n  - key: a\n    name: A\n    welcome: { text: "{{name}您好，感谢在{{channel}}交流" }\n',
      'sequences/s.yaml': 'key: s\nname: S\nsteps:\n  - { delay: 1d, text: "｛｛name｝｝您好" }\n  - { delay: 1d, text: "{{first name}}您好，{{name}}" }\n',
      'replies.yaml': 'intents:\n  - key: hi\n    keywords: [你好]\n    reply: { text: "{ {name}}您好，服务时间 {{hours}}" }\n',
    });
    const problems = await templateProblems(dir);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^channels\.yaml: channel #1 \(a\): welcome\.text: placeholder\(s\) written wrong: "\{\{name\}"/),
        expect.stringMatching(/^sequences\/s\.yaml: steps\.0\.text: placeholder\(s\) written wrong: "｛｛name｝｝"/),
        expect.stringMatching(/^sequences\/s\.yaml: steps\.1\.text: placeholder\(s\) written wrong: "\{\{first name\}\}"/),
        expect.stringMatching(/^replies\.yaml: intent hi: reply\.text: placeholder\(s\) written wrong: "name\}\}"/),
      ]),
    );
  });

  it('a channel naming a sequence by its name, not its key, is told which sequences there are', async () => {
    const dir = dirWith({
      'channels.yaml': 'channels:\n  - key: a\n    name: A\n    sequence: 新客培育\n',
      'sequences/onboarding.yaml': 'key: onboarding\nname: 新客培育\nsteps:\n  - { delay: 1d, text: 您好 }\n',
    });
    await expect(loadTemplates(dir)).rejects.toThrow(`${path.join(dir, 'channels.yaml')}: channel a: sequence: no sequence "新客培育" in sequences/ (have: onboarding)`);
  });

  it('reads a case study saved with a byte-order mark (as some Windows editors save UTF-8), as it reads YAML files', async () => {
    const dir = dirWith({ 'cases/c.md': '\uFEFF---\r\nslug: c\r\ntitle: T\r\nindustries: [通用]\r\nurl: https://example.com/c\r\nsummary: s\r\n---\r\n正文\r\n' });
    expect((await loadTemplates(dir)).cases.map((c) => [c.slug, c.body])).toEqual([['c', '正文']]);
  });

  it('refuses a step delay past 36500d (100 years), which no date can hold', async () => {
    const dir = dirWith({ 'sequences/s.yaml': 'key: s\nname: S\nsteps:\n  - { delay: 36500d, text: 一 }\n  - { delay: 99999999999d, text: 二 }\n' });
    await expect(loadTemplates(dir)).rejects.toThrow(`${path.join(dir, 'sequences', 's.yaml')}: steps.1.delay: must be at most 36500d`);
  });

  it('says what stopOn takes when a stage is written as a YAML pair (stage: qualified)', async () => {
    const dir = dirWith({ 'sequences/s.yaml': 'key: s\nname: S\nstopOn: [reply, stage: qualified]\nsteps:\n  - { delay: 1d, text: 您好 }\n' });
    await expect(loadTemplates(dir)).rejects.toThrow(`${path.join(dir, 'sequences', 's.yaml')}: stopOn.1: must be reply, unsubscribe, churn or "stage:<`);
  });

  it('npm start refuses invalid templates with exit 78 and the list of problems', () => {
    const dir = dirWith({ 'channels.yaml': 'channels:\n  - key: x\n    name: X\n    sequence: nope\n' });
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...valid, TEMPLATES_DIR: dir };
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/app/main.ts'], { env, encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(78);
    expect(r.stderr).toContain('channel x: sequence: no sequence "nope"');
  });
});


describe('.env.example', () => {
  it('documents every configuration variable, and nothing that is not one (besides the dev-only SANDBOX_PORT)', async () => {
    const { readFileSync } = await import('node:fs');
    const { envSchema } = await import('../../src/config.js');
    const documented = new Set([...readFileSync('.env.example', 'utf8').matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]!));
    const known = Object.keys(envSchema.shape);
    expect(known.filter((k) => !documented.has(k))).toEqual([]);
    expect([...documented].filter((k) => !known.includes(k) && k !== 'SANDBOX_PORT')).toEqual([]);
  });
});
