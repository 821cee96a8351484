import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RedisKeys } from '../../redis/keys.js';
import { tryLock } from '../../redis/lock.js';
import { Lead, type LeadFields } from '../../store/models/lead.js';
import { rebuildLoggedSteps } from '../../store/timeline.js';
import type { Grade, Stage } from '../vocabulary.js';
import { searchMatches, searchMember } from './lead-search.js';
import { decodeCursor, encodeCursor, gradeOrder, listLeads, summarize, SUMMARY_FIELDS, type LeadFilter, type LeadSummary } from './query.js';

/**
 * The dashboard's index of leads, in Redis: what lead lists show (one row per lead), in the orders they are sorted by,
 * and the sets they are filtered by. MongoDB stays the truth; this is a read model kept by every change of a lead
 * (the lead hooks) and rebuilt from the leads when it is missing (after a Redis flush) and after the daily rescore.
 *
 * Why: a list of 50 leads out of 100,000, filtered and sorted, is a scan on a MongoDB-wire server that filters in its
 * own process (FerretDB 1.x: seconds, docs/benchmarks-dashboard.md); here it is one intersection of sets and a range
 * of a sorted set (milliseconds). Until the index is built, lists are answered from MongoDB (slow, never wrong).
 *
 * Keys (RedisKeys.leadIndex): `rows` hash id → row JSON; `z:touch|added|score` sorted sets; `s:<facet>:<value>` sets
 * (stage, grade, channel, tag `group/name`, tagname, owner); `search` (a sorted set of `text\u0001id` members matched
 * with ZSCAN); `z:grade` (S, A, B, C, by score within a grade); `z:followup` (awaitsFollowUp, by last touch);
 * `built:<n>` (when the last full build ended); `q:<filter>` intersections kept a few seconds for paging.
 */

/** A customer waiting for a person's answer in 微信客服: the running service clock (src/domain/kf/clock.ts). */
export interface Waiting {
  since: Date | string;
  excerpt: string;
  targetSeconds: number;
  firstDue: Date | string;
  secondDue: Date | string;
  /** 0 within the target, 1 past it (the servicer or owner was told), 2 past twice it (the ops group was). */
  level: number;
  servicer: string | null;
}

/**
 * A row of a lead list: the summary plus what the grade board and the service page need, and when the lead was last
 * written (ms).
 */
export type LeadRow = LeadSummary & { followedUpAt: Date | string | null; waiting: Waiting | null; v: number };

export type IndexSort = 'lastTouch' | 'added' | 'score' | 'grade';

/** A list query on the index: each facet given is required; an array within a facet means any of its values. */
export interface IndexQuery {
  q?: string;
  stage?: Stage | Stage[];
  grade?: Grade | Grade[];
  channel?: string;
  /** `group/name`, or a tag name alone (any group). */
  tag?: string;
  owner?: string;
  sort?: IndexSort;
  limit?: number;
  cursor?: string;
}

const SORT_SET: Record<IndexSort, string> = { lastTouch: 'z:touch', added: 'z:added', score: 'z:score', grade: 'z:grade' };
/** Stages in which an S or A lead still waits for someone (not a customer, not gone). */
export const OPEN_STAGES = ['added', 'engaged', 'qualified', 'opportunity'] as const;

/**
 * An S or A lead in an open stage that nobody followed up (moved its stage, edited it in the client, answered it)
 * since its latest touch.
 */
export function awaitsFollowUp(l: { grade?: string | null; stage?: string | null; followedUpAt?: Date | string | null; lastTouchAt?: Date | string | null }): boolean {
  if ((l.grade !== 'S' && l.grade !== 'A') || !(OPEN_STAGES as readonly string[]).includes(l.stage ?? '')) return false;
  return !(l.followedUpAt && l.lastTouchAt && new Date(l.followedUpAt) >= new Date(l.lastTouchAt));
}

