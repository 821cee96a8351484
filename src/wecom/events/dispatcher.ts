import type { HandlerContext } from '../../context.js';
import { isEventKey, KNOWN_EVENT_KEYS, type EventKey, type EventPayload } from './index.js';

/** A handler for one event key; the key narrows the payload type. */
export type Handler<K extends EventKey> = (event: EventPayload<K>, ctx: HandlerContext) => Promise<void>;

/**
 * Runs the handler registered for an event's key, e.g. `change_external_contact.add_external_contact`. A key no
 * family defines, or a second handler for one key, fails at registration (start-up), not when an event arrives.
 */
export class EventDispatcher {
  private readonly handlers = new Map<EventKey, Handler<EventKey>>();

  /** Registers `handler` for `key`. */
  on<K extends EventKey>(key: K, handler: Handler<K>): this {
    if (!isEventKey(key)) throw new Error(`unknown event key "${key}"; known keys: ${KNOWN_EVENT_KEYS.join(', ')}`);
    if (this.handlers.has(key)) throw new Error(`a handler for "${key}" is already registered`);
    this.handlers.set(key, handler as unknown as Handler<EventKey>);
    return this;
  }

  /** Runs the handler of `key`; false when none is registered. */
  async dispatch(key: EventKey, event: EventPayload<EventKey>, ctx: HandlerContext): Promise<boolean> {
    const handler = this.handlers.get(key);
    if (!handler) return false;
    await handler(event, ctx);
    return true;
  }

  /** The keys with a handler. */
  keys(): EventKey[] {
    return [...this.handlers.keys()];
  }
}
