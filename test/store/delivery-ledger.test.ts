import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outcomeRecorder } from '../../src/domain/delivery/record-delivery.js';
import { recordOutcomes, takeFences, type Outcome } from '../../src/store/delivery-ledger.js';
import { Fence } from '../../src/store/models/fence.js';
import { Delivery } from '../../src/store/models/delivery.js';
import { Lead, leadId } from '../../src/store/models/lead.js';
import { StageMove } from '../../src/store/models/timeline.js';
import { timelineOf } from '../../src/store/timeline.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import type { TimelineType } from '../../src/store/timeline-types.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('ledger');
});
afterAll(async () => h?.stop());

const at = new Date(Date.UTC(2026, 10, 2, 3, 0, 0));
const lead = () => ({ corpId: h.ctx.corpId, externalUserId: `wm_ledger_${Math.random().toString(36).slice(2, 10)}` });
const outcome = (l: { corpId: string; externalUserId: string }, key: string, status: 'sent' | 'failed', type: TimelineType): Outcome => ({
  delivery: { key, kind: 'nurture', corpId: l.corpId, externalUserId: l.externalUserId, userId: 'zhangsan', status, via: 'kf' },
  step: { type, detail: { n: key }, at },
});

describe('recording outcomes in batches (the records queue)', () => {
  it('records each delivery once, writes the steps of the winners only, and reports what is on record', async () => {
    const a = lead();
    const b = lead();
    // A first run recorded a's delivery as sent, then died before its step.
    const [first] = await recordOutcomes([{ delivery: outcome(a, `${a.externalUserId}|1`, 'sent', 'nurture_sent').delivery }]);
    expect(first).toEqual({ status: 'sent', created: true });
    const results = await recordOutcomes([
      outcome(a, `${a.externalUserId}|1`, 'sent', 'nurture_sent'), // the same outcome again: its step is written now
      outcome(a, `${a.externalUserId}|1`, 'failed', 'nurture_failed'), // a re-run that lost: no trace
      outcome(b, `${b.externalUserId}|1`, 'sent', 'nurture_sent'),
      { step: { type: 'nurture_skipped', detail: {}, at, lead: b, sourceKey: `${b.externalUserId}|2` } },
      { step: { type: 'stage_changed', detail: { from: 'added', to: 'engaged', by: 'system' }, at, lead: b, sourceKey: `${b.externalUserId}|3` } },
    ]);
    expect(results).toEqual([
      { status: 'sent', created: false },
      { status: 'sent', created: false },
      { status: 'sent', created: true },
      { status: null, created: false },
      { status: null, created: false },
    ]);
    expect((await timelineOf(a.corpId, a.externalUserId)).map((s) => s.type)).toEqual(['nurture_sent']);
    expect((await timelineOf(b.corpId, b.externalUserId)).map((s) => s.type).sort()).toEqual(['nurture_sent', 'nurture_skipped', 'stage_changed']);
    expect(await StageMove.countDocuments({ externalUserId: b.externalUserId })).toBe(1);
    expect(await Delivery.countDocuments({ externalUserId: { $in: [a.externalUserId, b.externalUserId] } })).toBe(2);
    // Recording the whole batch again adds nothing.
    await recordOutcomes([outcome(b, `${b.externalUserId}|1`, 'sent', 'nurture_sent')]);
    expect((await timelineOf(b.corpId, b.externalUserId)).filter((s) => s.type === 'nurture_sent')).toHaveLength(1);
  });

  it('writes the outcomes that arrive while a write is in flight together, and counts a 客服 send toward the window once', async () => {
    const l = lead();
    await h.ctx.leads.mutate(l, { channelKey: 'organic', userId: 'zhangsan', at }, (d) => {
      d.kf = { openKfid: 'wkbench', lastInboundAt: new Date(at.getTime() - 1000), sentSinceInbound: 0 } as never;
    });
    const recorder = outcomeRecorder(h.ctx);
    const sizes: number[] = [];
    recorder.onBatch = (s) => sizes.push(s.size);
    const sent = (i: number): Outcome => {
      const o = outcome(l, `${l.externalUserId}|kf|${i}`, 'sent', 'kf_reply_sent');
      return { ...o, delivery: { ...o.delivery!, sentAt: at } };
    };
    // One outcome a tick, as jobs arrive: the first is written alone, the rest wait for it and share the next write.
    const adds: Promise<void>[] = [];
    for (let i = 0; i < 20; i++) {
      adds.push(recorder.add(sent(i)));
      await new Promise((res) => setImmediate(res));
    }
    adds.push(recorder.add(sent(0))); // a retried job
    await Promise.all(adds);
    recorder.onBatch = undefined;
    expect(sizes.reduce((x, y) => x + y, 0)).toBe(21);
    expect(sizes.length).toBeLessThan(10);
    expect((await timelineOf(l.corpId, l.externalUserId)).filter((s) => s.type === 'kf_reply_sent')).toHaveLength(20);
    const doc = await Lead.findById(leadId(l.corpId, l.externalUserId)).lean();
    expect(doc?.kf?.sentSinceInbound).toBe(20);
  });
});