const INDEX_FIELDS = { ...SUMMARY_FIELDS, followedUpAt: 1, updatedAt: 1, 'kf.clock': 1, 'kf.servicer': 1 } as const;
/** Lead fields whose change changes a row: a write that sets none of them leaves the index as it is. */
const INDEXED_FIELDS = new Set(['name', 'corpName', 'stage', 'grade', 'gradePin', 'score', 'role', 'industry', 'owners', 'tags', 'tagKeys', 'lastTouchAt', 'followedUpAt', 'firstTouch', 'kf.clock', 'kf.servicer']);
/** Whether a write to `field` (a path such as `kf.clock.level`) changes a row. */
export const changesRow = (field: string) => INDEXED_FIELDS.has(field) || INDEXED_FIELDS.has(field.split('.')[0]!) || INDEXED_FIELDS.has(field.split('.').slice(0, 2).join('.'));
/** How many waiting customers the service page lists at most (the oldest first). */
const WAITING_SHOWN = 200;
/** How late a waiting customer is at `now`: what the alerts already did, or what is due now if their job has not run yet. */
export function waitingLevel(w: Waiting, now: number): number {
  return Math.max(w.level, now > new Date(w.secondDue).getTime() ? 2 : now > new Date(w.firstDue).getTime() ? 1 : 0);
}
/**
 * Waiting rows, the longest waiting first, as many as a page lists, how many there are and how many of them are past
 * their target at `now` (all of them, not only those listed).
 */
function longestWaitingFirst(rows: LeadRow[], now: number): { items: LeadRow[]; total: number; late: number } {
  const waiting = rows.filter((r) => r.waiting).sort((a, b) => new Date(a.waiting!.since).getTime() - new Date(b.waiting!.since).getTime());
  return { items: waiting.slice(0, WAITING_SHOWN), total: waiting.length, late: waiting.filter((r) => waitingLevel(r.waiting!, now) > 0).length };
}
/** The marker of a finished build; its number changes with the index's shape, so an older index is built again. */
const BUILT = 'built:4';

/** How long an intersection is kept for the next pages of the same list. */
const QUERY_TTL_SECONDS = 30;

/**
 * Replaces a lead's row and memberships. A rebuild's put (ARGV[9] = '0') leaves a row written later than its copy of
 * the lead alone, so streaming an older copy never undoes a live change; a live put (made right after the write, under
 * the lead's lock) always wins. ARGV: prefix, id, version (the lead's updatedAt, ms), row JSON (holding its memberships
 * as `_m` and its search member as `_s`, to undo them), touch, added, score, search member, live flag, grade order,
 * the follow-up order (empty: not waiting for one), then the memberships (`s:...` set names). The row is stored as
 * given: Lua's JSON would turn an empty list into an object.
 */
const PUT = `
local prefix, id, v = ARGV[1], ARGV[2], tonumber(ARGV[3])
local old = redis.call('HGET', KEYS[1], id)
if old then
  local o = cjson.decode(old)
  if ARGV[9] == '0' and tonumber(o.v) > v then return 0 end
  for _, m in ipairs(o._m) do redis.call('SREM', prefix .. m, id) end
  redis.call('ZREM', prefix .. 'search', o._s)
end
for i = 12, #ARGV do redis.call('SADD', prefix .. ARGV[i], id) end
redis.call('HSET', KEYS[1], id, ARGV[4])
redis.call('ZADD', prefix .. 'z:touch', ARGV[5], id)
redis.call('ZADD', prefix .. 'z:added', ARGV[6], id)
redis.call('ZADD', prefix .. 'z:score', ARGV[7], id)
redis.call('ZADD', prefix .. 'search', 0, ARGV[8])
redis.call('ZADD', prefix .. 'z:grade', ARGV[10], id)
if ARGV[11] ~= '' then redis.call('ZADD', prefix .. 'z:followup', ARGV[11], id) else redis.call('ZREM', prefix .. 'z:followup', id) end
return 1
`;

type LeadDocLike = Partial<LeadFields> & { _id: string; updatedAt?: Date | null };

export class LeadIndex {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  private k(part: string): string {
    return this.keys.leadIndex(part);
  }

  /** True once a full build has finished (and no flush has emptied Redis since). */
  async ready(): Promise<boolean> {
    return (await this.redis.exists(this.k(BUILT))) === 1;
  }

  /** Puts the state a lead was just saved with (a document or a lean copy with the index fields). */
  async put(lead: LeadDocLike): Promise<void> {
    await this.putArgs(this.redis, lead, true);
  }

