import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createCommandRegistry } from '../../handlers/commands/index.js';
import { defineCommand } from '../../src/domain/commands/command.js';
import { bindArgs, normalizeLine, parseLine, tokenize } from '../../src/domain/commands/parse.js';
import { addDays, parsePeriod, periodDays, periodProblem, resolvePeriod } from '../../src/domain/commands/period.js';
import { allows, roleOf } from '../../src/domain/commands/permissions.js';
import { CommandRegistry, editDistance } from '../../src/domain/commands/registry.js';

const registry = createCommandRegistry();
const words = (raw: string) => tokenize(normalizeLine(raw)).map((t) => t.text);

describe('reading a line of chat', () => {
  it('tolerates full-width spaces and punctuation, keeps quoted words whole, drops the @mention and a final full stop', () => {
    expect(words('@运营助手 统计\u3000７ｄ，expo2026。')).toEqual(['统计', '7d', 'expo2026']);
    expect(words('渠道 new expo2027 “2027 春季展” zhangsan、lisi')).toEqual(['渠道', 'new', 'expo2027', '2027 春季展', 'zhangsan', 'lisi']);
    expect(words('标签 王经理 ＋重点客户；－旧标签')).toEqual(['标签', '王经理', '+重点客户', '-旧标签']);
    expect(words('  ')).toEqual([]);
    expect(words('统计 2026-11-01 至 2026-11-30 expo2026')).toEqual(['统计', '2026-11-01至2026-11-30', 'expo2026']);
    expect(words('统计 ２０２６-１１-０１ ～ ２０２６-１１-３０')).toEqual(['统计', '2026-11-01~2026-11-30']);
  });

  it('finds the command by any alias, English case-insensitively; the alias gives the language', () => {
    const cmd = (raw: string) => {
      const p = parseLine(registry, raw);
      return p.kind === 'command' ? [p.match.command.name, p.match.lang, p.tokens.map((t) => t.text)] : p.kind;
    };
    expect(cmd('统计 7d')).toEqual(['stats', 'zh', ['7d']]);
    expect(cmd('STATS 7d')).toEqual(['stats', 'en', ['7d']]);
    expect(cmd('funnel')).toEqual(['stats', 'en', []]);
    expect(cmd('统计7d')).toEqual(['stats', 'zh', ['7d']]);
    expect(cmd('统计：30d expo2026')).toEqual(['stats', 'zh', ['30d', 'expo2026']]);
    expect(cmd('@运营助手')).toBe('empty');
  });

  it('an unknown word gets the closest alias (a swap of two letters counts once), in its language on a tie', () => {
    const suggest = (raw: string) => {
      const p = parseLine(registry, raw);
      return p.kind === 'unknown' ? [p.lang, p.suggestion?.alias ?? null] : p.kind;
    };
    expect(suggest('统记 7d')).toEqual(['zh', '统计']);
    expect(suggest('stast')).toEqual(['en', 'stats']);
    expect(suggest('rpeort')).toEqual(['en', 'report']);
    expect(suggest('supercalifragilistic')).toEqual(['en', null]);
    // Only names help shows: "foo" is two letters from "who" (an alias of lead help does not list), and from nothing shown.
    expect(registry.find('who')?.command.name).toBe('lead');
    expect(suggest('foo')).toEqual(['en', null]);
    expect(editDistance('hepl', 'help')).toBe(1);
    expect(editDistance('阶段', '阶级')).toBe(1);
  });

  it('binds words to named arguments: one word each, the rest of the line as typed, or the rest as a list', () => {
    const stage = registry.find('阶段')!.command;
    const line = normalizeLine('阶段 王经理 商机 客户说：“下周签”，请跟进');
    const tokens = tokenize(line).slice(1);
    expect(bindArgs(stage, tokens, line, 'zh')).toEqual({ ok: true, args: { lead: '王经理', stage: 'opportunity', reason: '客户说：“下周签”，请跟进' } });
    const grade = registry.find('grade')!.command;
    const g = normalizeLine('grade x S');
    expect(bindArgs(grade, tokenize(g).slice(1), g, 'en')).toEqual({ ok: true, args: { lead: 'x', grade: 'S', reason: undefined } });
    const help = registry.find('help')!.command;
    const h = normalizeLine('帮助 一下 吧');
    expect(bindArgs(help, tokenize(h).slice(1), h, 'zh')).toEqual({ ok: false, problems: ['多余的内容：一下 吧'] });
  });

  it('gives arguments as typed (full-width brackets, colons and letters kept) and recognises words in either width', () => {
    const bind = (raw: string) => {
      const p = parseLine(registry, raw);
      if (p.kind !== 'command') throw new Error(`not a command: ${raw}`);
      return bindArgs(p.match.command, p.tokens, p.line, p.match.lang);
    };
    expect(bind('阶段 刘总（丁厂） 商机')).toEqual({ ok: true, args: { lead: '刘总（丁厂）', stage: 'opportunity', reason: undefined } });
    expect(bind('stage 刘总（丁厂） ｏｐｐｏｒｔｕｎｉｔｙ')).toEqual({ ok: true, args: { lead: '刘总（丁厂）', stage: 'opportunity', reason: undefined } });
    expect(bind('定级 刘总（丁厂） Ａ')).toEqual({ ok: true, args: { lead: '刘总（丁厂）', grade: 'A', reason: undefined } });
    // A full-width comma still separates tags; a tag's own brackets stay; ＋, － and ／ are read as +, - and /.
    expect(bind('标签 王经理 ＋重点客户（华东），－行业／制造业')).toEqual({ ok: true, args: { lead: '王经理', tags: [{ op: '+', name: '重点客户（华东）' }, { op: '-', name: '行业/制造业' }] } });
    expect(bind('统计　７ｄ，ｅｘｐｏ（华东）。')).toEqual({ ok: true, args: { period: { kind: 'last', days: 7 }, channel: 'ｅｘｐｏ（华东）', notPeriod: null } });
    // Both are optional: a first word that is no period may be a channel (the run asks the catalog).
    expect(bind('统计 expo2026')).toEqual({ ok: true, args: { period: { kind: 'last', days: 7 }, channel: 'expo2026', notPeriod: 'expo2026' } });
    expect(bind('统计 2026-12-05..2026-12-01 expo2026')).toEqual({ ok: false, problems: ['时间段「2026-12-05..2026-12-01」：开始日期晚于结束日期'] });
    expect(bind('渠道 ｎｅｗ salon12 沙龙（华东）：秋季 zhangsan')).toEqual({ ok: true, args: { action: 'new', key: 'salon12', name: '沙龙（华东）：秋季', owners: ['zhangsan'] } });
    expect(bind('暂停 刘总（丁厂）')).toEqual({ ok: true, args: { target: { kind: null, name: '刘总（丁厂）' }, reason: undefined } });
    expect(bind('暂停 序列：ｆａｓｔ')).toEqual({ ok: true, args: { target: { kind: 'sequence', name: 'ｆａｓｔ' }, reason: undefined } });
    expect(bind('日报 ２０２６-１１-２７')).toEqual({ ok: true, args: { date: { day: '2026-11-27' } } });
    expect(bind('群发 ｓｈｏｗ ｅｘｐｏ－ｄｒａｆｔ')).toEqual({ ok: true, args: { words: ['ｓｈｏｗ', 'ｅｘｐｏ－ｄｒａｆｔ'] } });
    expect(bind('帮助 （一下）')).toEqual({ ok: false, problems: ['多余的内容：（一下）'] });
  });
});

