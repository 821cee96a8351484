import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_SCORING, loadScoring, type Scoring } from '../../src/content/scoring.js';
import { recordClick } from '../../src/domain/leads/record-click.js';
import { calibrate } from '../../src/domain/scoring/calibrate.js';
import { gradeOf, roleOf, scoreLead } from '../../src/domain/scoring/score.js';
import { tryLock } from '../../src/redis/lock.js';
import { FunnelDay } from '../../src/store/models/funnel-day.js';
import { Lead } from '../../src/store/models/lead.js';
import { TEST_CORP } from '../fixtures/test-corp.js';
import { wecomXml } from '../fixtures/wecom/index.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { waitFor } from '../helpers/wait-for.js';
import { addTouch, touchesOf } from '../../src/store/touch-log.js';

const DAY = 86_400_000;
const now = Date.parse('2026-11-28T10:00:00+08:00');
const scoring: Scoring = {
  ...DEFAULT_SCORING,
  fit: { industry: { 制造业: 20, default: 5 }, role: { 'decision-maker': 25 }, company: 10, channel: { expo2026: 15, default: 0 } },
  intent: { click: { points: 8, halfLife: 7 * DAY }, intent: { points: 30, halfLife: 30 * DAY }, stage: { qualified: { points: 20, halfLife: 60 * DAY } } },
  grades: { S: 80, A: 50, B: 25 },
};

describe('scores', () => {
  it('add fit once and intent decaying by its half-life', () => {
    const fitOnly = scoreLead({ industry: '制造业', role: 'decision-maker', corpName: '甲厂', firstTouch: { channelKey: 'expo2026' } }, scoring, now);
    expect(fitOnly.score).toBe(20 + 25 + 10 + 15);
    const fresh = scoreLead({ touches: [{ kind: 'click', at: new Date(now) }] }, scoring, now).score;
    const weekOld = scoreLead({ touches: [{ kind: 'click', at: new Date(now - 7 * DAY) }] }, scoring, now).score;
    const twoWeeks = scoreLead({ touches: [{ kind: 'click', at: new Date(now - 14 * DAY) }] }, scoring, now).score;
    expect([fresh, weekOld, twoWeeks]).toEqual([8, 4, 2]);
    expect(scoreLead({ industry: '零售' }, scoring, now).score).toBe(5); // `default` for any other industry
    expect(scoreLead({ touches: [{ kind: 'add', at: new Date(now) }] }, scoring, now).score).toBe(0); // not an intent
  });

  it('explain themselves: the largest contributions, largest first', () => {
    const r = scoreLead(
      { industry: '制造业', firstTouch: { channelKey: 'other' }, touches: [{ kind: 'click', at: new Date(now) }, { kind: 'click', at: new Date(now - 7 * DAY) }, { kind: 'intent', at: new Date(now) }], reached: { qualified: new Date(now - 60 * DAY) } },
      scoring,
      now,
    );
    expect(r.reasons).toEqual([
      { reason: 'intent', points: 30 },
      { reason: 'industry 制造业', points: 20 },
      { reason: 'click ×2', points: 12 },
      { reason: 'stage qualified', points: 10 },
    ]);
    expect(r.score).toBe(72);
    expect(r.grade).toBe('A');
  });

  it('cap what all touches of a kind add up to (max): four quick hellos are not an A lead', () => {
    const hellos = { touches: [0, 1, 2, 3].map((i) => ({ kind: 'reply', at: new Date(now - i * 60_000) })).concat({ kind: 'kf_conversation', at: new Date(now) }) };
    const capped = scoreLead(hellos, DEFAULT_SCORING, now);
    expect(capped.reasons).toContainEqual({ reason: 'reply ×4', points: 30 });
    expect(capped.score).toBe(40);
    expect(capped.grade).toBe('B');
    // Without a cap, every touch counts.
    const uncapped = scoreLead(hellos, { ...DEFAULT_SCORING, intent: { ...DEFAULT_SCORING.intent, reply: { points: 10, halfLife: 14 * DAY } } }, now);
    expect(uncapped.reasons).toContainEqual({ reason: 'reply ×4', points: 40 });
    expect(uncapped.grade).toBe('A');
  });

  it('give grades by the thresholds: S ≥ 80, A ≥ 50, B ≥ 25, else C', () => {
    expect([80, 79, 50, 49, 25, 24, 0].map((s) => gradeOf(s, scoring))).toEqual(['S', 'A', 'A', 'B', 'B', 'C', 'C']);
  });

  it('take the role from the role tag group', () => {
    expect(roleOf([{ group: '行业', name: '制造业' }, { group: '角色', name: '决策者' }], DEFAULT_SCORING)).toBe('decision-maker');
    expect(roleOf([{ group: '其他', name: '决策者' }], DEFAULT_SCORING)).toBeNull();
  });

  it('read only what scoring.yaml names: a channel key or a tag called constructor or toString scores as any other', () => {
    // Valid channel keys and tag names, but also the names of what every plain object inherits.
    for (const name of ['constructor', 'toString', 'valueOf', 'hasOwnProperty', '__proto__']) {
      const r = scoreLead({ industry: name, firstTouch: { channelKey: name } }, scoring, now);
      expect(r.score, name).toBe(5); // industry `default` 5, channel `default` 0
      expect(r.reasons, name).toEqual([{ reason: `industry ${name}`, points: 5 }]);
      expect(roleOf([{ group: '角色', name }], DEFAULT_SCORING), name).toBeNull();
    }
  });
});

