import { z } from 'zod';
import type { BotContext } from '../context.js';
import { parseEvent, type AnyEvent, type EventKey } from '../wecom/events/index.js';

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

/**
 * Hands an accepted callback to the handler registered for its key (handlers/), its payload checked against the key's
 * schema again: what an `events` job does, and what the ingest does for a key handled inline. `attempt` counts the
 * job's earlier attempts (0 inline).
 */
export async function dispatchEvent(ctx: BotContext, data: EventJobData, attempt: number): Promise<void> {
  const key = data.key as EventKey;
  const event = parseEvent(key, data.event);
  const log = ctx.log.child({ event: key, dedupeKey: data.dedupeKey });
  const handled = await ctx.events.dispatch(key, event, { ...ctx, log, dedupeKey: data.dedupeKey, receivedAt: data.receivedAt, attempt });
  if (!handled) log.info('no handler registered; event ignored');
  else log.debug('event handled');
}