describe('taking fences at once (shared inserts)', () => {
  it('gives each caller what an ordered insert of its own gives: nothing past a held fence is inserted', async () => {
    const k = `shared_${Math.random().toString(36).slice(2, 10)}`;
    const spec = (id: string, kind: 'attempt' | 'day' = 'day', forKey = `${k}|a`) => ({ id: `${k}|${id}`, kind, for: forKey });
    expect((await takeFences([spec('held', 'day', `${k}|other`), spec('held2', 'day', `${k}|other`)])).blocked).toBeNull();
    // The same moment: the three callers share their inserts.
    const [a, b, c, d] = await Promise.all([
      takeFences([spec('a1'), spec('held'), spec('a3', 'attempt')]),
      takeFences([spec('b1', 'day', `${k}|b`), spec('b2', 'attempt', `${k}|b`)]),
      takeFences([spec('c1', 'day', `${k}|c`), spec('held2', 'day', `${k}|c`), spec('c3', 'attempt', `${k}|c`)]),
      // d wants the unit that a wants after its held one: a never gets that far, so d takes it.
      takeFences([spec('a3', 'attempt', `${k}|d`)]),
    ]);
    expect([a.taken.map((f) => f.id), a.blocked?.id]).toEqual([[`${k}|a1`], `${k}|held`]);
    expect([b.taken.map((f) => f.id), b.blocked]).toEqual([[`${k}|b1`, `${k}|b2`], null]);
    expect([c.taken.map((f) => f.id), c.blocked?.id]).toEqual([[`${k}|c1`], `${k}|held2`]);
    expect([d.taken.map((f) => f.id), d.blocked]).toEqual([[`${k}|a3`], null]);
    const left = await Fence.find({ _id: { $regex: `^${k}\\|` } }).lean();
    expect(left.map((f) => `${f._id}=${f.for}`).sort()).toEqual(
      [`${k}|a1=${k}|a`, `${k}|a3=${k}|d`, `${k}|b1=${k}|b`, `${k}|b2=${k}|b`, `${k}|c1=${k}|c`, `${k}|held2=${k}|other`, `${k}|held=${k}|other`].sort(),
    );
  });

  it('two callers after the same free fence: exactly one takes it', async () => {
    const k = `race_${Math.random().toString(36).slice(2, 10)}`;
    const results = await Promise.all(['x', 'y', 'z'].map((who) => takeFences([{ id: `${k}|unit`, kind: 'day', for: `${k}|${who}` }, { id: `${k}|${who}#1`, kind: 'attempt', for: `${k}|${who}` }])));
    expect(results.filter((r) => r.blocked === null)).toHaveLength(1);
    expect(results.filter((r) => r.blocked?.id === `${k}|unit` && r.taken.length === 0)).toHaveLength(2);
    // The losers' attempt fences were never inserted.
    expect(await Fence.countDocuments({ _id: { $regex: `^${k}\\|` } })).toBe(2);
  });
});
