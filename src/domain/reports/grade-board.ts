import { Lead } from '../../store/models/lead.js';
import { funnel } from '../funnel/funnel.js';
import { summarize } from '../leads/query.js';

/**
 * Grades at a glance: the distribution overall and per channel (from the funnel rollups, all time), and the S and A
 * leads waiting for follow-up — those whose latest touch came after staff last followed them up (moved their stage,
 * edited them in the client, answered them), or that nobody followed up yet; latest touch first.
 */
export async function gradeBoard(opts: { limit?: number } = {}) {
  const all = await funnel({ from: '0000-01-01', to: '9999-12-31' });
  const waiting = [];
  const rows = await Lead.find({ grade: { $in: ['S', 'A'] }, stage: { $nin: ['lost', 'unsubscribed', 'customer'] } }).sort({ lastTouchAt: -1 }).limit(500).lean();
  for (const l of rows) {
    const handled = l.followedUpAt && l.lastTouchAt && l.followedUpAt >= l.lastTouchAt;
    if (!handled) waiting.push({ ...summarize(l), followedUpAt: l.followedUpAt ?? null });
    if (waiting.length >= (opts.limit ?? 50)) break;
  }
  return {
    overall: all.total.grades,
    channels: all.channels.map((c) => ({ channel: c.channel, ...c.grades })),
    waiting,
  };
}
