import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTemplates } from '../../src/content/index.js';
import { loadReplies } from '../../src/content/replies.js';
import { loadConfig } from '../../src/config.js';
import { matchIntent, normalize } from '../../src/domain/kf/intents.js';
import { addServiceSeconds, describeServiceHours, isOpen, nextOpening, parseServiceHours, serviceSecondsBetween, type ServiceHours } from '../../src/domain/kf/service-hours.js';
import { customerOf } from '../../src/domain/kf/inbound.js';
import { buildReply } from '../../src/domain/kf/reply.js';
import { readTrackedToken } from '../../src/domain/delivery/tracked-links.js';
import type { KfSyncMsgResponse as KfSyncResponse } from '../../src/wecom/types.js';
import { wecomJson } from '../fixtures/wecom/index.js';

const TZ = 'Asia/Shanghai';
const hours = (s: string) => parseServiceHours(s) as ServiceHours;
/** A Shanghai wall-clock time as ms (UTC+8, no daylight saving). */
const sh = (iso: string) => Date.parse(`${iso}+08:00`);

describe('SERVICE_HOURS', () => {
  it('parses days, ranges, several parts and 24:00; refuses what it cannot read, saying why', () => {
    expect(hours('Mon-Fri 09:00-18:00').days.map((d) => d.length)).toEqual([1, 1, 1, 1, 1, 0, 0]);
    const h = hours('Mon-Fri 09:00-12:00, Mon-Fri 13:00-18:00, Sat 10:00-24:00');
    expect(h.days[0]).toEqual([[540, 720], [780, 1080]]);
    expect(h.days[5]).toEqual([[600, 1440]]);
    expect(hours('Fri-Mon 10:00-11:00').days.map((d) => d.length)).toEqual([1, 0, 0, 0, 1, 1, 1]);
    expect(describeServiceHours(h)).toBe('周一至周五 09:00-12:00，周一至周五 13:00-18:00，周六 10:00-24:00');
    for (const bad of ['', 'weekdays 9-6', 'Mon-Fri 18:00-09:00', 'Mon-Fri 09:00-25:00', 'Mun 09:00-10:00', 'Mon 24:30-24:40']) expect(typeof parseServiceHours(bad)).toBe('string');
    expect(() => loadConfig({ WECOM_CORP_ID: 'ww1', WECOM_TOKEN: 't', WECOM_ENCODING_AES_KEY: 'a'.repeat(43), WECOM_SECRET: 's', WECOM_AGENT_ID: '1', SERVICE_HOURS: 'Mon-Fri 18:00-09:00' })).toThrow(/SERVICE_HOURS: .*end must be after the start/);
  });

  it('counts only time inside the hours: a deadline past closing time continues when they open (after the weekend)', () => {
    const h = hours('Mon-Fri 09:00-18:00');
    // Friday 2026-11-27 17:55 + 10 min of service time → Monday 09:05.
    expect(addServiceSeconds(sh('2026-11-27T17:55:00'), 600, h, TZ)).toBe(sh('2026-11-30T09:05:00'));
    expect(addServiceSeconds(sh('2026-11-28T03:00:00'), 60, h, TZ)).toBe(sh('2026-11-30T09:01:00'));
    expect(addServiceSeconds(sh('2026-11-26T10:00:00'), 600, h, TZ)).toBe(sh('2026-11-26T10:10:00'));
    expect(serviceSecondsBetween(sh('2026-11-27T17:55:00'), sh('2026-11-30T09:05:00'), h, TZ)).toBe(600);
    expect(isOpen(sh('2026-11-27T17:59:59'), h, TZ)).toBe(true);
    expect(isOpen(sh('2026-11-27T18:00:00'), h, TZ)).toBe(false);
    expect(nextOpening(sh('2026-11-27T20:00:00'), h, TZ)).toBe(sh('2026-11-30T09:00:00'));
    expect(nextOpening(sh('2026-11-27T10:00:00'), h, TZ)).toBe(sh('2026-11-27T10:00:00'));
    const allDay = hours('Mon-Sun 00:00-24:00');
    expect(addServiceSeconds(sh('2026-11-28T23:59:00'), 120, allDay, TZ)).toBe(sh('2026-11-29T00:01:00'));
  });
});

