/**
 * A lead's touches (its timeline of engagements: adds, replies, clicks, intents, 客服 conversations) as one string,
 * `lead.touchLog`: a line per touch, oldest first, its fields separated by tabs. Only the bot reads it, whole (scores,
 * follow-up counts, the lead card), so it need not be queryable; and a lead is read and written on every customer
 * message, where an array of sub-documents made each read and write cost in proportion to the touches (on FerretDB
 * about 3.7 times an empty lead's at 40 touches, against 1.4 times as one string: docs/benchmarks-kf.md, "What a lead
 * costs"). Leads stored before the log keep a `touches` array until their next save folds it in (`foldLegacy`);
 * readers see both (`touchesOf`).
 */

/** One touch. */
export interface Touch {
  /** What it came from (an event's dedupe key, a message's key): a touch is kept once per key. */
  eventKey: string;
  /** add | add_half | click | case_opened | reply | intent | kf_conversation (scores count them, docs/ops-guide.md) */
  kind: string;
  channelKey: string | null;
  userId: string | null;
  at: Date;
  /** What the touch was about, when it matters (the case study opened, the intent matched). */
  ref: string | null;
}

/** A touch as callers give it: optional parts may be absent. */
export type TouchInput = Omit<Touch, 'channelKey' | 'userId' | 'ref'> & { channelKey?: string | null; userId?: string | null; ref?: string | null };

/** A touch stored before the log, as an element of the legacy `touches` array. */
export interface LegacyTouch {
  eventKey?: string | null;
  kind?: string | null;
  channelKey?: string | null;
  userId?: string | null;
  at?: Date | null;
  ref?: string | null;
}

/** What holds touches: a lead document, or a lean read of one. */
export interface TouchHolder {
  touchLog?: string | null;
  touches?: ReadonlyArray<LegacyTouch> | null;
}

// A field never holds a tab or a line break once escaped (nor a bare %, so decoding is exact).
const esc = (s: string) => s.replace(/%/g, '%25').replace(/\t/g, '%09').replace(/\n/g, '%0A').replace(/\r/g, '%0D');
const unesc = (s: string) => (s.includes('%') ? s.replace(/%(25|09|0A|0D)/g, (_, c: string) => String.fromCharCode(parseInt(c, 16))) : s);

function line(t: TouchInput): string {
  return `${t.at.getTime()}\t${esc(t.kind)}\t${esc(t.channelKey ?? '')}\t${esc(t.userId ?? '')}\t${esc(t.ref ?? '')}\t${esc(t.eventKey)}\n`;
}

function parse(l: string): Touch | null {
  const f = l.split('\t');
  if (f.length !== 6) return null;
  const at = new Date(Number(f[0]));
  if (Number.isNaN(at.getTime())) return null;
  const opt = (s: string) => (s ? unesc(s) : null);
  return { at, kind: unesc(f[1]!), channelKey: opt(f[2]!), userId: opt(f[3]!), ref: opt(f[4]!), eventKey: unesc(f[5]!) };
}

function fromLegacy(t: LegacyTouch): Touch | null {
  if (!t.at || !t.kind) return null;
  return { eventKey: t.eventKey ?? '', kind: t.kind, channelKey: t.channelKey ?? null, userId: t.userId ?? null, at: t.at, ref: t.ref ?? null };
}

/** The lead's touches, oldest first: any left in the legacy array, then the log's. */
export function touchesOf(lead: TouchHolder): Touch[] {
  const out: Touch[] = [];
  for (const t of lead.touches ?? []) {
    const x = fromLegacy(t);
    if (x) out.push(x);
  }
  for (const l of (lead.touchLog ?? '').split('\n')) {
    const x = l ? parse(l) : null;
    if (x) out.push(x);
  }
  return out;
}

/** Whether the lead has a touch from `eventKey`. */
export function hasTouch(lead: TouchHolder, eventKey: string): boolean {
  // The key is a line's last field: a tab before it, the line's end after it.
  return (lead.touchLog ?? '').includes(`\t${esc(eventKey)}\n`) || (lead.touches ?? []).some((t) => t.eventKey === eventKey);
}

/** Adds a touch unless the lead has one from the same key; returns whether it did. */
export function addTouch(lead: TouchHolder, t: TouchInput): boolean {
  if (t.eventKey && hasTouch(lead, t.eventKey)) return false;
  lead.touchLog = (lead.touchLog ?? '') + line(t);
  return true;
}

/** Keeps the newest `max` touches of the log (those before have decayed to nothing in the score). */
export function keepLatest(log: string, max: number): string {
  let n = 0;
  for (let i = log.length - 2; i >= 0; i--) {
    if (log[i] === '\n' && ++n === max) return log.slice(i + 1);
  }
  return log;
}

/** One log of the legacy array's touches, then the log's own (a touch kept once per key). */
export function foldLegacy(touches: ReadonlyArray<LegacyTouch>, log: string): string {
  const holder = { touchLog: '' };
  for (const t of touchesOf({ touches, touchLog: log })) addTouch(holder, t);
  return holder.touchLog;
}

/** The newest touch's time (null: none). */
export function lastTouchTime(touches: readonly Touch[]): Date | null {
  return touches.reduce<Date | null>((m, t) => (!m || t.at > m ? t.at : m), null);
}
