import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/dev/demo-data.js';
import { findLeads, type IndexQuery } from '../../src/domain/leads/lead-index.js';
import { listLeads } from '../../src/domain/leads/query.js';
import { moveStage } from '../../src/domain/leads/stage.js';
import { Lead, splitLeadId } from '../../src/store/models/lead.js';
import { deleteMatching } from '../fixtures/test-corp.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { seedLeads } from '../helpers/seed-leads.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('lead-index');
  await seedDemo(h.ctx, { members: ['zhangsan', 'lisi'], leads: 150, seed: 3 });
});
afterAll(async () => h?.stop());

const ids = (page: { items: Array<{ id: string }> }) => page.items.map((i) => i.id);

/** Every page of a list, through its cursors. */
async function allPages(list: (cursor?: string) => Promise<{ items: Array<{ id: string }>; next: string | null }>) {
  const out: string[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 50; i++) {
    const page = await list(cursor);
    out.push(...ids(page));
    if (!page.next) return out;
    cursor = page.next;
  }
  throw new Error('too many pages');
}

describe('lead index', () => {
  const queries: IndexQuery[] = [
    {},
    { stage: 'engaged' },
    { grade: 'A', sort: 'score' },
    { channel: 'expo2026', sort: 'added' },
    { tag: '行业/制造业' },
    { tag: '无欢迎语' },
    { owner: 'zhangsan', stage: 'qualified' },
    { q: '王' },
    { sort: 'grade' },
    { stage: 'engaged', sort: 'grade' },
    { grade: 'A', sort: 'grade' },
    { q: '王', sort: 'grade' },
  ];

  it('answers every list as MongoDB does: the same leads in the same order, page after page', async () => {
    expect(await h.ctx.leadIndex.ready()).toBe(true);
    for (const q of queries) {
      const fromIndex = await allPages((cursor) => h.ctx.leadIndex.list({ ...q, limit: 7, cursor }));
      const fromMongo = await allPages((cursor) => listLeads({ ...q, stage: q.stage as never, grade: q.grade as never, limit: 7, cursor }));
      expect(fromIndex, JSON.stringify(q)).toEqual(fromMongo);
    }
    // By grade: S, then A, B, C, each by score (highest first), page after page.
    const byGrade = await allPages((cursor) => h.ctx.leadIndex.list({ sort: 'grade', limit: 9, cursor }));
    const leads = new Map((await Lead.find({}, { grade: 1, score: 1 }).lean()).map((l) => [l._id, l]));
    const rank = (id: string) => ['C', 'B', 'A', 'S'].indexOf(leads.get(id)!.grade!) * 1e7 + (leads.get(id)!.score ?? 0);
    expect(byGrade).toHaveLength(leads.size);
    expect(byGrade.map(rank)).toEqual([...byGrade.map(rank)].sort((a, b) => b - a));
    expect(leads.get(byGrade[0]!)!.grade).toBe('S');
    const total = (await h.ctx.leadIndex.list({ stage: 'engaged' })).total;
    expect(total).toBe(await Lead.countDocuments({ stage: 'engaged' }));
  });

  it('searches as MongoDB does: name, remark or company containing q, or the external user id itself (not a part of it)', async () => {
    const lead = (await Lead.findOne({ corpName: { $nin: [null, ''] } }, { externalUserId: 1, name: 1, corpName: 1 }).lean())!;
    const ext = lead.externalUserId;
    for (const q of [ext, ext.slice(3, 9), ext.slice(3, 9).toUpperCase(), 'x', 'e', `${lead.name} ${lead.corpName}`]) {
      const fromIndex = await allPages((cursor) => h.ctx.leadIndex.list({ q, limit: 50, cursor }));
      const fromMongo = await allPages((cursor) => listLeads({ q, limit: 50, cursor }));
      expect(fromIndex, q).toEqual(fromMongo);
    }
    expect(await allPages((cursor) => h.ctx.leadIndex.list({ q: ext, cursor }))).toContain(lead._id);
  });

  it('a list paged while its source changes (MongoDB, then the index, then MongoDB) goes on where it was, in every sort', async () => {
    for (const sort of ['grade', 'score', 'lastTouch', 'added'] as const) {
      const whole = await allPages((cursor) => h.ctx.leadIndex.list({ sort, limit: 11, cursor }));
      let turn = 0;
      const mixed = await allPages((cursor) => (turn++ % 2 === 0 ? listLeads({ sort, limit: 11, cursor }) : h.ctx.leadIndex.list({ sort, limit: 11, cursor })));
      expect(mixed, sort).toEqual(whole);
    }
  });

  it('lists leads never touched (no last touch) too, after the others, page after page', async () => {
    const tag = '测试/untouched';
    const seeded = await seedLeads(h.sandbox, [null, null, new Date(Date.now() - 3_600_000), null, new Date(Date.now() - 7_200_000)].map((at, i) => ({ name: `未互动${i}`, tags: [tag], lastTouchAt: at })));
    const fromMongo = await allPages((cursor) => listLeads({ tag, limit: 2, cursor }));
    expect([...fromMongo].sort()).toEqual(seeded.map((s) => s.id).sort());
    expect(fromMongo.slice(0, 2)).toEqual([seeded[2]!.id, seeded[4]!.id]);
  });

  it('follows every change of a lead: a stage move, a rescore, an update around load-modify-save', async () => {
    const lead = (await h.ctx.leadIndex.list({ stage: 'engaged', limit: 1 })).items[0]!;
    const ref = splitLeadId(lead.id)!;
    await moveStage(h.ctx, ref, 'opportunity', { by: 'staff', source: 'api', reason: '测试' });
    expect(ids(await h.ctx.leadIndex.list({ stage: 'opportunity', limit: 200 }))).toContain(lead.id);
    expect(ids(await h.ctx.leadIndex.list({ stage: 'engaged', limit: 200 }))).not.toContain(lead.id);
    await h.ctx.leads.update(ref, {}, { $set: { name: '改名后的客户' } });
    expect(ids(await h.ctx.leadIndex.list({ q: '改名后' }))).toEqual([lead.id]);
    // The rescore moves grades without the load-modify-save path: the index follows.
    await Lead.updateOne({ _id: lead.id }, { $set: { grade: 'C', score: 0 } });
    await h.runJob('rescore', {});
    const row = (await h.ctx.leadIndex.rows([lead.id]))[0]!;
    const stored = (await Lead.findById(lead.id).lean())!;
    expect([row.grade, row.score]).toEqual([stored.grade, stored.score]);
    expect(ids(await h.ctx.leadIndex.list({ grade: stored.grade as never, limit: 200 }))).toContain(lead.id);
  });

  it('lost with Redis: lists come from MongoDB until the index is rebuilt, then from the index again', async () => {
    const before = await findLeads(h.ctx.leadIndex, { stage: 'customer', limit: 200 });
    expect(before.total).toBe(before.items.length);
    await deleteMatching(h.ctx.redis, h.ctx.keys.leadIndex('*'));
    expect(await h.ctx.leadIndex.ready()).toBe(false);
    const meanwhile = await findLeads(h.ctx.leadIndex, { stage: 'customer', limit: 200 });
    expect(meanwhile.total).toBeNull();
    expect(ids(meanwhile)).toEqual(ids(before));
    await h.ctx.leadIndex.ensureBuilt(h.ctx.log);
    const after = await findLeads(h.ctx.leadIndex, { stage: 'customer', limit: 200 });
    expect(ids(after)).toEqual(ids(before));
    expect(after.total).toBe(before.total);
  });

  it('a rebuild never puts back an older copy over a change made while it ran', async () => {
    const id = (await h.ctx.leadIndex.list({ limit: 1 })).items[0]!.id;
    const lead = (await Lead.findById(id).lean())!;
    // A live change written after the copy the rebuild streams.
    await h.ctx.leadIndex.put({ ...lead, name: '新名字', updatedAt: new Date(Date.now() + 60_000) });
    await h.ctx.leadIndex.rebuild();
    expect((await h.ctx.leadIndex.rows([id]))[0]!.name).toBe('新名字');
  });
});
