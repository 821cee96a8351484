import { z } from 'zod';
import type { AnyEvent, EventKey } from '../wecom/events/index.js';

/** One verified, decrypted, validated callback, as the inbox stores it and its `events` job carries it. */
export interface EventJobData {
  key: EventKey;
  event: AnyEvent;
  dedupeKey: string;
  /** When our receiver accepted it (ms): the clock of the 20 s welcome window. */
  receivedAt: number;
}

/** The shape of an `events` job's data; the payload itself is checked against its key's schema when it runs. */
export const eventJobSchema = z.object({
  key: z.string().min(1),
  event: z.record(z.unknown()),
  dedupeKey: z.string().min(1),
  receivedAt: z.number(),
});

/** True when `x` has the shape of an inbox item. */
export function isEventJobData(x: unknown): x is EventJobData {
  return eventJobSchema.safeParse(x).success;
}
