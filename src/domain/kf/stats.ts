import { KfResponse } from '../../store/models/kf.js';

/** First-response times of a group of conversations. */
export interface ResponseStats {
  count: number;
  /** Median and 90th percentile, in seconds counted within SERVICE_HOURS (what the target is measured in)… */
  medianSeconds: number | null;
  p90Seconds: number | null;
  /** …and the same in wall-clock seconds. */
  medianWallSeconds: number | null;
  p90WallSeconds: number | null;
  /** How many went past the target (the servicer or owner was told) and past twice it (the ops group was). */
  overTarget: number;
  overTwiceTarget: number;
}

/** The q-quantile of sorted numbers (nearest rank). */
function quantile(sorted: number[], q: number): number | null {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

function stats(rows: Array<{ seconds: number; serviceSeconds: number; targetSeconds: number }>): ResponseStats {
  const service = rows.map((r) => r.serviceSeconds).sort((a, b) => a - b);
  const wall = rows.map((r) => r.seconds).sort((a, b) => a - b);
  return {
    count: rows.length,
    medianSeconds: quantile(service, 0.5),
    p90Seconds: quantile(service, 0.9),
    medianWallSeconds: quantile(wall, 0.5),
    p90WallSeconds: quantile(wall, 0.9),
    overTarget: rows.filter((r) => r.serviceSeconds > r.targetSeconds).length,
    overTwiceTarget: rows.filter((r) => r.serviceSeconds > 2 * r.targetSeconds).length,
  };
}

/** How many of the period's answers past their target are listed (the latest first). */
const BREACHES_SHOWN = 20;

/**
 * First-response times of the conversations whose clock started in [from, to): overall, per servicer and per channel
 * (median and 90th percentile), and the latest answers that came past their target. Reads the response records of
 * the period (one per conversation and clock).
 */
export async function serviceStats(from: Date, to: Date) {
  const rows = await KfResponse.find(
    { startedAt: { $gte: from, $lt: to } },
    { corpId: 1, externalUserId: 1, servicer: 1, channelKey: 1, startedAt: 1, repliedAt: 1, seconds: 1, serviceSeconds: 1, targetSeconds: 1 },
  ).lean();
  const by = (k: 'servicer' | 'channelKey') => {
    const groups = new Map<string, typeof rows>();
    for (const r of rows) {
      const g = r[k] ?? '(none)';
      groups.set(g, [...(groups.get(g) ?? []), r]);
    }
    return [...groups].map(([name, list]) => ({ name, ...stats(list) })).sort((a, b) => b.count - a.count);
  };
  const breaches = rows
    .filter((r) => r.serviceSeconds > r.targetSeconds)
    .sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime())
    .slice(0, BREACHES_SHOWN)
    .map((r) => ({
      lead: `${r.corpId}:${r.externalUserId}`,
      servicer: r.servicer ?? null,
      channel: r.channelKey ?? null,
      startedAt: r.startedAt,
      repliedAt: r.repliedAt,
      serviceSeconds: r.serviceSeconds,
      targetSeconds: r.targetSeconds,
    }));
  return { total: stats(rows), servicers: by('servicer'), channels: by('channelKey'), breaches };
}