  private putArgs(target: { eval: Redis['eval'] }, lead: LeadDocLike, live: boolean) {
    const row = toRow(lead);
    const memberships = [
      `s:stage:${row.stage}`,
      `s:grade:${row.grade}`,
      ...(row.channel ? [`s:channel:${row.channel}`] : []),
      ...row.tags.flatMap((t) => [`s:tag:${t.group}/${t.name}`, `s:tagname:${t.name}`]),
      ...row.owners.map((o) => `s:owner:${o.userId}`),
      ...(row.waiting ? ['s:waiting'] : []),
    ];
    const search = searchMember(row);
    const time = (d: Date | null) => (d ? new Date(d).getTime() : 0);
    const m = [...new Set(memberships)];
    const json = JSON.stringify({ ...row, _m: m, _s: search });
    return target.eval(PUT, 1, this.k('rows'), this.k(''), row.id, row.v, json, time(row.lastTouchAt), time(row.addedAt), row.score, search, live ? '1' : '0', gradeOrder(row.grade, row.score), awaitsFollowUp(row) ? time(row.lastTouchAt) : '', ...m);
  }

  /** Reads a lead by _id and puts it (after a write that bypassed the load-modify-save path). */
  async refresh(id: string): Promise<void> {
    const lead = (await Lead.findById(id, INDEX_FIELDS).lean()) as LeadDocLike | null;
    if (lead) await this.put(lead);
  }

  /**
   * Builds the index from every lead (streamed, written in pipelines), then marks it built. Rows of leads changed
   * meanwhile are not overwritten by older copies (see PUT). Returns how many leads it read.
   */
  async rebuild(onProgress?: (n: number) => void): Promise<number> {
    let n = 0;
    let pipeline = this.redis.pipeline();
    for await (const lead of Lead.find({}, INDEX_FIELDS).lean().cursor({ batchSize: 2000 })) {
      this.putArgs(pipeline as unknown as { eval: Redis['eval'] }, lead as LeadDocLike, false);
      if (++n % 1000 === 0) {
        await pipeline.exec();
        pipeline = this.redis.pipeline();
        if (n % 10_000 === 0) onProgress?.(n);
      }
    }
    await pipeline.exec();
    // The ids of steps recorded in bulk, per lead (what a lead's timeline reads them by).
    await rebuildLoggedSteps(this.redis, this.keys);
    await this.redis.set(this.k(BUILT), new Date().toISOString());
    return n;
  }

  /**
   * Builds the index unless it is built; one process at a time (another one building it is left to it). What a bot
   * does at start: after a Redis flush the index is rebuilt from MongoDB, lists meanwhile answered from MongoDB.
   */
  async ensureBuilt(log: { info(o: object, m: string): void }): Promise<void> {
    if (await this.ready()) return;
    const lock = await tryLock(this.redis, this.k('lock'), 30_000);
    if (!lock) return;
    try {
      if (await this.ready()) return;
      const started = Date.now();
      const n = await this.rebuild((k) => log.info({ leads: k }, 'lead index: building'));
      log.info({ leads: n, ms: Date.now() - started }, 'lead index built');
    } finally {
      await lock.release();
    }
  }

  /** Applies new scores and grades (the daily rescore writes them around the load-modify-save path) to their rows. */
  async patch(changes: Array<{ id: string; score: number; grade: string; role: string | null; at: Date }>): Promise<void> {
    if (!changes.length) return;
    const rows = new Map((await this.rows(changes.map((c) => c.id))).map((r) => [r.id, r]));
    const pipeline = this.redis.pipeline();
    for (const c of changes) {
      const row = rows.get(c.id);
      if (!row) continue;
      // A row in the lead's shape again (a pinned grade stays pinned: the rescore never changes it).
      const lead = fromRow(row);
      Object.assign(lead, { score: c.score, grade: c.grade, role: c.role, updatedAt: c.at });
      this.putArgs(pipeline as unknown as { eval: Redis['eval'] }, lead, false);
    }
    await pipeline.exec();
  }

  /** Rows by id, in the order given (ids without a row are left out). */
  async rows(ids: string[]): Promise<LeadRow[]> {
    if (!ids.length) return [];
    const raw = await this.redis.hmget(this.k('rows'), ...ids);
    return raw.flatMap((r) => {
      if (!r) return [];
      const { _m, _s, ...row } = JSON.parse(r) as LeadRow & { _m?: unknown; _s?: unknown };
      return [row as LeadRow];
    });
  }

  /** The S and A leads waiting for follow-up (awaitsFollowUp), latest touch first, and how many there are. */
  async awaitingFollowUp(limit: number): Promise<{ items: LeadRow[]; total: number }> {
    const key = this.k('z:followup');
    const [ids, total] = await Promise.all([this.redis.zrevrange(key, 0, limit - 1), this.redis.zcard(key)]);
    return { items: await this.rows(ids), total };
  }

