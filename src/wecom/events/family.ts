import type { z } from 'zod';
import { CallbackError, ErrorCode } from '../../errors.js';

/** How a family's callbacks arrive: encrypted XML on /wecom/callback, or encrypted JSON on /wecom/robot. */
export type Transport = 'xml' | 'json';

/**
 * A family of inbound WeCom events: its transport, the keys it defines with the zod schema of each payload, and its
 * dedupe rule. Families are listed in ./index.ts; a handler can only be registered for a key a family defines.
 */
export interface EventFamily<S extends Record<string, z.ZodTypeAny>> {
  /** Short name, e.g. `contact`. */
  name: string;
  transport: Transport;
  /** Every key the family defines, with the schema of its payload. */
  schemas: S;
  /**
   * The key decoded fields carry in this family (possibly one it does not define: such an event is acknowledged
   * and ignored), or null when the fields are not of this family.
   */
  keyOf(fields: Record<string, unknown>): string | null;
  /** The dedupe key of a validated event: retried callbacks of the same event have the same one. */
  dedupeKey(event: z.infer<S[keyof S]>): string;
  /**
   * Keys whose handler is a cheap request that may run more than once (e.g. asking for a 客服 sync): the inbox ingest
   * runs it directly instead of making an `events` job (src/inbox/ingest.ts), so a burst of such callbacks costs no
   * job each. Their retries are not deduped; the handler must not mind.
   */
  inline?: ReadonlyArray<keyof S & string>;
}

/** Declares an event family (an identity function that gives the declaration its types). */
export function defineFamily<S extends Record<string, z.ZodTypeAny>>(family: EventFamily<S>): EventFamily<S> {
  return family;
}

/** Makes a value safe inside a dedupe key: ':' is BullMQ's job-id separator and '|' ours. */
export function keyPart(value: unknown): string {
  return String(value ?? '').replace(/[|:]/g, '_');
}

/**
 * The key of an XML event whose kind is in `<ChangeType>` (客户联系 and 客户标签 changes [D:92130]):
 * `<event>.<ChangeType>`, or null when `<Event>` is another one. Such an event without a ChangeType is missing a field
 * WeCom always sends: CallbackError 400, not an unknown type to acknowledge and ignore.
 */
export function changeKeyOf(fields: Record<string, unknown>, event: string): string | null {
  if (fields.Event !== event) return null;
  if (typeof fields.ChangeType !== 'string' || fields.ChangeType === '') {
    throw new CallbackError(ErrorCode.PayloadMalformed, `invalid ${event}: ChangeType`, 400);
  }
  return `${event}.${fields.ChangeType}`;
}
