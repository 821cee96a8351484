import { Delivery } from '../../store/models/delivery.js';
import { enrollmentsOf } from '../../store/models/enrollment.js';
import { Lead, leadId, splitLeadId, type LeadFields } from '../../store/models/lead.js';
import { timelineOf } from '../../store/timeline.js';
import { reasonName, stopReasonName } from '../commands/words.js';
import { deliveryReasonWords, deliveryWords, timelineWords, type WordBook } from './timeline-words.js';
import type { Grade, Stage } from '../vocabulary.js';

/** The orders a list of leads comes in: newest touch, newest added, best score, or grade (S first, then score). */
export const LEAD_SORTS = ['lastTouch', 'added', 'score', 'grade'] as const;
export type LeadSort = (typeof LEAD_SORTS)[number];

/** What a list of leads can be filtered and sorted by. */
export interface LeadFilter {
  /** Matches name, an owner's remark, company, or the external user id. */
  q?: string;
  stage?: Stage;
  grade?: Grade;
  channel?: string;
  /** `group/name` or a tag name alone. */
  tag?: string;
  /** An owner's userid. */
  owner?: string;
  /** `grade`: S, A, B, C, by score within a grade (the same order and cursors from the lead index and from MongoDB). */
  sort?: LeadSort;
  limit?: number;
  cursor?: string;
}

/** A lead as lists show it. */
export interface LeadSummary {
  id: string;
  externalUserId: string;
  name: string | null;
  corpName: string | null;
  channel: string | null;
  stage: string;
  grade: string;
  gradePinned: boolean;
  score: number;
  role: string | null;
  industry: string | null;
  owners: Array<{ userId: string; status: string; remark: string | null }>;
  tags: Array<{ group: string; name: string }>;
  addedAt: Date | null;
  lastTouchAt: Date | null;
}

export const SUMMARY_FIELDS = { externalUserId: 1, corpId: 1, name: 1, corpName: 1, firstTouch: 1, stage: 1, grade: 1, gradePin: 1, score: 1, role: 1, industry: 1, owners: 1, tags: 1, lastTouchAt: 1 };
const SORT_FIELD = { lastTouch: 'lastTouchAt', added: 'firstTouch.at', score: 'score' } as const;

/** The grades from first to last in the grade order; a lead without a grade counts as C. */
const GRADE_ORDER = ['S', 'A', 'B', 'C'] as const;
const GRADE_RANK: Record<string, number> = { S: 3, A: 2, B: 1, C: 0 };

/**
 * A lead's place in the grade order as one number (S before A before B before C, by score within a grade): the value
 * a `sort=grade` cursor holds, from the lead index and from MongoDB alike, so a list can go on from either source.
 */
export const gradeOrder = (grade: string | null | undefined, score: number) => (GRADE_RANK[grade ?? 'C'] ?? 0) * 1e7 + Math.max(-1e6, Math.min(1e6, score));

/** The grade rank and the score a grade-order value holds. */
const fromGradeOrder = (v: number) => {
  const rank = Math.round(v / 1e7);
  return { rank, score: v - rank * 1e7 };
};

type LeadRow = Partial<LeadFields> & { _id: string };