describe('the command registry', () => {
  const base = { params: [], args: z.object({}), permission: 'read' as const, usage: { zh: '', en: '' }, help: { zh: 'x', en: 'x' }, run: async () => 'ok' };
  it('refuses mistakes when a command is added, not when someone types it', () => {
    const a = defineCommand({ ...base, name: 'alpha', aliases: { zh: ['甲'], en: ['a'] } });
    expect(() => new CommandRegistry().add(a).add(defineCommand({ ...base, name: 'beta', aliases: { zh: ['甲'], en: [] } }))).toThrow(/alias "甲" is already "alpha"'s/);
    expect(() => new CommandRegistry().add(a).add(defineCommand({ ...base, name: 'gamma', aliases: { zh: ['丙'], en: ['A'] } }))).toThrow(/alias "A" is already/);
    expect(() => new CommandRegistry().add(defineCommand({ ...base, name: 'delta', aliases: { zh: ['丁 丁'], en: [] } }))).toThrow(/must be one word/);
    expect(() => new CommandRegistry().add(defineCommand({ ...base, name: 'eps', aliases: { zh: ['戊'], en: [] }, params: ['...why', 'who'] }))).toThrow(/must be the last parameter/);
    expect(() => new CommandRegistry().add(defineCommand({ ...base, name: 'zeta', aliases: { zh: [], en: [] } }))).toThrow(/needs a Chinese alias/);
    expect(() => new CommandRegistry().add(a).add(a)).toThrow(/added twice/);
  });

  it('has every command of the issue, each with a Chinese and an English name', () => {
    expect(registry.list().map((c) => `${c.aliases.zh[0]}/${c.name}`)).toEqual(['帮助/help', '统计/stats', '线索/lead', '阶段/stage', '定级/grade', '标签/tag', '暂停/pause', '恢复/resume', '渠道/channel', '群发/campaign', '日报/report']);
  });
});

describe('who may do what', () => {
  const config = { OPS_ADMINS: ['zhangsan'], OPS_USERIDS: ['lisi'] };
  it('OPS_ADMINS everything; OPS_USERIDS read and lead-level; anyone else nothing (userids compare case-insensitively)', () => {
    expect(roleOf(config, 'ZhangSan')).toBe('admin');
    expect(roleOf(config, 'lisi')).toBe('user');
    expect(roleOf(config, 'wangwu')).toBeNull();
    expect([allows('admin', 'admin'), allows('user', 'read'), allows('user', 'lead'), allows('user', 'admin')]).toEqual([true, true, true, false]);
  });
});

describe('periods', () => {
  it('reads today, yesterday, Nd (近7天), a day and a range; refuses what is not a calendar period', () => {
    expect(parsePeriod('today')).toEqual({ kind: 'last', days: 1 });
    expect(parsePeriod('昨天')).toEqual({ kind: 'yesterday' });
    expect(parsePeriod('近30天')).toEqual({ kind: 'last', days: 30 });
    expect(parsePeriod('2026-11-01..2026-11-30')).toEqual({ kind: 'days', from: '2026-11-01', to: '2026-11-30' });
    expect(parsePeriod('2026-11-01至2026-11-03')).toEqual({ kind: 'days', from: '2026-11-01', to: '2026-11-03' });
    for (const bad of ['上周', '0d', '400d', '2026-02-30', '2026-11-30..2026-11-01']) expect(parsePeriod(bad), bad).toBeNull();
    expect(periodDays(parsePeriod('2026-01-01..2026-12-31')!)).toBe(365);
    // What is wrong with one, said precisely.
    expect(periodProblem('2026-12-05..2026-12-01').en).toBe('period "2026-12-05..2026-12-01": its first day is after its last');
    expect(periodProblem('400d').zh).toBe('时间段「400d」：最多 366 天，最少 1 天');
    expect(periodProblem('2026-02-30').en).toBe('period "2026-02-30": there is no day 2026-02-30');
    expect(periodProblem('2026-11-01..2026-02-30').zh).toBe('时间段「2026-11-01..2026-02-30」：没有 2026-02-30 这一天');
    expect(periodProblem('上周').unreadable).toBe(true);
    expect(periodProblem('400d').unreadable).toBeUndefined();
    expect(periodProblem('上周').zh).toBe('时间段「上周」看不懂：可以是 today、7d、30d、2026-11-01 或 2026-11-01..2026-11-30');
    // In the ops time zone: 2026-11-27 23:30 UTC is already the 28th in Shanghai.
    expect(resolvePeriod({ kind: 'last', days: 7 }, Date.UTC(2026, 10, 27, 23, 30), 'Asia/Shanghai')).toEqual({ from: '2026-11-22', to: '2026-11-28' });
    expect(addDays('2024-02-28', 1)).toBe('2024-02-29');
  });
});