describe('intents', () => {
  it('match in Chinese and English, whatever the case and width; the stronger class wins', async () => {
    const { replies } = await loadReplies('templates');
    const key = (text: string, menu?: string) => matchIntent(replies, text, menu)?.key ?? null;
    expect(normalize('ＴＤ　Ｓｔｏｐ')).toBe('td stop');
    expect(key('你好，请问报价多少？')).toBe('qualify');
    expect(key('你好')).toBe('hello');
    for (const t of ['退订', 'TD', 't', 'Ｔ', 'td。', '取消订阅', '不要再发了', 'STOP', 'please unsubscribe me']) expect(key(t)).toBe('unsubscribe');
    for (const t of ['订阅', 'Subscribe', '重新订阅！', ' subscribe again. ']) expect(key(t)).toBe('subscribe');
    // Subscribing again takes the whole message: a refusal or a question about a plan is not an opt-in.
    for (const t of ['我不想订阅', '不要订阅了', "don't subscribe me"]) expect(key(t)).not.toBe('subscribe');
    expect(key('订阅版多少钱？')).toBe('qualify');
    for (const t of ['人工', '转人工', '真人吗', 'Human please', 'agent']) expect(key(t)).toBe('human');
    for (const t of ['报价', '价格', '多少钱', '演示', '试用', '方案', 'DEMO', 'price?', 'a quote', 'free trial']) expect(key(t)).toBe('qualify');
    // Latin keywords are whole words: "t" is not in "trip", "stop" is not in "stopwatch", "agent" not in "agents?" is.
    expect(key('a trip to the factory')).toBeNull();
    expect(key('stopwatch')).toBeNull();
    // A person beats a price: "转人工报价" is a hand-off.
    expect(key('转人工 报价')).toBe('human');
    expect(key('退订 报价')).toBe('unsubscribe');
    // Words that only look like an opt-out or a hand-off: AI, an order, a deposit, "non-stop", an AI agent.
    expect(key('你们的人工智能方案多少钱？')).toBe('qualify');
    expect(key('AI agent 报价')).toBe('qualify');
    expect(key('non-stop 服务报价')).toBe('qualify');
    expect(key('我要退订单')).toBeNull();
    expect(key('退订金怎么算')).toBeNull();
    expect(key('Please stop!')).toBe('unsubscribe');
    expect(key('stop sending me this')).toBe('unsubscribe');
    expect(key('我要退订')).toBe('unsubscribe');
    expect(key('人工客服')).toBe('human');
    expect(key('要人工，不要人工智能')).toBe('human');
    expect(key('随便看看', 'deploy')).toBe('deploy');
    expect(key('')).toBeNull();
  });

  it('templates:check names the file, the intent and the field', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'replies-'));
    try {
      cpSync('test/fixtures/templates', dir, { recursive: true });
      writeFileSync(
        path.join(dir, 'replies.yaml'),
        ['intents:', '  - key: price', '    keywords: [报价]', '    patterns: ["(unclosed", "多少钱？"]', '    reply: { text: "{{nam}}您好" }', '    actions: [qualify, dance]', '  - key: price', '    keywords: [价格]', '    reply: { menu: { items: [{ intent: nothing, text: x }] } }', '  - key: empty', '    reply: { text: hi }'].join('\n'),
      );
      const err = await loadTemplates(dir).then(() => null, (e: Error & { problems: string[] }) => e);
      const file = path.join(dir, 'replies.yaml');
      expect(err?.problems).toEqual(
        expect.arrayContaining([
          expect.stringMatching(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: intent price: patterns\\.0: not a regular expression`)),
          expect.stringContaining(`${file}: intent price: reply.text: unknown placeholder(s) {{nam}}`),
          // Messages are matched in half-width forms: a full-width ？ in a pattern would never match.
          expect.stringContaining(`${file}: intent price: patterns.1: messages are matched in half-width forms: write "？" as "?"`),
          expect.stringContaining(`${file}: intent price: actions.1: Invalid enum value`),
          expect.stringContaining(`${file}: intent empty: (intent)`),
        ]),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("templates:check: a channel's kf welcome names only intents replies.yaml has, and sends no case study", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'replies-'));
    try {
      cpSync('test/fixtures/templates', dir, { recursive: true });
      const file = path.join(dir, 'channels.yaml');
      const channel = (key: string, welcome: string) => [`  - key: ${key}`, `    name: ${key}`, '    kf:', `      scene: ${key}`, `      welcome: ${welcome}`].join('\n');
      writeFileSync(file, [readFileSync(file, 'utf8').trimEnd(), channel('kfmenu', '{ text: 您好, menu: { items: [{ intent: qualify, text: 报价 }, { intent: pricing, text: 价格 }] } }'), channel('kfcase', '{ text: 您好, caseStudy: auto }'), ''].join('\n'));
      const err = await loadTemplates(dir).then(() => null, (e: Error & { problems: string[] }) => e);
      // Both in one go: the other channel's menu still checked (a click on an unknown intent would be read as its text).
      expect(err?.problems).toEqual([
        expect.stringMatching(/channels\.yaml: channel #\d+ \(kfcase\): kf\.welcome: a 微信客服 welcome sends no case study/),
        `${file}: channel kfmenu: kf.welcome.menu.items: no intent "pricing" in replies.yaml`,
      ]);
      // Without the case study: the menu's unknown intent only.
      writeFileSync(file, readFileSync(file, 'utf8').replace('caseStudy: auto', 'link: { title: 案例, url: "https://example.com/c" }'));
      const again = await loadTemplates(dir).then(() => null, (e: Error & { problems: string[] }) => e);
      expect(again?.problems).toEqual([`${file}: channel kfmenu: kf.welcome.menu.items: no intent "pricing" in replies.yaml`]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the shipped replies.yaml passes, and refers only to intents it defines', async () => {
    const { problems } = await loadReplies('templates');
    expect(problems).toEqual([]);
  });
});

describe('kf/sync_msg shapes [D:94670]', () => {
  it('messages carry the customer at the top level, events inside `event`; has_more is an int', () => {
    const page = wecomJson<KfSyncResponse>('kf/sync_msg');
    expect(page.has_more).toBe(1);
    expect(page.msg_list.map((m) => [m.origin, m.msgtype, customerOf(m)])).toEqual([
      [3, 'text', 'wmAJ2GCAAAme1XQRC-NI-q0_ZM9ukoAw'],
      [4, 'event', 'wmAJ2GCAAAme1XQRC-NI-q0_ZM9ukoAw'],
      [4, 'event', 'wmAJ2GCAAAme1XQRC-NI-q0_ZM9ukoAw'],
      [4, 'event', 'wmAJ2GCAAAme1XQRC-NI-q0_ZM9ukoAw'],
      [5, 'text', 'wmAJ2GCAAAme1XQRC-NI-q0_ZM9ukoAw'],
    ]);
  });
});

describe('a reply as one 客服 message', () => {
  it('over 2048 bytes, cuts its text and never its tracked links (a case study\'s long summary is cut in its line)', async () => {
    const { channels, cases } = await loadTemplates('test/fixtures/templates');
    const secret = 'reply-test-link-secret-0123456789';
    const ctx = { channels, cases: cases.map((c) => ({ ...c, summary: '很长的摘要'.repeat(60) })), config: { SERVICE_HOURS: hours('Mon-Fri 09:00-18:00') }, publicBaseUrl: 'https://bot.example.com', linkSecret: secret };
    const lead = { corpId: 'ww1', externalUserId: 'wm_long', name: '刘女士', firstTouch: null };
    const reply = { text: '{{name}}您好，'.concat('这是一段很长的回复。'.repeat(80)), link: { title: '部署说明', url: 'https://example.com/deploy' } };
    const msg = buildReply(ctx as never, reply as never, lead as never, 'kf|test|1', cases[0]!.slug);
    expect(msg.msgtype).toBe('text');
    const content = (msg as { text: { content: string } }).text.content;
    expect(Buffer.byteLength(content)).toBeLessThanOrEqual(2048);
    // Both links whole: each line ends in a URL the bot reads back as its own.
    const urls = [...content.matchAll(/https:\/\/bot\.example\.com\/r\/([\w-]+)/g)].map((m) => m[1]!);
    expect(urls).toHaveLength(2);
    for (const token of urls) expect(readTrackedToken(secret, token)).not.toBeNull();
    expect(content.split('\n')[0]).toMatch(/^刘女士您好，这是一段很长的回复。.*…$/);
  });

  it('with no case study left for the lead, leaves out the sentence leading in to it (and only then); a link after it stays', async () => {
    const { channels, cases } = await loadTemplates('test/fixtures/templates');
    const ctx = { channels, cases, config: { SERVICE_HOURS: hours('Mon-Fri 09:00-18:00') }, publicBaseUrl: 'https://bot.example.com', linkSecret: 'reply-test-link-secret-0123456789' };
    const lead = { corpId: 'ww1', externalUserId: 'wm_case', name: '刘女士', firstTouch: null };
    const text = (reply: object, slug: string | null) => (buildReply(ctx as never, reply as never, lead as never, 'kf|test|2', slug) as { text: { content: string } }).text.content;
    const qualify = { text: '{{name}}您好，顾问稍后会联系您。也可以先看看同行怎么做：', caseStudy: 'auto' };
    expect(text(qualify, null)).toBe('刘女士您好，顾问稍后会联系您。');
    expect(text(qualify, 'general-a')).toMatch(/^刘女士您好，顾问稍后会联系您。也可以先看看同行怎么做：\n200 家客户/);
    // Nothing but the lead-in: kept, as a sentence.
    expect(text({ text: '看看同行怎么做：', caseStudy: 'auto' }, null)).toBe('看看同行怎么做。');
    // A text that does not lead in to anything, or one a link still follows, is sent as written.
    expect(text({ text: '顾问稍后会联系您。', caseStudy: 'auto' }, null)).toBe('顾问稍后会联系您。');
    expect(text({ text: '请看：', link: { title: '报价单', url: 'https://example.com/p' }, caseStudy: 'auto' }, null)).toMatch(/^请看：\n报价单：https:\/\/bot\.example\.com\/r\//);
  });
});
