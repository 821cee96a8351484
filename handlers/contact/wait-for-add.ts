import type { HandlerContext } from '../../src/context.js';

/** Tries of a deletion for a lead we do not know yet: its add may still be in flight (events run concurrently). */
const WAIT_FOR_ADD_ATTEMPTS = 3;

/** A deletion for a lead we do not know: retried briefly (its add may still be running), then recorded as it is. */
export function waitForAdd(ctx: HandlerContext, externalUserId: string): void {
  if (ctx.attempt + 1 < WAIT_FOR_ADD_ATTEMPTS) {
    throw new Error(`lead ${externalUserId} not known yet; retrying in case its add is still being handled`);
  }
}
