import type { HandlerContext } from '../../context.js';
import { KNOWN_EVENT_KEYS, type EventKey, type EventPayload } from './contact.js';

/** A handler for one event key; the key narrows the payload type. */
export type Handler<K extends EventKey> = (event: EventPayload<K>, ctx: HandlerContext) => Promise<void>;

/**
 * Routes events to handlers by key, e.g. `change_external_contact.add_external_contact`. Unknown keys and a
 * second handler for the same key fail at registration, not at run time.
 */
export class EventRouter {
  private readonly handlers = new Map<EventKey, Handler<EventKey>>();

  /** Registers `handler` for `key`. */
  on<K extends EventKey>(key: K, handler: Handler<K>): this {
    if (!KNOWN_EVENT_KEYS.includes(key)) {
      throw new Error(`unknown event key "${key}"; known keys: ${KNOWN_EVENT_KEYS.join(', ')}`);
    }
    if (this.handlers.has(key)) throw new Error(`a handler for "${key}" is already registered`);
    this.handlers.set(key, handler as unknown as Handler<EventKey>);
    return this;
  }

  /** Runs the handler of `key`; returns false when none is registered. */
  async dispatch(key: EventKey, event: EventPayload<EventKey>, ctx: HandlerContext): Promise<boolean> {
    const handler = this.handlers.get(key);
    if (!handler) return false;
    await handler(event, ctx);
    return true;
  }
}
