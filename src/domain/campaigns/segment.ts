import type { Segment } from '../../content/campaigns.js';
import { parseDelay } from '../../settings/delay.js';
import { Enrollment } from '../../store/models/enrollment.js';
import { Lead, leadId, type LeadFields } from '../../store/models/lead.js';

/** What a campaign reads of each lead of its audience: enough to exclude it, route it, group it and render for it. */
export const AUDIENCE_FIELDS = {
  corpId: 1,
  externalUserId: 1,
  name: 1,
  stage: 1,
  grade: 1,
  industry: 1,
  role: 1,
  unsubscribedAt: 1,
  kf: 1,
  owners: 1,
  lastInteraction: 1,
  firstTouch: 1,
} as const;

/** A lead as a campaign reads it. */
export type AudienceLead = Pick<LeadFields, 'corpId' | 'externalUserId' | 'name' | 'stage' | 'grade' | 'industry' | 'role' | 'unsubscribedAt' | 'kf' | 'owners' | 'lastInteraction' | 'firstTouch'> & { _id: string };

/** Local midnight of a YYYY-MM-DD date in `tz`, as an instant. */
function midnightIn(day: string, tz: string): Date {
  const [y, m, d] = day.split('-').map(Number);
  const utc = Date.UTC(y!, m! - 1, d!);
  // The zone's offset at that moment (twice, for a day that starts inside a daylight-saving change).
  const offset = (at: number) => {
    const p = Object.fromEntries(new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' }).formatToParts(new Date(at)).map((x) => [x.type, x.value]));
    return Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour), Number(p.minute), Number(p.second)) - at;
  };
  const guess = utc - offset(utc);
  return new Date(utc - offset(guess));
}

/**
 * The instant a segment's time reference stands for at a run: a span (`30d`) counts back from the run's time, a date
 * is its midnight in the campaign's time zone, an ISO time is itself.
 */
export function resolveTime(ref: string, runAt: number, tz: string): Date {
  const span = parseDelay(ref);
  if (span !== null) return new Date(runAt - span);
  if (/^\d{4}-\d{2}-\d{2}$/.test(ref)) return midnightIn(ref, tz);
  return new Date(ref);
}

/**
 * The MongoDB filter of a segment's fields that the leads hold themselves (channel, tags, stage, grade, industry,
 * role, when added, last touch): by indexed fields where there is one (`firstTouch.channelKey`, `tagKeys`, `stage`,
 * `grade`, `lastTouchAt`). Tags are matched on `tagKeys` (`group/name` strings), which every MongoDB-wire database
 * matches without `$elemMatch`. What the segment says about sequences is in enrollments: see sequenceFilter.
 * Exclusions (opted out, lost, customers) are not in the filter, so a dry run can count them.
 */
export function segmentFilter(s: Segment, runAt: number, tz: string): Record<string, unknown> {
  const and: Array<Record<string, unknown>> = [];
  if (s.channels) and.push({ 'firstTouch.channelKey': { $in: s.channels } });
  if (s.tags?.all) and.push({ tagKeys: { $all: s.tags.all } });
  if (s.tags?.any) and.push({ tagKeys: { $in: s.tags.any } });
  if (s.tags?.none) and.push({ tagKeys: { $nin: s.tags.none } });
  if (s.stages) and.push({ stage: { $in: s.stages } });
  if (s.notStages) and.push({ stage: { $nin: s.notStages } });
  if (s.grades) and.push({ grade: { $in: s.grades } });
  if (s.industries) and.push({ industry: { $in: s.industries } });
  if (s.roles) and.push({ role: { $in: s.roles } });
  const range = (field: string, after?: string, before?: string) => {
    if (after) and.push({ [field]: { $gte: resolveTime(after, runAt, tz) } });
    if (before) and.push({ [field]: { $lt: resolveTime(before, runAt, tz) } });
  };
  range('firstTouch.at', s.addedAfter, s.addedBefore);
  range('lastTouchAt', s.lastTouchAfter, s.lastTouchBefore);
  return and.length ? { $and: and } : {};
}

/**
 * What the segment says about sequences, as sets of lead ids read from the enrollments (by their sequenceKey+status
 * index): `inSequence` keeps leads active in any of them, `notInSequence` drops leads active in any of them.
 */
export async function sequenceFilter(s: Segment): Promise<((id: string) => boolean) | null> {
  if (!s.inSequence && !s.notInSequence) return null;
  const activeIn = async (keys: string[]) => {
    const ids = new Set<string>();
    for await (const e of Enrollment.find({ sequenceKey: { $in: keys }, status: 'active' }, { corpId: 1, externalUserId: 1 }).lean().cursor({ batchSize: 2000 })) {
      ids.add(leadId(e.corpId, e.externalUserId));
    }
    return ids;
  };
  const inSet = s.inSequence ? await activeIn(s.inSequence) : null;
  const notInSet = s.notInSequence ? await activeIn(s.notInSequence) : null;
  return (id) => (!inSet || inSet.has(id)) && (!notInSet || !notInSet.has(id));
}

/**
 * The segment's leads after `after` (a lead id), in _id order, in pages of `pageSize`: streamed with one cursor, so
 * only a page is ever in memory, and resumable from the last lead whose outcome is settled.
 */
export async function* audiencePages(s: Segment, o: { runAt: number; tz: string; after: string | null; pageSize: number }): AsyncGenerator<AudienceLead[]> {
  const keep = await sequenceFilter(s);
  const filter = segmentFilter(s, o.runAt, o.tz);
  const query = o.after ? { $and: [filter, { _id: { $gt: o.after } }] } : filter;
  let page: AudienceLead[] = [];
  const cursor = Lead.find(query, AUDIENCE_FIELDS).sort({ _id: 1 }).lean().cursor({ batchSize: o.pageSize });
  try {
    for await (const lead of cursor) {
      const l = lead as unknown as AudienceLead;
      if (keep && !keep(l._id)) continue;
      page.push(l);
      if (page.length >= o.pageSize) {
        yield page;
        page = [];
      }
    }
    if (page.length) yield page;
  } finally {
    await cursor.close();
  }
}

/** Leads by id, in the order given (those that no longer exist are left out): one read. */
export async function leadsByIds(ids: readonly string[]): Promise<AudienceLead[]> {
  if (!ids.length) return [];
  const found = (await Lead.find({ _id: { $in: [...ids] } }, AUDIENCE_FIELDS).lean()) as unknown as AudienceLead[];
  const byId = new Map(found.map((l) => [l._id, l]));
  return ids.flatMap((id) => byId.get(id) ?? []);
}
