import { serviceDays } from './service-days.js';

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
 * First-response times of the conversations whose clock started on `days` (local days in `tz`): overall, per servicer
 * and per channel (median and 90th percentile), and the latest answers that came past their target. Reads the
 * period's service days (one primary-key read per day, src/domain/kf/service-days.ts).
 */
export async function serviceStats(tz: string, days: string[]) {
  const rows = await serviceDays(tz, days);
  const by = (k: 'servicer' | 'channel') => {
    const groups = new Map<string, typeof rows>();
    for (const r of rows) {
      const g = r[k] ?? '(none)';
      const list = groups.get(g);
      if (list) list.push(r);
      else groups.set(g, [r]);
    }
    return [...groups].map(([name, list]) => ({ name, ...stats(list) })).sort((a, b) => b.count - a.count);
  };
  const breaches = rows
    .filter((r) => r.serviceSeconds > r.targetSeconds)
    .sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime())
    .slice(0, BREACHES_SHOWN)
    .map((r) => ({
      lead: r.lead,
      servicer: r.servicer,
      channel: r.channel,
      startedAt: r.startedAt,
      repliedAt: r.repliedAt,
      serviceSeconds: r.serviceSeconds,
      targetSeconds: r.targetSeconds,
    }));
  return { total: stats(rows), servicers: by('servicer'), channels: by('channel'), breaches };
}
