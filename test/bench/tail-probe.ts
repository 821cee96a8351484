/**
 * What a process went through while a benchmark measured it, with timestamps, to find what puts the latency tail
 * where it is: event-loop delay (perf_hooks monitorEventLoopDelay, plus a timer that records each stall with its
 * time), GC pauses (PerformanceObserver 'gc'), optionally the inbox's group commits (InboxWriter.onBatch) and each
 * HTTP request's time inside the server (diagnostics_channel http.server.request.start → http.server.response.finish).
 * Times are ms since the epoch (fractional), the same clock in every process of the machine.
 */
import diagnostics from 'node:diagnostics_channel';
import type { IncomingMessage } from 'node:http';
import { monitorEventLoopDelay, PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';
import type { BatchStats } from '../../src/group-commit.js';

/** A span of time: [start, end] in ms since the epoch. */
export type Span = [number, number];

export interface ProbeReport {
  from: number;
  to: number;
  /** monitorEventLoopDelay over the window (ms). */
  loopDelay: { p50: number; p99: number; max: number; mean: number };
  /**
   * Stalls of the event loop: spans in which a 2 ms timer fired STALL_MS or more late, with the CPU time the process
   * used meanwhile (process.cpuUsage, all its threads): near the span's length, the process was busy (its own work,
   * GC); far below it, the process was waiting for a core (other processes had the CPUs).
   */
  stalls: Array<{ span: Span; cpuMs: number }>;
  /** GC pauses, with their kind. */
  gc: Array<{ span: Span; kind: string }>;
  /** Group commits of the inbox: size, wait for the flush, the write (span ends when the write ended). */
  batches: Array<{ size: number; waitMs: number; writeMs: number; endedAt: number }>;
  /** Time of each request inside the server (request event → response finished). */
  server: Span[];
}

/** A stall worth recording (ms late). */
export const STALL_MS = 5;
const TICK_MS = 2;

const now = () => performance.timeOrigin + performance.now();

const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-sweep',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak callbacks',
};

/** Records from start() to stop(); one window at a time. */
export class TailProbe {
  private report: ProbeReport | undefined;
  private undo: Array<() => void> = [];

  /** `inbox`: an object with the InboxWriter's onBatch setter; `server`: record requests' time inside the server. */
  start(o: { inbox?: { onBatch: ((s: BatchStats) => void) | undefined }; server?: boolean } = {}): void {
    const r: ProbeReport = { from: now(), to: NaN, loopDelay: { p50: NaN, p99: NaN, max: NaN, mean: NaN }, stalls: [], gc: [], batches: [], server: [] };
    this.report = r;

    const h = monitorEventLoopDelay({ resolution: 1 });
    h.enable();
    this.undo.push(() => {
      h.disable();
      r.loopDelay = { p50: h.percentile(50) / 1e6, p99: h.percentile(99) / 1e6, max: h.max / 1e6, mean: h.mean / 1e6 };
    });

    let last = now();
    let cpu = process.cpuUsage();
    const tick = setInterval(() => {
      const t = now();
      const used = process.cpuUsage(cpu);
      cpu = process.cpuUsage();
      const late = t - last - TICK_MS;
      if (late >= STALL_MS) r.stalls.push({ span: [last, t], cpuMs: (used.user + used.system) / 1000 });
      last = t;
    }, TICK_MS);
    this.undo.push(() => clearInterval(tick));

    const obs = new PerformanceObserver((list) => {
      for (const e of list.getEntries() as Array<PerformanceEntry & { detail?: { kind?: number } }>) {
        const start = performance.timeOrigin + e.startTime;
        r.gc.push({ span: [start, start + e.duration], kind: GC_KINDS[e.detail?.kind ?? -1] ?? 'other' });
      }
    });
    obs.observe({ entryTypes: ['gc'] });
    this.undo.push(() => obs.disconnect());

    if (o.inbox) {
      const inbox = o.inbox;
      inbox.onBatch = (s) => r.batches.push({ size: s.size, waitMs: s.waitMs, writeMs: s.writeMs, endedAt: s.endedAt });
      this.undo.push(() => (inbox.onBatch = undefined));
    }

    if (o.server) {
      const started = new WeakMap<IncomingMessage, number>();
      const onStart = (m: unknown) => started.set((m as { request: IncomingMessage }).request, now());
      const onFinish = (m: unknown) => {
        const t0 = started.get((m as { request: IncomingMessage }).request);
        if (t0 !== undefined) r.server.push([t0, now()]);
      };
      diagnostics.subscribe('http.server.request.start', onStart);
      diagnostics.subscribe('http.server.response.finish', onFinish);
      this.undo.push(() => {
        diagnostics.unsubscribe('http.server.request.start', onStart);
        diagnostics.unsubscribe('http.server.response.finish', onFinish);
      });
    }
  }

  stop(): ProbeReport {
    const r = this.report;
    if (!r) throw new Error('TailProbe.stop() before start()');
    for (const f of this.undo.splice(0)) f();
    r.to = now();
    this.report = undefined;
    return r;
  }
}

/** p-th percentile of an ascending array. */
export function pct(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** How many of `requests` overlap at least one of `events` (both spans; events need not be sorted). */
export function overlapping(requests: Span[], events: Span[]): number {
  if (!events.length) return 0;
  const ev = [...events].sort((a, b) => a[0] - b[0]);
  // Longest event, to bound the search back from a request's end.
  const longest = Math.max(...ev.map(([s, e]) => e - s));
  let n = 0;
  for (const [s, e] of requests) {
    // Events that start before the request ends and end after it starts.
    let lo = 0;
    let hi = ev.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ev[mid]![0] < e) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo - 1; i >= 0 && ev[i]![0] >= s - longest; i--) {
      if (ev[i]![1] > s) {
        n++;
        break;
      }
    }
  }
  return n;
}