  /** The customers waiting for a person's answer at `now`, the longest waiting first, how many there are and are late. */
  async waiting(now = Date.now()): Promise<{ items: LeadRow[]; total: number; late: number }> {
    const ids = await this.redis.smembers(this.k('s:waiting'));
    return longestWaitingFirst(await this.rows(ids), now);
  }

  /** A page of rows for `query`, highest sort value first (ties: higher id first), with the next page's cursor and the total. */
  async list(query: IndexQuery): Promise<{ items: LeadRow[]; next: string | null; total: number }> {
    const limit = Math.min(Math.max(query.limit ?? 50, 1), 200);
    const sortSet = this.k(SORT_SET[query.sort ?? 'lastTouch']);
    const source = await this.filtered(sortSet, query, Boolean(query.cursor));
    const after = query.cursor ? decodeCursor(query.cursor) : null;
    const page = query.q ? await this.searchPage(source, query.q, after, limit) : await this.rangePage(source, after, limit);
    const items = await this.rows(page.ids.map((x) => x.id));
    const last = page.ids.at(-1);
    return { items, next: page.more && last ? encodeCursor(last.score, last.id, query.sort ?? 'lastTouch') : null, total: page.total };
  }

  /**
   * The sorted set to page through: the sort set itself, or its intersection with the facets — made afresh for a
   * first page (so a list shows a change at once), reused for the next pages of the same list while it is kept.
   */
  private async filtered(sortSet: string, query: IndexQuery, reuse: boolean): Promise<string> {
    const facets: string[][] = [];
    const many = <T extends string>(v: T | T[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
    if (query.stage !== undefined) facets.push(many(query.stage).map((s) => `s:stage:${s}`));
    if (query.grade !== undefined) facets.push(many(query.grade).map((g) => `s:grade:${g}`));
    if (query.channel) facets.push([`s:channel:${query.channel}`]);
    if (query.tag) facets.push([query.tag.includes('/') ? `s:tag:${query.tag}` : `s:tagname:${query.tag}`]);
    if (query.owner) facets.push([`s:owner:${query.owner}`]);
    if (!facets.length) return sortSet;
    const id = `q:${sortSet.slice(this.k('').length)}|${facets.map((f) => [...f].sort().join(',')).join('|')}`;
    const dest = this.k(id);
    if (reuse && (await this.redis.exists(dest))) return dest;
    const inputs: string[] = [];
    const tmp: string[] = [];
    for (const f of facets) {
      if (f.length === 1) {
        inputs.push(this.k(f[0]!));
      } else {
        const u = this.k(`${id}#${inputs.length}#${randomBytes(4).toString('hex')}`);
        await this.redis.multi().sunionstore(u, ...f.map((x) => this.k(x))).expire(u, QUERY_TTL_SECONDS).exec();
        tmp.push(u);
        inputs.push(u);
      }
    }
    await this.redis
      .multi()
      .zinterstore(dest, inputs.length + 1, sortSet, ...inputs, 'WEIGHTS', 1, ...inputs.map(() => 0))
      .expire(dest, QUERY_TTL_SECONDS)
      .del(...(tmp.length ? tmp : [this.k('q:none')]))
      .exec();
    return dest;
  }

  /** Rows after the cursor from a sorted set, in (score, id) order descending. */
  private async rangePage(set: string, after: { v: number | null; id: string } | null, limit: number) {
    const total = await this.redis.zcard(set);
    const out: Array<{ id: string; score: number }> = [];
    const max = after ? String(after.v ?? 0) : '+inf';
    let offset = 0;
    // Members with the cursor's score and an id at or above the cursor's were on earlier pages: skip them.
    while (out.length <= limit) {
      const chunk = await this.redis.zrevrangebyscore(set, max, '-inf', 'WITHSCORES', 'LIMIT', offset, limit + 1);
      if (!chunk.length) break;
      offset += chunk.length / 2;
      for (let i = 0; i < chunk.length; i += 2) {
        const id = chunk[i]!;
        const score = Number(chunk[i + 1]);
        if (after && score === (after.v ?? 0) && id >= after.id) continue;
        out.push({ id, score });
      }
      if (chunk.length / 2 < limit + 1) break;
    }
    return { ids: out.slice(0, limit), more: out.length > limit, total };
  }

  /** Rows whose name, company or a remark contains `q`, or whose external id is `q`, among the set's members, in its order. */
  private async searchPage(set: string, q: string, after: { v: number | null; id: string } | null, limit: number) {
    const wanted = q.trim();
    const pattern = `*${wanted.toLowerCase().replace(/[*?[\]\\]/g, '\\$&')}*\u0001*`;
    const found = new Set<string>();
    let cursor = '0';
    do {
      const [next, members] = await this.redis.zscan(this.k('search'), cursor, 'MATCH', pattern, 'COUNT', 2000);
      cursor = next;
      for (let i = 0; i < members.length; i += 2) if (searchMatches(members[i]!, wanted)) found.add(members[i]!.slice(members[i]!.lastIndexOf('\u0001') + 1));
    } while (cursor !== '0' && found.size < 5000);
    const ids = [...found];
    const scores = ids.length ? await this.redis.zmscore(set, ...ids) : [];
    const ranked = ids
      .map((id, i) => ({ id, score: scores[i] === null || scores[i] === undefined ? null : Number(scores[i]) }))
      .filter((x): x is { id: string; score: number } => x.score !== null)
      .sort((a, b) => b.score - a.score || (a.id < b.id ? 1 : -1));
    const start = after ? ranked.findIndex((x) => x.score < (after.v ?? 0) || (x.score === (after.v ?? 0) && x.id < after.id)) : 0;
    const rest = start < 0 ? [] : ranked.slice(start);
    return { ids: rest.slice(0, limit), more: rest.length > limit, total: ranked.length };
  }
}

/**
 * A page of leads for a list: from the index once it is built (with the total), else straight from MongoDB (a scan on
 * some servers; no total).
 */
export async function findLeads(index: LeadIndex, query: LeadFilter): Promise<{ items: LeadSummary[]; next: string | null; total: number | null }> {
  if (!(await index.ready())) return { ...(await listLeads(query)), total: null };
  const page = await index.list(query);
  return { ...page, items: page.items.map(({ v, followedUpAt, waiting, ...summary }) => summary) };
}

/**
 * The customers waiting for a person's answer in 微信客服 now (a service clock runs), the longest waiting first: from
 * the index once it is built, else from MongoDB (a scan on some servers).
 */
export async function waitingCustomers(index: LeadIndex, now = Date.now()): Promise<{ items: LeadRow[]; total: number; late: number }> {
  if (await index.ready()) return index.waiting(now);
  const leads = (await Lead.find({ 'kf.clock.id': { $type: 'string' } }, INDEX_FIELDS).lean()) as LeadDocLike[];
  return longestWaitingFirst(leads.map(toRow), now);
}

/** The row of a lead. */
export function toRow(lead: LeadDocLike): LeadRow {
  const c = lead.kf?.clock;
  const waiting = c ? { since: c.startedAt, excerpt: c.excerpt ?? '', targetSeconds: c.targetSeconds, firstDue: c.firstDue, secondDue: c.secondDue, level: c.level ?? 0, servicer: lead.kf?.servicer ?? null } : null;
  return { ...summarize(lead), followedUpAt: lead.followedUpAt ?? null, waiting, v: lead.updatedAt ? new Date(lead.updatedAt).getTime() : 0 };
}

/** A row back in the lead's shape (what toRow reads), to put it again with changes. */
function fromRow(row: LeadRow): LeadDocLike {
  const date = (d: Date | string | null) => (d ? new Date(d) : null);
  return {
    _id: row.id,
    externalUserId: row.externalUserId,
    name: row.name,
    corpName: row.corpName,
    firstTouch: row.channel ? ({ channelKey: row.channel, at: date(row.addedAt) } as LeadFields['firstTouch']) : undefined,
    stage: row.stage,
    grade: row.grade,
    gradePin: row.gradePinned ? row.grade : null,
    score: row.score,
    role: row.role,
    industry: row.industry,
    owners: row.owners as unknown as LeadFields['owners'],
    tags: row.tags as unknown as LeadFields['tags'],
    lastTouchAt: date(row.lastTouchAt),
    followedUpAt: date(row.followedUpAt),
    kf: row.waiting
      ? { servicer: row.waiting.servicer, clock: { startedAt: date(row.waiting.since), excerpt: row.waiting.excerpt, targetSeconds: row.waiting.targetSeconds, firstDue: date(row.waiting.firstDue), secondDue: date(row.waiting.secondDue), level: row.waiting.level } }
      : undefined,
    updatedAt: date(new Date(row.v).toISOString()),
  } as LeadDocLike;
}
