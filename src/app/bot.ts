import type { Server } from 'node:http';
import mongoose from 'mongoose';
import { createEventRouter } from '../../handlers/index.js';
import { welcomeJobFor } from '../../handlers/contact/add-external-contact.js';
import type { Config } from '../config.js';
import type { BotContext } from '../context.js';
import { LeadStore } from '../store/lead-repository.js';
import { TagResolver } from '../domain/leads/tag-resolver.js';
import { createApp } from './http-app.js';
import { createLogger, type Logger } from '../logger.js';
import { Queues, createRedis } from '../queues/index.js';
import { InboxIngest, inboxKey } from '../inbox/inbox.js';
import { loadTemplates } from '../content/index.js';
import { WecomClient } from '../wecom/client.js';
import { startWorkers } from './workers.js';
import { withTimeout } from '../with-timeout.js';
import { reconcile } from '../domain/nurture/reconcile.js';

export interface Bot {
  ctx: BotContext;
  /** The bound HTTP address when the web role runs. */
  url?: string;
  stop(): Promise<void>;
}

/**
 * Starts the bot in the roles `config.ROLE` asks for: `web` (callback receiver), `worker` (handlers and jobs)
 * or `all`. Templates are validated before anything listens, so invalid ones stop start-up.
 */
export async function startBot(config: Config, logger: Logger = createLogger(config.LOG_LEVEL)): Promise<Bot> {
  const ctx = await createContext(config, logger);
  const { queues, redis, channels } = ctx;
  const workers = config.ROLE === 'web' ? [] : startWorkers(ctx, createEventRouter());
  let reconciler: NodeJS.Timeout | undefined;
  let ingest: InboxIngest | undefined;
  if (workers.length) {
    ingest = new InboxIngest(redis, inboxKey(config.QUEUE_PREFIX), queues, (data) => welcomeJobFor(ctx, data), logger.child({ component: 'inbox' }));
    ingest.start();
    // MongoDB is the source of truth for what is scheduled: restore whatever Redis lost, now and periodically.
    const run = () => reconcile(ctx).catch((err: Error) => logger.error({ err: err.message }, 'reconcile failed'));
    void run();
    if (config.NURTURE_RECONCILE_SECONDS > 0) reconciler = setInterval(run, config.NURTURE_RECONCILE_SECONDS * 1000).unref();
  }
  let server: Server | undefined;
  let url: string | undefined;
  if (config.ROLE !== 'worker') {
    const app = createApp({
      logger,
      credentials: { token: config.WECOM_TOKEN, encodingAesKey: config.WECOM_ENCODING_AES_KEY, receiveId: config.WECOM_CORP_ID },
      maxSkewSeconds: config.CALLBACK_MAX_SKEW_SECONDS,
      bodyLimitBytes: config.CALLBACK_BODY_LIMIT_BYTES,
      queues,
      leads: ctx.leads,
      health: async () => ({
        redis: (await withTimeout(redis.ping(), 1_000, 'ping').catch(() => '')) === 'PONG',
        mongodb: mongoose.connection.readyState === 1,
      }),
    });
    server = await new Promise<Server>((resolve, reject) => {
      const s = app.listen(config.PORT, config.HOST, () => resolve(s)).on('error', reject);
    });
    // WeCom waits 5 s for an answer; nothing here should ever take that long.
    server.requestTimeout = 5_000;
    const addr = server.address();
    if (addr && typeof addr === 'object') url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address === '0.0.0.0' ? '127.0.0.1' : addr.address}:${addr.port}`;
  }
  if (url && !config.PUBLIC_BASE_URL) ctx.publicBaseUrl = url;
  logger.info({ role: config.ROLE, url, channels: channels.all().length }, 'bot started');

  return {
    ctx,
    url,
    async stop() {
      clearInterval(reconciler);
      if (server) await new Promise<void>((r) => server!.close(() => r()));
      await ingest?.stop();
      await Promise.all(workers.map((w) => w.close()));
      await closeContext(ctx);
    },
  };
}

/**
 * Connects the stores and builds what handlers, jobs and commands share. Templates are validated first, so
 * invalid ones stop start-up before anything connects.
 */
export async function createContext(config: Config, logger: Logger): Promise<BotContext> {
  const { channels, sequences, cases } = await loadTemplates(config.TEMPLATES_DIR);
  await mongoose.connect(config.MONGODB_URI, { serverSelectionTimeoutMS: 10_000 });
  await Promise.all(mongoose.modelNames().map((m) => mongoose.model(m).createIndexes()));
  const redis = createRedis(config.REDIS_URL);
  const queues = new Queues(redis, config.QUEUE_PREFIX, config.DEDUPE_TTL_SECONDS);
  const wecom = new WecomClient({
    baseUrl: config.WECOM_API_BASE,
    corpId: config.WECOM_CORP_ID,
    secret: config.WECOM_SECRET,
    agentId: config.WECOM_AGENT_ID,
    redis,
    prefix: config.QUEUE_PREFIX,
    logger: logger.child({ component: 'wecom' }),
    timeoutMs: config.WECOM_API_TIMEOUT_MS,
    rateLimits: config.WECOM_RATE_LIMITS,
  });
  return {
    config,
    corpId: config.WECOM_CORP_ID,
    channels,
    sequences,
    cases,
    queues,
    wecom,
    tags: new TagResolver(wecom, redis, config.QUEUE_PREFIX),
    leads: new LeadStore(redis, config.QUEUE_PREFIX),
    redis,
    log: logger,
    publicBaseUrl: config.PUBLIC_BASE_URL ?? `http://127.0.0.1:${config.PORT}`,
  };
}

/** Closes the queues and store connections a context opened. */
export async function closeContext(ctx: BotContext): Promise<void> {
  await ctx.queues.close();
  ctx.redis.disconnect();
  await mongoose.disconnect();
}
