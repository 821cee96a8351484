import { z } from 'zod';
import { CallbackError, ErrorCode } from '../../errors.js';
import { contactEvents } from './contact.js';
import type { EventFamily, Transport } from './family.js';
import { robotEvents } from './robot.js';
import { kfEvents } from './kf.js';
import { tagEvents } from './tag.js';

/**
 * Every inbound event family. A new family is one module next to this one (its schemas, keys and dedupe rule),
 * listed here and in EventSchemas; see docs/architecture.md.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const FAMILIES: ReadonlyArray<EventFamily<any>> = [contactEvents, tagEvents, robotEvents, kfEvents];

/** The payload schema of every event key, across families. */
export type EventSchemas = typeof contactEvents.schemas & typeof tagEvents.schemas & typeof robotEvents.schemas & typeof kfEvents.schemas;
/** An event key handlers register for, e.g. `change_external_contact.add_external_contact`. */
export type EventKey = keyof EventSchemas & string;
/** The validated payload of an event key. */
export type EventPayload<K extends EventKey> = z.infer<EventSchemas[K]>;
/** The payload of any event. */
export type AnyEvent = EventPayload<EventKey>;

const familyOfKey = new Map<string, EventFamily<Record<string, z.ZodTypeAny>>>();
for (const f of FAMILIES) {
  for (const key of Object.keys(f.schemas)) {
    if (familyOfKey.has(key)) throw new Error(`event key "${key}" is defined by two families`);
    familyOfKey.set(key, f);
  }
}

/** True when the family of `key` has it handled inline by the ingest (EventFamily.inline). */
export function isInlineKey(key: string): key is EventKey {
  return familyOfKey.get(key)?.inline?.includes(key) ?? false;
}

/** Every event key a family defines. */
export const KNOWN_EVENT_KEYS: readonly EventKey[] = [...familyOfKey.keys()] as EventKey[];

/** True when a family defines `key`. */
export function isEventKey(key: string): key is EventKey {
  return familyOfKey.has(key);
}

export type ParsedEvent = { kind: 'known'; key: EventKey; event: AnyEvent; dedupeKey: string } | { kind: 'unknown'; key: string };

const headSchema = z.object({ MsgType: z.string().min(1), Event: z.string().optional(), ChangeType: z.string().optional() });

/**
 * Validates decrypted fields. An event of a key a family defines must match its schema (else CallbackError 400);
 * a well-formed event no family defines comes back `unknown`, so the receiver acknowledges and ignores it.
 */
export function classifyEvent(fields: Record<string, unknown>, transport: Transport = 'xml'): ParsedEvent {
  let key: string | null = null;
  let family: EventFamily<Record<string, z.ZodTypeAny>> | undefined;
  for (const f of FAMILIES) {
    if (f.transport !== transport) continue;
    key = f.keyOf(fields);
    if (key !== null) {
      family = f;
      break;
    }
  }
  if (!family || key === null || !(key in family.schemas)) {
    return { kind: 'unknown', key: key ?? describe(fields, transport) };
  }
  const parsed = family.schemas[key]!.safeParse(fields);
  if (!parsed.success) {
    const fieldsMissing = parsed.error.issues.map((i) => i.path.join('.')).join(', ');
    throw new CallbackError(ErrorCode.PayloadMalformed, `invalid ${key}: ${fieldsMissing}`, 400);
  }
  return { kind: 'known', key: key as EventKey, event: parsed.data as AnyEvent, dedupeKey: family.dedupeKey(parsed.data) };
}

/** Re-validates a payload against its key's schema (job data is checked when the job runs). */
export function parseEvent<K extends EventKey>(key: K, payload: unknown): EventPayload<K> {
  const family = familyOfKey.get(key);
  if (!family) throw new Error(`unknown event key "${key}"`);
  return family.schemas[key]!.parse(payload) as EventPayload<K>;
}

/** A name for an event no family claims, for the log line that says it was ignored. */
function describe(fields: Record<string, unknown>, transport: Transport): string {
  if (transport === 'json') {
    if (typeof fields.msgtype !== 'string' || !fields.msgtype) throw new CallbackError(ErrorCode.PayloadMalformed, 'message has no msgtype', 400);
    return fields.msgtype;
  }
  const head = headSchema.safeParse(fields);
  if (!head.success) throw new CallbackError(ErrorCode.PayloadMalformed, 'event has no MsgType', 400);
  const { MsgType, Event, ChangeType } = head.data;
  if (MsgType === 'event' && !Event) throw new CallbackError(ErrorCode.PayloadMalformed, 'event has no Event', 400);
  return [MsgType === 'event' ? Event : MsgType, ChangeType].filter(Boolean).join('.');
}
