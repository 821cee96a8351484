import { FunnelDay } from '../../store/models/funnel-day.js';
import { FUNNEL, GRADES } from '../vocabulary.js';

/** The counts of one funnel (a channel, or the total): leads added in the period that reached each stage. */
export interface FunnelCounts {
  added: number;
  engaged: number;
  qualified: number;
  opportunity: number;
  customer: number;
  lost: number;
  unsubscribed: number;
  grades: { S: number; A: number; B: number; C: number };
  /** From each stage to the next, and from added to qualified and to customer: shares (0–1), null with none to convert. */
  conversion: Record<string, number | null>;
}

/** A funnel per channel and in total, and the same split by role. */
export interface Funnel {
  from: string;
  to: string;
  channels: Array<FunnelCounts & { channel: string }>;
  total: FunnelCounts;
  roles: Array<FunnelCounts & { role: string }>;
}

type Counts = { added?: number; reached?: Record<string, number>; lost?: number; unsubscribed?: number; grades?: Record<string, number>; roles?: Record<string, Counts> };

/**
 * The funnel of the leads added from `from` to `to` (days, inclusive, in OPS_TIMEZONE), per channel and in total,
 * optionally for one channel: computed from the rollups (one small document per day and channel), never $facet.
 */
export async function funnel(opts: { from: string; to: string; channel?: string }): Promise<Funnel> {
  const byChannel = new Map<string, FunnelCounts>();
  const byRole = new Map<string, FunnelCounts>();
  const total = emptyCounts();
  const filter: Record<string, unknown> = { day: { $gte: opts.from, $lte: opts.to } };
  if (opts.channel) filter.channel = opts.channel;
  for (const d of await FunnelDay.find(filter).lean()) {
    const counts = d.counts as Counts;
    const c = byChannel.get(d.channel) ?? emptyCounts();
    addCounts(c, counts);
    addCounts(total, counts);
    byChannel.set(d.channel, c);
    for (const [role, rc] of Object.entries(counts.roles ?? {})) {
      const r = byRole.get(role) ?? emptyCounts();
      addCounts(r, rc);
      byRole.set(role, r);
    }
  }
  const finish = (c: FunnelCounts) => ({ ...c, conversion: conversion(c) });
  return {
    from: opts.from,
    to: opts.to,
    channels: [...byChannel].map(([channel, c]) => ({ channel, ...finish(c) })).sort((a, b) => b.added - a.added || a.channel.localeCompare(b.channel)),
    total: finish(total),
    roles: [...byRole].map(([role, c]) => ({ role, ...finish(c) })).sort((a, b) => b.added - a.added),
  };
}

function emptyCounts(): FunnelCounts {
  return { added: 0, engaged: 0, qualified: 0, opportunity: 0, customer: 0, lost: 0, unsubscribed: 0, grades: { S: 0, A: 0, B: 0, C: 0 }, conversion: {} };
}

function addCounts(into: FunnelCounts, c: Counts): void {
  into.added += c.added ?? 0;
  for (const s of FUNNEL.slice(1)) (into as unknown as Record<string, number>)[s]! += c.reached?.[s] ?? 0;
  into.lost += c.lost ?? 0;
  into.unsubscribed += c.unsubscribed ?? 0;
  for (const g of GRADES) into.grades[g] += c.grades?.[g] ?? 0;
}

function conversion(c: FunnelCounts): Record<string, number | null> {
  const share = (n: number, of: number) => (of ? Math.round((n / of) * 1000) / 1000 : null);
  const out: Record<string, number | null> = {};
  for (let i = 1; i < FUNNEL.length; i++) {
    const from = FUNNEL[i - 1]!;
    const to = FUNNEL[i]!;
    out[`${from}_${to}`] = share((c as unknown as Record<string, number>)[to]!, (c as unknown as Record<string, number>)[from]!);
  }
  out.added_qualified = share(c.qualified, c.added);
  out.added_customer = share(c.customer, c.added);
  return out;
}