describe('the shipped scoring.yaml, as docs/ops-guide.md works it through', () => {
  it('a new 客服 customer who asks for a price: A at 75; the same question again: S at 100 (intent up to its max 45, and a reply)', async () => {
    const { scoring: shipped, problems } = await loadScoring('templates', null);
    expect(problems).toEqual([]);
    const at = new Date(now);
    // Entering by the account's link: a 客服 conversation; the question: a reply and an intent; engaged, then qualified.
    const first = [{ kind: 'kf_conversation', at }, { kind: 'reply', at }, { kind: 'intent', at }];
    const reached = { engaged: at, qualified: at };
    expect(scoreLead({ touches: first, reached: { engaged: at } }, shipped, now)).toMatchObject({ score: 10 + 10 + 30 + 5, grade: 'A' });
    expect(scoreLead({ touches: first, reached }, shipped, now)).toMatchObject({ score: 10 + 10 + 30 + 5 + 20, grade: 'A' });
    const again = scoreLead({ touches: [...first, { kind: 'reply', at }, { kind: 'intent', at }], reached }, shipped, now);
    expect(again).toMatchObject({ score: 10 + 20 + 45 + 5 + 20, grade: 'S' });
    // A third time adds a reply only: the intent is at its max.
    const third = scoreLead({ touches: [...first, ...[1, 2].flatMap(() => [{ kind: 'reply', at }, { kind: 'intent', at }])], reached }, shipped, now);
    expect(third.score).toBe(10 + 30 + 45 + 5 + 20);
  });
});

