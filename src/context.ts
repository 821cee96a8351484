import type { Redis } from 'ioredis';
import type { Config } from './config.js';
import type { LeadStore } from './store/lead-repository.js';
import type { TagResolver } from './domain/leads/tag-resolver.js';
import type { Logger } from './logger.js';
import type { Queues } from './queues/index.js';
import type { CaseStudy } from './content/cases.js';
import type { ChannelCatalog } from './content/channels.js';
import type { Sequence } from './content/sequences.js';
import type { WecomClient } from './wecom/client.js';

/** What handlers and jobs get to do their work: stores, queues, the WeCom client, templates and a logger. */
export interface BotContext {
  config: Config;
  corpId: string;
  channels: ChannelCatalog;
  sequences: Map<string, Sequence>;
  cases: CaseStudy[];
  queues: Queues;
  wecom: WecomClient;
  tags: TagResolver;
  /** The only way to change a lead (serialised per lead). */
  leads: LeadStore;
  redis: Redis;
  log: Logger;
  /** Base of tracked links (/r/<token>): PUBLIC_BASE_URL, else where this process listens. */
  publicBaseUrl: string;
}

/** The context a handler gets for one event: the bot's, plus the event's own identity. */
export interface HandlerContext extends BotContext {
  /** The callback's dedupe key: the idempotency root for everything the handler does. */
  eventKey: string;
  /** When our receiver accepted the callback (ms epoch). */
  receivedAt: number;
  /** How many times this event was tried before (0 on the first run). */
  attempt: number;
}
