import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_TOUCHES } from '../../src/domain/leads/lead-hooks.js';
import { Lead, leadId } from '../../src/store/models/lead.js';
import { addTouch, foldLegacy, hasTouch, keepLatest, touchesOf, type Touch, type TouchHolder } from '../../src/store/touch-log.js';
import { TEST_CORP } from '../fixtures/test-corp.js';
import { startHarness, type Harness } from '../helpers/harness.js';

const at = (s: number) => new Date(Date.UTC(2026, 11, 6, 8, 0, s));

describe('the touch log', () => {
  it('reads back every field as written, tabs, line breaks and % included, oldest first', () => {
    const lead = { touchLog: '' };
    const odd: Touch = { eventKey: 'kf|wk1|a\tb\nc%09', kind: 'reply', channelKey: 'expo\t2026', userId: 'zhang\nsan', at: at(1), ref: '100%' };
    expect(addTouch(lead, { eventKey: 'add|1', kind: 'add', channelKey: 'expo2026', userId: 'lisi', at: at(0) })).toBe(true);
    expect(addTouch(lead, odd)).toBe(true);
    expect(addTouch(lead, { eventKey: 'click|1', kind: 'click', at: at(2) })).toBe(true);
    expect(lead.touchLog.split('\n')).toHaveLength(4); // three lines and the last one's end
    expect(touchesOf(lead)).toEqual([{ eventKey: 'add|1', kind: 'add', channelKey: 'expo2026', userId: 'lisi', at: at(0), ref: null }, odd, { eventKey: 'click|1', kind: 'click', channelKey: null, userId: null, at: at(2), ref: null }]);
  });

  it('keeps one touch per key, and tells a key from one that ends or starts like it', () => {
    const lead = { touchLog: '' };
    addTouch(lead, { eventKey: 'kf|wk1|m1', kind: 'reply', at: at(0) });
    expect(addTouch(lead, { eventKey: 'kf|wk1|m1', kind: 'reply', at: at(5) })).toBe(false);
    expect(hasTouch(lead, 'kf|wk1|m1')).toBe(true);
    expect(hasTouch(lead, 'wk1|m1')).toBe(false);
    expect(hasTouch(lead, 'kf|wk1|m')).toBe(false);
    expect(addTouch(lead, { eventKey: 'kf|wk1|m1#intent', kind: 'intent', at: at(0) })).toBe(true);
    expect(touchesOf(lead).map((t) => t.eventKey)).toEqual(['kf|wk1|m1', 'kf|wk1|m1#intent']);
  });

  it('keeps the newest touches when trimmed', () => {
    const lead = { touchLog: '' };
    for (let i = 0; i < 10; i++) addTouch(lead, { eventKey: `k${i}`, kind: 'reply', at: at(i) });
    expect(touchesOf({ touchLog: keepLatest(lead.touchLog, 3) }).map((t) => t.eventKey)).toEqual(['k7', 'k8', 'k9']);
    expect(keepLatest(lead.touchLog, 10)).toBe(lead.touchLog);
    expect(keepLatest('', 3)).toBe('');
  });

  it('reads touches stored before the log (an array) with the log, and folds them into it once', () => {
    const legacy = [
      { eventKey: 'add|1', kind: 'add', channelKey: 'expo2026', userId: 'lisi', at: at(0), ref: null },
      { kind: 'click', at: at(1) },
    ];
    const log = foldLegacy([], '') + foldLegacy([{ eventKey: 'kf|wk1|m1', kind: 'reply', at: at(2) }], '');
    expect(touchesOf({ touches: legacy, touchLog: log }).map((t) => t.kind)).toEqual(['add', 'click', 'reply']);
    expect(hasTouch({ touches: legacy, touchLog: log }, 'add|1')).toBe(true);
    const folded = foldLegacy([...legacy, legacy[0]!], log + log);
    expect(touchesOf({ touchLog: folded }).map((t) => t.kind)).toEqual(['add', 'click', 'reply']);
  });
});

describe('a lead stored before the touch log', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness('touch-log');
  });
  afterAll(async () => h?.stop());

  it('has its touches folded into the log at its next save, scored the same, trimmed to the newest', async () => {
    const ext = `wm_legacy_${Date.now()}`;
    const ref = { corpId: TEST_CORP.corpId, externalUserId: ext };
    const now = new Date();
    const old = Array.from({ length: MAX_TOUCHES + 5 }, (_, i) => ({ eventKey: `click|${i}`, kind: 'click', channelKey: 'expo2026', userId: null, at: new Date(now.getTime() - (MAX_TOUCHES + 5 - i) * 1000), ref: null }));
    await Lead.collection.insertOne({ _id: leadId(ref.corpId, ext) as never, corpId: ref.corpId, externalUserId: ext, stage: 'engaged', firstTouch: { channelKey: 'expo2026', userId: 'lisi', at: old[0]!.at }, touches: old, __v: 0 });
    const saved = await h.ctx.leads.mutate(ref, null, (d) => void addTouch(d, { eventKey: 'reply|new', kind: 'reply', at: now }));
    expect(saved).not.toBeNull();
    const raw = (await Lead.collection.findOne({ _id: leadId(ref.corpId, ext) as never })) as unknown as TouchHolder & { lastTouchAt: Date; scoreReasons: Array<{ reason: string }> };
    expect(raw.touches).toBeUndefined();
    const touches = touchesOf(raw);
    expect(touches).toHaveLength(MAX_TOUCHES);
    expect(touches.at(-1)!.eventKey).toBe('reply|new');
    expect(touches[0]!.eventKey).toBe(`click|6`);
    expect(raw.lastTouchAt).toEqual(now);
    expect(raw.scoreReasons.map((r) => r.reason)).toContain(`click ×${MAX_TOUCHES - 1}`);
  });
});
