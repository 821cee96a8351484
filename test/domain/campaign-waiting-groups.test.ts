import { describe, expect, it } from 'vitest';
import { MAX_WAITING, WaitingGroups } from '../../src/domain/campaigns/waiting-groups.js';

/** Leads `g<i>:<n>` of `groups` groups, dealt round-robin (as a segment read in _id order mixes owners). */
const dealt = (groups: number, total: number) => Array.from({ length: total }, (_, n) => ({ group: `g${n % groups}`, id: `g${n % groups}:${n}` }));
const groupOf = (id: string) => id.split(':')[0]!;
/** Per group, the sizes of the tasks the cycles make (a cycle sends one task per group in it). */
function tasks(cycles: string[][]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const cycle of cycles) {
    const n: Record<string, number> = {};
    for (const id of cycle) n[groupOf(id)] = (n[groupOf(id)] ?? 0) + 1;
    for (const [g, k] of Object.entries(n)) (out[g] ??= []).push(k);
  }
  return out;
}

describe('WaitingGroups: the leads a campaign run keeps for their mass message', () => {
  it('keeps each group whole until the pass ends: one task per group, in cycles of at most one task', () => {
    const w = new WaitingGroups<string>(300);
    const sent: string[][] = [];
    const leads = dealt(8, 2000);
    for (let i = 0; i < leads.length; i += 500) {
      for (const l of leads.slice(i, i + 500)) w.add(l.group, l.id);
      sent.push(...w.take(false));
    }
    expect(sent).toEqual([]);
    expect(w.size).toBe(2000);
    const cycles = w.take(true);
    expect(cycles.every((c) => c.length <= 300)).toBe(true);
    expect(tasks(cycles)).toEqual(Object.fromEntries(Array.from({ length: 8 }, (_, g) => [`g${g}`, [250]])));
    expect(w.size).toBe(0);
  });

  it('sends a group as soon as it fills a task; only what is over a task is a task more', () => {
    const w = new WaitingGroups<string>(300);
    const sent: string[][] = [];
    for (const l of dealt(1, 700)) {
      w.add(l.group, l.id);
      sent.push(...w.take(false));
    }
    sent.push(...w.take(true));
    expect(sent.map((c) => c.length)).toEqual([300, 300, 100]);
  });

  it('small groups share a cycle; none is cut in two', () => {
    const w = new WaitingGroups<string>(10);
    for (const l of dealt(7, 28)) w.add(l.group, l.id);
    const cycles = w.take(true);
    expect(cycles.map((c) => c.length)).toEqual([8, 8, 8, 4]);
    expect(Object.values(tasks(cycles)).every((sizes) => sizes.length === 1)).toBe(true);
  });

  it('over the memory bound: whole groups go early, the largest first, until no more than the bound waits', () => {
    const w = new WaitingGroups<string>(300, 1000);
    for (let i = 0; i < 200; i++) w.add('big', `big:${i}`);
    for (let i = 0; i < 150; i++) w.add('mid', `mid:${i}`);
    for (const l of dealt(10, 700)) w.add(l.group, l.id);
    expect(w.size).toBe(1050);
    const early = w.take(false);
    expect(tasks(early)).toEqual({ big: [200] });
    expect(w.size).toBe(850);
    expect(w.take(false)).toEqual([]);
    expect(MAX_WAITING).toBe(50_000);
  });
});
