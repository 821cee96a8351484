import type { LeadIndex, LeadRow } from '../leads/lead-index.js';
import { Lead } from '../../store/models/lead.js';
import { funnel } from '../funnel/funnel.js';
import { summarize, type LeadSummary } from '../leads/query.js';

/** Stages in which an S or A lead still waits for someone (not a customer, not gone). */
const OPEN_STAGES = ['added', 'engaged', 'qualified', 'opportunity'] as const;

/** Whether staff followed the lead up since its latest touch. */
const followedUp = (l: { followedUpAt?: Date | string | null; lastTouchAt?: Date | string | null }) =>
  Boolean(l.followedUpAt && l.lastTouchAt && new Date(l.followedUpAt) >= new Date(l.lastTouchAt));

/**
 * Grades at a glance: the distribution overall and per channel (from the funnel rollups, all time), and the S and A
 * leads waiting for follow-up — those whose latest touch came after staff last followed them up (moved their stage,
 * edited them in the client, answered them), or that nobody followed up yet; latest touch first. Read from the lead
 * index once it is built, else from MongoDB.
 */
export async function gradeBoard(index: LeadIndex, opts: { limit?: number } = {}) {
  const limit = opts.limit ?? 50;
  const all = await funnel({ from: '0000-01-01', to: '9999-12-31' });
  const waiting: Array<LeadSummary & { followedUpAt: Date | string | null }> = [];
  if (await index.ready()) {
    let cursor: string | undefined;
    // At most 2,000 S and A leads looked at: a board, not an export.
    for (let page = 0; page < 10 && waiting.length < limit; page++) {
      const r = await index.list({ grade: ['S', 'A'], stage: [...OPEN_STAGES], sort: 'lastTouch', limit: 200, cursor });
      for (const { v, ...row } of r.items as LeadRow[]) if (!followedUp(row) && waiting.length < limit) waiting.push(row);
      if (!r.next) break;
      cursor = r.next;
    }
  } else {
    const rows = await Lead.find({ grade: { $in: ['S', 'A'] }, stage: { $in: OPEN_STAGES } }).sort({ lastTouchAt: -1 }).limit(500).lean();
    for (const l of rows) {
      if (!followedUp(l) && waiting.length < limit) waiting.push({ ...summarize(l), followedUpAt: l.followedUpAt ?? null });
    }
  }
  return {
    overall: all.total.grades,
    channels: all.channels.map((c) => ({ channel: c.channel, ...c.grades })),
    waiting,
  };
}
