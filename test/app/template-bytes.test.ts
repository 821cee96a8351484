import { describe, expect, it } from 'vitest';
import { LONGEST_NAME, render } from '../../src/content/render.js';
import { campaignKeyBytes, KF_REPLY_KEY_BYTES, LINK_BOUNDS, longestTrackedUrl, nurtureKeyBytes } from '../../src/content/kf-text.js';
import { trackedUrl } from '../../src/domain/delivery/tracked-links.js';
import { nurtureDeliveryKey } from '../../src/domain/nurture/policy.js';
import { enrollmentId } from '../../src/store/models/enrollment.js';
import { campaignDeliveryKey } from '../../src/domain/campaigns/send-record.js';
import { leadId } from '../../src/store/models/lead.js';
import { bytes, linkLine, withLinkLine } from '../../src/text-bytes.js';
import { describeServiceHours, parseServiceHours, type ServiceHours } from '../../src/domain/kf/service-hours.js';
import { templateDir, templateProblems } from '../helpers/template-dir.js';

const dirWith = (files: Record<string, string>) => templateDir(files);

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

describe('a 微信客服 text is measured with its link line, as kf/send_msg gets it (2048 bytes [D:94677])', () => {
  const w = (n: number) => 'w'.repeat(n);
  const lead = { corpId: w(LINK_BOUNDS.corpId), externalUserId: w(LINK_BOUNDS.externalUserId) };
  const caseMd = (slug: string, title: string) => `---\nslug: ${slug}\ntitle: ${title}\nindustries: [通用]\nurl: https://example.com/cases/${slug}\nsummary: 摘要\n---\n正文\n`;

  it('counts a tracked link at exactly the length the bot makes it, with ids at their bounds', () => {
    const url = 'https://example.com/cases/甲厂?a=1';
    const nurtureKey = nurtureDeliveryKey(enrollmentId(lead.corpId, lead.externalUserId, 'onboarding'), 3);
    expect(bytes(nurtureKey)).toBeLessThanOrEqual(nurtureKeyBytes('onboarding', 3));
    const base = `https://${w(LINK_BOUNDS.baseUrl - 8)}`;
    const made = trackedUrl(base, 'secret-secret-secret', { url, lead, deliveryKey: w(nurtureKeyBytes('onboarding', 3)), caseSlug: 'mfg-a' });
    expect(bytes(made)).toBe(longestTrackedUrl(undefined, url, nurtureKeyBytes('onboarding', 3), 'mfg-a'));
    // A base longer than the bound counts as itself.
    const long = `https://${w(100)}.example.com/`;
    expect(bytes(trackedUrl(long, 'secret-secret-secret', { url, lead, deliveryKey: w(40), caseSlug: null }))).toBe(longestTrackedUrl(long, url, 40));
    // The other delivery keys fit their bounds.
    expect(bytes(`kf-reply|${w(LINK_BOUNDS.openKfid)}|${w(LINK_BOUNDS.msgid)}`)).toBeLessThanOrEqual(KF_REPLY_KEY_BYTES);
    expect(bytes(campaignDeliveryKey('webinar|20261201T020000Z', leadId(lead.corpId, lead.externalUserId)))).toBeLessThanOrEqual(campaignKeyBytes('webinar'));
  });

  it('refuses a step whose text fits 2048 bytes alone but not with its link line, naming file and field; the same text alone is taken', async () => {
    const text = '培'.repeat(600); // 1,800 bytes
    const withLink = dirWith({ 'sequences/s.yaml': `key: s\nname: S\nsteps:\n  - { delay: 1d, text: ${text}, link: { title: 清单, url: "https://example.com/l" } }\n` });
    expect(await templateProblems(withLink)).toEqual([
      "sequences/s.yaml: steps.0.text: on the 微信客服 route the text and its link line make up to 2217 bytes (tracked links up to 407 bytes), over kf/send_msg's 2048 [D:94677], so the text would be cut: shorten it by 169 bytes",
    ]);
    expect(await templateProblems(dirWith({ 'sequences/s.yaml': `key: s\nname: S\nsteps:\n  - { delay: 1d, text: ${text} }\n` }))).toEqual([]);
    // 169 bytes shorter (57 characters of 3 bytes), it fits.
    const fits = dirWith({ 'sequences/s.yaml': `key: s\nname: S\nsteps:\n  - { delay: 1d, text: ${'培'.repeat(543)}, link: { title: 清单, url: "https://example.com/l" } }\n` });
    expect(await templateProblems(fits)).toEqual([]);
  });

  it('takes the longest text that goes whole with its link line (as the 客服 send builds it), and refuses one byte more', async () => {
    const url = 'https://example.com/l';
    const made = trackedUrl(`https://${w(LINK_BOUNDS.baseUrl - 8)}`, 'secret-secret-secret', { url, lead, deliveryKey: nurtureDeliveryKey(enrollmentId(lead.corpId, lead.externalUserId, 's'), 0), caseSlug: null });
    const line = linkLine('清单', made);
    const longest = 'a'.repeat(2048 - 1 - bytes(line));
    expect(withLinkLine(longest, line, 2048)).toBe(`${longest}\n${line}`); // sent whole
    const step = (text: string) => dirWith({ 'sequences/s.yaml': `key: s\nname: S\nsteps:\n  - { delay: 1d, text: ${text}, link: { title: 清单, url: "${url}" } }\n` });
    expect(await templateProblems(step(longest))).toEqual([]);
    expect(await templateProblems(step(`${longest}a`))).toEqual([expect.stringMatching(/^sequences\/s\.yaml: steps\.0\.text: .*shorten it by 1 bytes$/)]);
    expect(withLinkLine(`${longest}a`, line, 2048)).not.toContain(`${longest}a`); // which would have been cut
  });

  it('counts {{name}} at its longest (64 characters) and {{channel}} as the longest channel name, as the 客服 send fills them', async () => {
    const url = 'https://example.com/l';
    const made = trackedUrl(`https://${w(LINK_BOUNDS.baseUrl - 8)}`, 'secret-secret-secret', { url, lead, deliveryKey: nurtureDeliveryKey(enrollmentId(lead.corpId, lead.externalUserId, 's'), 0), caseSlug: null });
    const line = linkLine('清单', made);
    // As written, exactly the longest text that goes whole with the link line.
    const text = `{{name}}${'a'.repeat(2048 - 1 - bytes(line) - '{{name}}'.length)}`;
    const step = (t: string) => `key: s\nname: S\nsteps:\n  - { delay: 1d, text: "${t}", link: { title: 清单, url: "${url}" } }\n`;
    // A customer with a long name (64 emoji) gets it cut: the send fills the name, then cuts the text to keep the link.
    const sent = withLinkLine(render(text, { name: LONGEST_NAME }), line, 2048);
    expect(sent).not.toContain(render(text, { name: LONGEST_NAME }));
    expect(await templateProblems(dirWith({ 'sequences/s.yaml': step(text) }))).toEqual([
      expect.stringMatching(/^sequences\/s\.yaml: steps\.0\.text: on the 微信客服 route the text \(\{\{name\}\} at its longest, 64 characters\) and its link line make up to \d+ bytes .*shorten it by 248 bytes$/),
    ]);
    // {{channel}}: the longest name in channels.yaml (a sequence's lead may come from any channel).
    const viaChannel = `{{channel}}${'a'.repeat(2048 - 1 - bytes(line) - '{{channel}}'.length)}`;
    const channels = `channels:\n  - key: a\n    name: 展\n  - key: b\n    name: ${'展'.repeat(10)}\n`;
    expect(await templateProblems(dirWith({ 'sequences/s.yaml': step(viaChannel), 'channels.yaml': channels }))).toEqual([
      expect.stringMatching(/^sequences\/s\.yaml: steps\.0\.text: on the 微信客服 route the text \(\{\{channel\}\} as "展{10}"\) and its link line make .*shorten it by 19 bytes$/),
    ]);
  });

  it('counts a caseStudy step with the case study whose link line is longest, and names it', async () => {
    const dir = dirWith({
      'sequences/s.yaml': `key: s\nname: S\nsteps:\n  - { delay: 1d, text: ${'培'.repeat(543)}, caseStudy: auto }\n`,
      'cases/short.md': caseMd('short', '短'),
      'cases/long.md': caseMd('long', '某汽车零部件厂排产效率提升三成'),
    });
    expect(await templateProblems(dir)).toEqual([expect.stringMatching(/^sequences\/s\.yaml: steps\.0\.text: on the 微信客服 route the text and the link line of its longest case study \(long\) make up to \d+ bytes .*: shorten it by \d+ bytes$/)]);
  });

  it('counts the tracked links on the bot\'s own base URL when it is longer than the bound (PUBLIC_BASE_URL)', async () => {
    const dir = dirWith({ 'sequences/s.yaml': `key: s\nname: S\nsteps:\n  - { delay: 1d, text: ${'培'.repeat(543)}, link: { title: 清单, url: "https://example.com/l" } }\n` });
    expect(await templateProblems(dir, { publicBaseUrl: 'https://bot.example.com' })).toEqual([]);
    expect(await templateProblems(dir, { publicBaseUrl: `https://${'b'.repeat(80)}.example.com` })).toEqual([expect.stringMatching(/^sequences\/s\.yaml: steps\.0\.text: .* shorten it by \d+ bytes$/)]);
  });

  it('refuses a reply (replies.yaml, a channel\'s kf welcome) whose text and link lines make over 2048 bytes', async () => {
    const text = '答'.repeat(600);
    const dir = dirWith({
      'replies.yaml': `intents:\n  - key: price\n    keywords: [报价]\n    reply: { text: ${text}, link: { title: 报价单, url: "https://example.com/p" } }\nfallback:\n  inHours:\n    reply: { text: ${text}, caseStudy: auto }\n`,
      'channels.yaml': `channels:\n  - key: kfad\n    name: 客服广告\n    kf:\n      welcome: { text: ${text}, link: { title: 了解我们, url: "https://example.com/about" } }\n`,
      'cases/c.md': caseMd('c', '甲厂'),
    });
    const problems = await templateProblems(dir);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^replies\.yaml: intent price: reply\.text: on the 微信客服 route the text and its link line make up to \d+ bytes .*over kf\/send_msg's 2048 \[D:94677\], so the text would be cut: shorten it by \d+ bytes$/),
        expect.stringMatching(/^replies\.yaml: fallback\.inHours\.reply\.text: on the 微信客服 route the text and the link line of its longest case study \(c\) make/),
        expect.stringMatching(/^channels\.yaml: channel kfad: kf\.welcome\.text: on the 微信客服 route the text and its link line make/),
      ]),
    );
    expect(problems).toHaveLength(3);
  });

  it('counts {{hours}} as the service hours\' text a reply is filled with (SERVICE_HOURS described), as written when not given', async () => {
    // With its link line (a reply's tracked link at its longest) just under 2048 bytes as written; hours of several
    // parts take it over.
    const text = `${'答'.repeat(480)}（服务时间：{{hours}}）`;
    const dir = dirWith({ 'replies.yaml': `intents:\n  - key: hours\n    keywords: [几点]\n    reply: { text: "${text}", link: { title: 服务, url: "https://example.com/s" } }\n` });
    expect(await templateProblems(dir)).toEqual([]);
    const hours = describeServiceHours(parseServiceHours('Mon-Fri 09:00-12:00, Mon-Fri 13:30-18:00, Sat 10:00-16:00, Sun 10:00-12:00') as ServiceHours);
    const problems = await templateProblems(dir, { serviceHoursText: hours });
    expect(problems).toEqual([expect.stringMatching(new RegExp(`^replies\\.yaml: intent hours: reply\\.text: on the 微信客服 route the text \\(\\{\\{hours\\}\\} as "${hours}"\\) and its link line make .*shorten it by \\d+ bytes$`))]);
  });

  it('refuses a campaign whose text and link line make over 2048 bytes on the 客服 route', async () => {
    const dir = dirWith({
      'campaigns/promo.yaml': `key: promo\nname: 促销\ndraft: true\ncontent:\n  text: ${'促'.repeat(600)}\n  link: { title: 报名, url: "https://example.com/w" }\nschedule:\n  at: "2030-12-01T10:00:00+08:00"\n`,
    });
    expect(await templateProblems(dir)).toEqual([expect.stringMatching(/^campaigns\/promo\.yaml: content\.text: on the 微信客服 route the text and its link line make up to \d+ bytes/)]);
  });

  it('the shipped templates fit', async () => {
    expect(await templateProblems('templates')).toEqual([]);
  });
});