describe('grades:calibrate', () => {
  it('finds the thresholds that put the top 20 % in S or A (5 % in S, 50 % in S to B)', () => {
    const scores = Array.from({ length: 100 }, (_, i) => i); // 0..99
    const c = calibrate(scores);
    expect(c.thresholds).toEqual({ S: 95, A: 80, B: 50 });
    expect(c.counts).toEqual({ S: 5, A: 15, B: 30, C: 50 });
    expect(calibrate([]).leads).toBe(0);
    // Ties stay together; thresholds still rise from B to S.
    const t = calibrate(Array(10).fill(40)).thresholds;
    expect(t.S > t.A && t.A > t.B).toBe(true);
  });

  it('leaves the leads tied at a cut below it when counting them would go over the share, and says so', () => {
    // 10 leads at 90..99, 30 tied at 50, 60 at 0..59 below: the top 20 % ends inside the tie at 50.
    const scores = [...Array.from({ length: 10 }, (_, i) => 90 + i), ...Array(30).fill(50), ...Array.from({ length: 60 }, (_, i) => i % 50)];
    const c = calibrate(scores);
    expect(c.thresholds.A).toBe(90);
    expect(c.counts.S + c.counts.A).toBe(10);
    expect(c.ties).toEqual([{ grades: 'S+A', share: 0.2, score: 50, tied: 30, withTied: 40 }]);
    // The other cuts fall between two scores: 5 % at 95, 50 % at 40 (50 leads from 40 up).
    expect(c.thresholds).toEqual({ S: 95, A: 90, B: 40 });
    expect(c.counts).toEqual({ S: 5, A: 5, B: 40, C: 50 });
    // A tie at the very top that is larger than the share leaves the grades empty.
    const top = calibrate([...Array(30).fill(70), ...Array.from({ length: 70 }, (_, i) => i % 60)]);
    expect(top.counts.S + top.counts.A).toBe(0);
    expect(top.ties.map((x) => [x.grades, x.score, x.tied])).toEqual([['S', 70, 30], ['S+A', 70, 30]]);
    // The top 5 % are the only ones within 20 % (the next score is shared by too many): they are S, and A is empty.
    const gap = calibrate([...Array(5).fill(30), ...Array(40).fill(15), ...Array(55).fill(0)]);
    expect(gap.counts).toEqual({ S: 5, A: 0, B: 40, C: 55 });
    expect(gap.thresholds.S > gap.thresholds.A && gap.thresholds.A > gap.thresholds.B).toBe(true);
  });
});

