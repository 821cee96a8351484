import type { Redis } from 'ioredis';
import type { Config } from './config.js';
import type { CaseStudy } from './content/cases.js';
import type { Replies } from './content/replies.js';
import type { Scoring } from './content/scoring.js';
import type { ChannelCatalog } from './content/channels.js';
import type { FileCampaign } from './content/index.js';
import type { Sequence } from './content/sequences.js';
import type { CommandRegistry } from './domain/commands/registry.js';
import type { LeadIndex } from './domain/leads/lead-index.js';
import type { TagResolver } from './domain/leads/tag-resolver.js';
import type { InboxWriter } from './inbox/writer.js';
import type { Logger } from './logger.js';
import type { Queues } from './queues/queues.js';
import type { RedisKeys } from './redis/keys.js';
import type { LeadRepository } from './store/lead-repository.js';
import type { WecomClient } from './wecom/client.js';
import type { EventDispatcher } from './wecom/events/dispatcher.js';

/** What handlers, jobs and commands get to do their work: stores, queues, the WeCom client, templates, a logger. */
export interface BotContext {
  config: Config;
  corpId: string;
  channels: ChannelCatalog;
  sequences: Map<string, Sequence>;
  cases: CaseStudy[];
  /** How leads are scored and graded (templates/scoring.yaml). */
  scoring: Scoring;
  /** Campaigns defined in templates/campaigns/ (loaded into the store at start-up; the store also holds the API's). */
  campaigns: Map<string, FileCampaign>;
  /** What the bot answers customers in 微信客服 (templates/replies.yaml). */
  replies: Replies;
  /** Adds jobs of every declared kind (jobs/index.ts). */
  queues: Queues;
  /** Where the receiver leaves accepted callbacks for the workers. */
  inbox: InboxWriter;
  wecom: WecomClient;
  tags: TagResolver;
  /** The only way to change a lead (one writer per lead at a time). */
  leads: LeadRepository;
  /** What lead lists read (a Redis read model of the leads, kept by every change). */
  leadIndex: LeadIndex;
  redis: Redis;
  /** Every Redis key the bot builds. */
  keys: RedisKeys;
  /** The handlers of inbound events, by key (handlers/index.ts). */
  events: EventDispatcher;
  /** The chat commands ops staff run through the robot (handlers/commands/index.ts). */
  commands: CommandRegistry;
  log: Logger;
  /** Base of tracked links (/r/<token>): PUBLIC_BASE_URL, else where this process listens. */
  publicBaseUrl: string;
  /** The key tracked links are signed with. */
  linkSecret: string;
  /**
   * Aborted once the process is shutting down (src/app/bot.ts, stop): a long job stops at its next safe point and
   * goes on in another worker or after the restart, instead of being cut off mid-way when the shutdown's wait ends
   * (a campaign run: docs/architecture.md, "A campaign run").
   */
  stopping: AbortSignal;
}

/** What a handler gets for one event: the bot's context, plus the event's identity. */
export interface HandlerContext extends BotContext {
  /** The callback's dedupe key: the idempotency root of everything the handler does. */
  dedupeKey: string;
  /** When our receiver accepted the callback (ms epoch). */
  receivedAt: number;
  /** How many times this event was tried before (0 on the first run). */
  attempt: number;
}