/** The list row of a lead. */
export function summarize(l: LeadRow): LeadSummary {
  return {
    id: l._id,
    externalUserId: l.externalUserId ?? '',
    name: l.name ?? null,
    corpName: l.corpName ?? null,
    channel: l.firstTouch?.channelKey ?? null,
    stage: l.stage ?? 'added',
    grade: l.grade ?? 'C',
    gradePinned: Boolean(l.gradePin),
    score: l.score ?? 0,
    role: l.role ?? null,
    industry: l.industry ?? null,
    owners: (l.owners ?? []).map((o) => ({ userId: o.userId, status: o.status ?? 'active', remark: o.remark ?? null })),
    tags: (l.tags ?? []).map((t) => ({ group: t.group ?? '', name: t.name ?? '' })),
    addedAt: l.firstTouch?.at ?? null,
    lastTouchAt: l.lastTouchAt ?? null,
  };
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A page of leads, newest touch first (or newest added, or highest score), with the cursor of the next page (null at
 * the end). The cursor holds the last row's sort value and id, so pages stay stable while leads are added.
 */
export async function listLeads(f: LeadFilter): Promise<{ items: LeadSummary[]; next: string | null }> {
  const and: Array<Record<string, unknown>> = [];
  if (f.q) {
    const re = new RegExp(escape(f.q.trim()), 'i');
    and.push({ $or: [{ name: re }, { 'owners.remark': re }, { corpName: re }, { externalUserId: f.q.trim() }] });
  }
  if (f.stage) and.push({ stage: f.stage });
  if (f.grade) and.push({ grade: f.grade });
  if (f.channel) and.push({ 'firstTouch.channelKey': f.channel });
  if (f.tag) {
    and.push(f.tag.includes('/') ? { tagKeys: f.tag } : { 'tags.name': f.tag });
  }
  if (f.owner) and.push({ 'owners.userId': f.owner });
  const limit = Math.min(Math.max(f.limit ?? 50, 1), 200);
  if (f.sort === 'grade') return listByGrade(and, f.cursor ? decodeCursor(f.cursor) : null, limit);
  const field = SORT_FIELD[f.sort ?? 'lastTouch'];
  const after = f.cursor ? decodeCursor(f.cursor) : null;
  if (after) {
    const v = f.sort === 'score' ? after.v : after.v === null ? null : new Date(after.v);
    // Newest first puts leads without the value (never touched: null) last, so a page that ends on a value is
    // followed by them too.
    and.push({ $or: [{ [field]: { $lt: v } }, { [field]: v, _id: { $lt: after.id } }, ...(v === null ? [] : [{ [field]: null }])] });
  }
  const rows = (await Lead.find(and.length ? { $and: and } : {}, SUMMARY_FIELDS)
    .sort({ [field]: -1, _id: -1 })
    .limit(limit + 1)
    .lean()) as LeadRow[];
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  const lastValue = last ? (f.sort === 'score' ? (last.score ?? 0) : (f.sort === 'added' ? last.firstTouch?.at : last.lastTouchAt)?.valueOf() ?? null) : null;
  return { items: page.map(summarize), next: rows.length > limit && last ? encodeCursor(lastValue as number | null, last._id, f.sort ?? 'lastTouch') : null };
}

/**
 * A page in the grade order, as the lead index gives it: one query per grade from the cursor's grade on (by score,
 * then id, highest first), until the page is full. The cursor holds the grade-order value, so a list paged while the
 * index became ready (or was lost) goes on where it was, whichever source answers the next page.
 */
async function listByGrade(and: Array<Record<string, unknown>>, after: { v: number | null; id: string } | null, limit: number) {
  const from = after ? fromGradeOrder(after.v ?? 0) : null;
  const rows: LeadRow[] = [];
  for (const grade of GRADE_ORDER) {
    const rank = GRADE_RANK[grade]!;
    if (from && rank > from.rank) continue;
    const cond = [...and, { grade: grade === 'C' ? { $in: ['C', null] } : grade }];
    if (from && rank === from.rank) cond.push({ $or: [{ score: { $lt: from.score } }, { score: from.score, _id: { $lt: after!.id } }] });
    rows.push(...((await Lead.find({ $and: cond }, SUMMARY_FIELDS).sort({ score: -1, _id: -1 }).limit(limit + 1 - rows.length).lean()) as LeadRow[]));
    if (rows.length > limit) break;
  }
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { items: page.map(summarize), next: rows.length > limit && last ? encodeCursor(gradeOrder(last.grade, last.score ?? 0), last._id, 'grade') : null };
}

/** The position after a page's last row in a sort order: its value there and its id, and the order it is in. */
export function encodeCursor(v: number | null, id: string, sort: LeadSort): string {
  return Buffer.from(JSON.stringify([v, id, sort])).toString('base64url');
}

/**
 * The position a cursor holds, and the sort order it was made in (null for one made before cursors named it); throws
 * on a cursor that is not ours.
 */
export function decodeCursor(cursor: string): { v: number | null; id: string; sort: LeadSort | null } {
  const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  // The value is a time (ms) or a score: a number a Date can hold (±8.64e15), or null.
  const v = parsed instanceof Array ? parsed[0] : undefined;
  const sort = parsed instanceof Array ? (parsed[2] ?? null) : null;
  if (!Array.isArray(parsed) || parsed.length < 2 || parsed.length > 3 || typeof parsed[1] !== 'string' || (v !== null && (typeof v !== 'number' || !(Math.abs(v) <= 8.64e15))) || (sort !== null && !(LEAD_SORTS as readonly unknown[]).includes(sort))) {
    throw new Error('not a cursor');
  }
  return { v: parsed[0] as number | null, id: parsed[1], sort: sort as LeadSort | null };
}

/** A lead id from an API path: `corp:external id`, or the external user id alone (the bot's corp). */
export function resolveLeadId(raw: string, corpId: string): string {
  return raw.includes(':') ? raw : leadId(corpId, raw);
}

/** Timeline steps that tell a delivery's fate: their id is `<delivery key>#<type>`. */
const DELIVERY_STEP = /^(welcome|nurture|mass|campaign|kf_reply|kf_welcome)_/;
/** Deliveries a lead page lists (the newest). */
const DELIVERIES_SHOWN = 30;

/**
 * Everything about one lead: its summary, timeline, enrollments (in `sequenceKeys`), deliveries, score reasons. Null
 * when unknown. With `book` (the names of channels, sequences, intents, case studies), each timeline entry and
 * delivery also has a `label` in each language (null for an entry without words). Every read is by primary key (the lead, its timeline, one per sequence, one per delivery its timeline
 * names), so a lead page costs the same with 100 leads or 100,000.
 */
export async function leadDetail(id: string, sequenceKeys: Iterable<string>, book?: WordBook) {
  const ref = splitLeadId(id);
  if (!ref) return null;
  // The lead, its timeline and its enrollments at once; then the deliveries they name.
  const [l, timeline, enrollments] = await Promise.all([
    Lead.findById(id).lean() as Promise<(LeadRow & LeadFields) | null>,
    timelineOf(ref.corpId, ref.externalUserId),
    enrollmentsOf(ref, sequenceKeys),
  ]);
  if (!l) return null;
  const keys = new Set<string>();
  for (const e of enrollments) for (const h of e.history ?? []) if (h.deliveryKey) keys.add(h.deliveryKey);
  for (const t of timeline) if (DELIVERY_STEP.test(t.type) && t.id.includes('#')) keys.add(t.id.slice(0, t.id.lastIndexOf('#')));
  const found = await Promise.all([...keys].map((k) => Delivery.findById(k).lean()));
  const deliveries = found
    .filter((d): d is NonNullable<typeof d> => d !== null)
    .sort((a, b) => (a.createdAt?.getTime() ?? 0) - (b.createdAt?.getTime() ?? 0))
    .slice(-DELIVERIES_SHOWN);
  return {
    ...summarize(l),
    reached: l.reached ?? {},
    kf: l.kf ?? null,
    unsubscribedAt: l.unsubscribedAt ?? null,
    lostAt: l.lostAt ?? null,
    // Each with the words the chat's 线索 answers with, so every screen names it alike (src/domain/commands/words.ts).
    scoreReasons: (l.scoreReasons ?? []).map((r) => ({ reason: r.reason ?? '', points: r.points ?? 0, label: { zh: reasonName(r.reason ?? '', 'zh'), en: reasonName(r.reason ?? '', 'en') } })),
    timeline: timeline.map((t) => ({ at: t.at, type: t.type, detail: t.detail ?? {}, ...(book ? { label: timelineWords(t.type, t.detail ?? {}, book) } : {}) })),
    enrollments: enrollments.map((e) => ({
      id: String(e._id),
      sequence: e.sequenceKey,
      status: e.status,
      step: e.step,
      dueAt: e.dueAt ?? null,
      owner: e.ownerUserId,
      stopReason: e.stopReason ?? null,
      stopReasonLabel: e.stopReason ? { zh: stopReasonName(e.stopReason, 'zh'), en: stopReasonName(e.stopReason, 'en') } : null,
      enrolledAt: e.enrolledAt,
      endedAt: e.endedAt ?? null,
      history: (e.history ?? []).map((h) => ({ step: h.step, at: h.at, outcome: h.outcome, via: h.via ?? null })),
    })),
    deliveries: deliveries.map((d) => ({
      key: d._id,
      kind: d.kind,
      via: d.via ?? null,
      status: d.status,
      at: d.sentAt ?? d.createdAt,
      step: d.step ?? null,
      caseSlug: d.caseSlug ?? null,
      reason: d.reason ?? null,
      clicks: (d as { clicks?: number }).clicks ?? 0,
      ...(book
        ? {
            label: deliveryWords({ kind: d.kind, sequence: d.sequenceKey ?? null, step: d.step ?? null, caseSlug: d.caseSlug ?? null, intent: intentOf(d.content) }, book),
            reasonLabel: deliveryReasonWords(d.reason, book),
          }
        : {}),
    })),
  };
}

/** The intent a 客服 reply answered (its delivery's content), if any. */
const intentOf = (content: unknown): string | null => {
  const i = (content as { intent?: unknown } | null | undefined)?.intent;
  return typeof i === 'string' ? i : null;
};