describe('a touch recomputes the score', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness('scoring');
  });
  afterAll(async () => h?.stop());

  it('a click raises the score at once, with the reason on the lead', async () => {
    const ext = `wm_score_${Date.now()}`;
    await h.handle(wecomXml('contact/add_external_contact', { ToUserName: TEST_CORP.corpId, ExternalUserID: ext, State: 'notext', WelcomeCode: null, CreateTime: Math.floor(Date.now() / 1000) }));
    const before = (await Lead.findOne({ externalUserId: ext }).lean())!;
    await recordClick(h.ctx, { url: 'https://example.com', lead: { corpId: TEST_CORP.corpId, externalUserId: ext }, deliveryKey: 'nurture|x|0', caseSlug: 'mfg-a' });
    const after = (await Lead.findOne({ externalUserId: ext }).lean())!;
    expect(after.score).toBeGreaterThan(before.score);
    expect(after.scoreReasons.map((r) => r.reason)).toContain('case opened');
    expect(after.stage).toBe('engaged');
    expect(after.lastTouchAt!.getTime()).toBeGreaterThan(before.lastTouchAt!.getTime() - 1);
  });

  /** A lead whose only click was four weeks ago while its stored score is from the day of the click. */
  async function leadClickedWeeksAgo(ext: string) {
    await h.handle(wecomXml('contact/add_external_contact', { ToUserName: TEST_CORP.corpId, ExternalUserID: ext, State: 'notext', WelcomeCode: null, CreateTime: Math.floor(Date.now() / 1000) }));
    await recordClick(h.ctx, { url: 'https://example.com', lead: { corpId: TEST_CORP.corpId, externalUserId: ext }, deliveryKey: 'nurture|y|0' });
    const fresh = (await Lead.findOne({ externalUserId: ext }).lean())!;
    const old = new Date(Date.now() - 28 * DAY);
    const aged = { touchLog: '' };
    for (const t of touchesOf(fresh)) addTouch(aged, t.kind === 'click' ? { ...t, at: old } : t);
    await Lead.collection.updateOne({ _id: fresh._id as never }, { $set: { touchLog: aged.touchLog, 'reached.engaged': old } });
    return fresh;
  }

  it('the daily rescore lets intent decay (and rebuilds the funnel from the leads)', async () => {
    const ext = `wm_decay_${Date.now()}`;
    const fresh = await leadClickedWeeksAgo(ext);
    const { result, error } = await h.runJob('rescore', {});
    expect(error).toBeUndefined();
    expect(result).toMatchObject({ changed: expect.any(Number), rollups: expect.any(Number) });
    const after = (await Lead.findOne({ externalUserId: ext }).lean())!;
    expect(after.score).toBeLessThan(fresh.score);
  });

  it('the daily rescore waits for a lead another writer holds, then scores what that writer left', async () => {
    const held = await leadClickedWeeksAgo(`wm_held_${Date.now()}`);
    const free = await leadClickedWeeksAgo(`wm_free_${Date.now()}`);
    const lock = (await tryLock(h.ctx.redis, h.ctx.keys.leadLock(TEST_CORP.corpId, held.externalUserId!)))!;
    const job = h.runJob('rescore', {});
    try {
      // The pass writes the other leads, not the one being written.
      await waitFor(async () => ((await Lead.findById(free._id).lean())!.score < free.score ? true : null), 'the free lead rescored', 20_000, 50);
      expect((await Lead.findById(held._id).lean())!.score).toBe(held.score);
      // The holder writes the lead (a new version) and lets go.
      await Lead.collection.updateOne({ _id: held._id as never }, { $set: { name: '持锁写入' }, $inc: { __v: 1 } });
    } finally {
      await lock.release();
    }
    const { error } = await job;
    expect(error).toBeUndefined();
    const after = (await Lead.findById(held._id).lean())!;
    expect(after.name).toBe('持锁写入');
    expect(after.score).toBeLessThan(held.score);
  });

  it('the daily rescore leaves a lead held past its lock wait to the next pass, and still writes the others and rebuilds the funnel', async () => {
    const held = await leadClickedWeeksAgo(`wm_stuck_${Date.now()}`);
    const others = [await leadClickedWeeksAgo(`wm_go1_${Date.now()}`), await leadClickedWeeksAgo(`wm_go2_${Date.now()}`)];
    // A rollup of a day and channel no lead has: only the funnel rebuild (from the leads) deletes it.
    const stale = '2000-01-01|retired-channel';
    await FunnelDay.create({ _id: stale, day: '2000-01-01', channel: 'retired-channel', counts: { added: 1 } });
    const lock = (await tryLock(h.ctx.redis, h.ctx.keys.leadLock(TEST_CORP.corpId, held.externalUserId!)))!;
    // The pass waits a minute for a held lead's lock: the clock (Date only; timers stay real) is moved on past that
    // minute once the others are written, instead of holding the test for it.
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    let clock: NodeJS.Timeout | undefined;
    let outcome: Awaited<ReturnType<Harness['runJob']>>;
    try {
      const job = h.runJob('rescore', {});
      await waitFor(async () => {
        const read = await Promise.all(others.map((o) => Lead.findById(o._id).lean()));
        return read.every((l, i) => l!.score < others[i]!.score) ? true : null;
      }, 'the other leads rescored', 20_000, 50);
      clock = setInterval(() => vi.setSystemTime(Date.now() + 61_000), 100);
      outcome = await job;
    } finally {
      clearInterval(clock);
      vi.useRealTimers();
      await lock.release();
    }
    // The job succeeds (not failed, not put off for a retry): the held lead is left to the next pass.
    expect(outcome.error).toBeUndefined();
    expect(outcome.delayed).toBeUndefined();
    expect(outcome.result).toMatchObject({ changed: expect.any(Number), rollups: expect.any(Number) });
    const stuck = (await Lead.findById(held._id).lean())!;
    expect(stuck.score).toBe(held.score);
    expect(stuck.__v).toBe(held.__v);
    for (const o of others) {
      const after = (await Lead.findById(o._id).lean())!;
      expect(after.score).toBeLessThan(o.score);
      expect(after.__v).toBe(o.__v + 1);
    }
    // The funnel was rebuilt from the leads after the pass.
    expect(await FunnelDay.findById(stale).lean()).toBeNull();
  });
});