describe('templates:check lists every problem in one go', () => {
  const long = (n: number) => '长'.repeat(n); // 3 bytes each
  const nearFull = '答'.repeat(600); // 1,800 bytes: over 2048 with any link line
  const kfOver = (where: string) => new RegExp(`^${where.replace(/[.()]/g, '\\$&')}: on the 微信客服 route the text and its link line make up to \\d+ bytes .*shorten it by \\d+ bytes$`);

  it('a reply over 2048 bytes does not hide another reply of the file that its link line takes over (both, with how much to cut)', async () => {
    const dir = dirWith({
      'replies.yaml': [
        'intents:',
        '  - key: price',
        '    keywords: [报价]',
        `    reply: { text: ${long(700)} }`,
        '  - key: deploy',
        '    keywords: [部署]',
        `    reply: { text: ${nearFull}, link: { title: 部署说明, url: "https://example.com/deploy" } }`,
        'fallback:',
        '  inHours:',
        `    reply: { text: ${nearFull}, link: { title: 帮助, url: "https://example.com/help" } }`,
        '',
      ].join('\n'),
    });
    expect(await templateProblems(dir)).toEqual([
      'replies.yaml: intent price: reply.text: must be at most 2048 bytes [D:94677]: it is 2100 bytes, shorten it by 52 bytes',
      expect.stringMatching(kfOver('replies.yaml: intent deploy: reply.text')),
      expect.stringMatching(kfOver('replies.yaml: fallback.inHours.reply.text')),
    ]);
  });

  it('a sequence step or a campaign field with a problem does not hide the 客服 link-line problem of the other steps or of the content', async () => {
    const dir = dirWith({
      'sequences/s.yaml': `key: s\nname: S\nsteps:\n  - { delay: soon, text: 你好 }\n  - { delay: 1d, text: ${nearFull}, link: { title: 清单, url: "https://example.com/l" } }\n`,
      'campaigns/promo.yaml': `key: promo\nname: 促销\ndraft: true\ncontent:\n  text: ${nearFull}\n  link: { title: 报名, url: "https://example.com/w" }\nschedule:\n  at: "not a time"\n`,
    });
    expect(await templateProblems(dir)).toEqual([
      'sequences/s.yaml: steps.0.delay: must be a number and a unit s, m, h or d (e.g. 1d)',
      expect.stringMatching(/^campaigns\/promo\.yaml: schedule\.at: /),
      expect.stringMatching(kfOver('sequences/s.yaml: steps.1.text')),
      expect.stringMatching(kfOver('campaigns/promo.yaml: content.text')),
    ]);
  });

  it('a channel that fails its own check is reported once, not also as missing where scoring.yaml, a campaign or another channel names it; a channel that is nowhere still is', async () => {
    const dir = dirWith({
      'channels.yaml': [
        'channels:',
        '  - key: expo2026',
        '    name: 展会',
        '    kf:',
        `      welcome: { text: ${long(700)} }`,
        '  - key: ad',
        '    name: 广告',
        '    sequence: s',
        '    kf:',
        `      welcome: { text: ${nearFull}, link: { title: 了解我们, url: "https://example.com/about" } }`,
        '',
      ].join('\n'),
      'sequences/s.yaml': 'key: s\nname: S\nsteps:\n  - { delay: 1d }\n',
      'scoring.yaml': 'fit: { channel: { expo2026: 15, nosuch: 5, default: 0 } }\ngrades: { S: 80, A: 50, B: 25 }\n',
      'campaigns/promo.yaml': 'key: promo\nname: 促销\ndraft: true\nsegment: { channels: [expo2026, gone], inSequence: s }\ncontent: { text: 你好 }\nschedule: { at: "2030-12-01T10:00:00+08:00" }\n',
    });
    expect(await templateProblems(dir)).toEqual([
      'channels.yaml: channel #1 (expo2026): kf.welcome.text: must be at most 2048 bytes [D:94677]: it is 2100 bytes, shorten it by 52 bytes',
      'sequences/s.yaml: steps.0: a step needs text, link or caseStudy',
      'scoring.yaml: fit.channel.nosuch: no channel "nosuch" in channels.yaml',
      'campaigns/promo.yaml: segment.channels: no channel "gone" (have: ad, organic)',
      expect.stringMatching(kfOver('channels.yaml: channel ad: kf.welcome.text')),
    ]);
  });

  it('says how long a text over its byte limit is and by how much to shorten it (welcome 4000, step 2048, link title 128)', async () => {
    const dir = dirWith({
      'channels.yaml': `channels:\n  - key: a\n    name: 展会\n    welcome: { text: ${long(1400)} }\n`,
      'sequences/s.yaml': `key: s\nname: S\nsteps:\n  - { delay: 1d, text: ${long(683)}, link: { title: ${long(43)}, url: "https://example.com/l" } }\n`,
    });
    expect(await templateProblems(dir)).toEqual([
      'channels.yaml: channel #1 (a): welcome.text: must be at most 4000 bytes [D:92137]: it is 4200 bytes, shorten it by 200 bytes',
      'sequences/s.yaml: steps.0.text: must be at most 2048 bytes: it is 2049 bytes, shorten it by 1 bytes',
      'sequences/s.yaml: steps.0.link.title: must be at most 128 bytes (a Chinese character is 3) [D:92135]: it is 129 bytes, shorten it by 1 bytes',
    ]);
  });
});
