/**
 * Leads that may wait in memory for their mass message: five of WeCom's largest tasks (10,000 customers per
 * add_msg_template [D:92135]), a few hundred bytes each, about 20 MB (docs/benchmarks-campaign.md).
 */
export const MAX_WAITING = 50_000;

/** The group a lead waits in: its mass message's sender and content (one add_msg_template per group and task). */
export const waitingGroup = (it: { sender: string; signature: string }) => `${it.sender}|${it.signature}`;

/**
 * The leads of a campaign run's pass that wait for their mass message, one list per group (sender and content), so
 * that an owner confirms one task per content and run (docs/ops-guide.md, "Running: what owners see"). A list is
 * sent when it fills a task (`perTask`, CAMPAIGN_MASS_BATCH) or when the pass ends; it is never cut in two otherwise.
 * Only when more than `maxWaiting` leads wait are lists sent before the pass ends: whole lists, the largest first,
 * until no more than that wait. The dry run groups its estimates with this class too, so it counts the tasks a run
 * makes.
 */
export class WaitingGroups<T> {
  private readonly lists = new Map<string, T[]>();
  private readonly full: T[][] = [];
  private count = 0;

  constructor(
    private readonly perTask: number,
    private readonly maxWaiting = MAX_WAITING,
  ) {}

  /** How many leads wait. */
  get size(): number {
    return this.count;
  }

  /** A lead for its group; a list that fills a task is set aside to be sent by the next take(). */
  add(group: string, item: T): void {
    let list = this.lists.get(group);
    if (!list) this.lists.set(group, (list = []));
    list.push(item);
    this.count++;
    if (list.length < this.perTask) return;
    this.lists.delete(group);
    this.count -= list.length;
    this.full.push(list);
  }

  /**
   * What to send now, in cycles (src/domain/campaigns/send.ts) of whole lists, at most `perTask` leads each: the lists
   * that filled a task; with `all` (the pass's end) every other list; else, while more than `maxWaiting` leads wait,
   * whole lists, the largest first.
   */
  take(all: boolean): T[][] {
    const out = this.full.splice(0);
    const early: T[][] = [];
    if (all) {
      early.push(...this.lists.values());
      this.lists.clear();
      this.count = 0;
    } else if (this.count > this.maxWaiting) {
      for (const [group, list] of [...this.lists].sort((a, b) => b[1].length - a[1].length)) {
        if (this.count <= this.maxWaiting) break;
        this.lists.delete(group);
        this.count -= list.length;
        early.push(list);
      }
    }
    // Lists shorter than a task share cycles; none is split, so each stays one task.
    let cycle: T[] = [];
    for (const list of early) {
      if (cycle.length && cycle.length + list.length > this.perTask) {
        out.push(cycle);
        cycle = [];
      }
      for (const x of list) cycle.push(x);
    }
    if (cycle.length) out.push(cycle);
    return out;
  }
}
