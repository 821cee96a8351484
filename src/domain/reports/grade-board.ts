import { awaitsFollowUp, OPEN_STAGES, type LeadIndex } from '../leads/lead-index.js';
import { Lead } from '../../store/models/lead.js';
import { funnel } from '../funnel/funnel.js';
import { summarize, type LeadSummary } from '../leads/query.js';

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
    for (const { v, waiting: _, ...row } of (await index.awaitingFollowUp(limit)).items) waiting.push(row);
  } else {
    const rows = await Lead.find({ grade: { $in: ['S', 'A'] }, stage: { $in: OPEN_STAGES } }).sort({ lastTouchAt: -1 }).limit(500).lean();
    for (const l of rows) {
      if (awaitsFollowUp(l) && waiting.length < limit) waiting.push({ ...summarize(l), followedUpAt: l.followedUpAt ?? null });
    }
  }
  return {
    overall: all.total.grades,
    channels: all.channels.map((c) => ({ channel: c.channel, ...c.grades })),
    waiting,
  };
}
