import type { Server } from 'node:http';
import mongoose from 'mongoose';
import { ZodError } from 'zod';
import { createCommandRegistry } from '../../handlers/commands/index.js';
import { createEventDispatcher } from '../../handlers/index.js';
import { JOB_KINDS } from '../../jobs/index.js';
import type { Config } from '../config.js';
import { loadTemplates } from '../content/index.js';
import type { BotContext } from '../context.js';
import { describeServiceHours } from '../domain/kf/service-hours.js';
import { platformErrorListener } from '../domain/alerts/platform-alerts.js';
import { loadStoredChannels } from '../domain/channels/stored-channels.js';
import { syncFileCampaigns } from '../domain/campaigns/catalog.js';
import { reconcileCampaigns } from '../domain/campaigns/reconcile.js';
import { syncAllSchedules } from '../domain/campaigns/schedule.js';
import { linkSecret } from '../domain/delivery/tracked-links.js';
import { LeadIndex } from '../domain/leads/lead-index.js';
import { leadHooks } from '../domain/leads/lead-hooks.js';
import { TagResolver } from '../domain/leads/tag-resolver.js';
import { ensureServiceDays } from '../domain/kf/service-days.js';
import { reconcileKf } from '../domain/kf/reconcile.js';
import { reconcile } from '../domain/nurture/reconcile.js';
import { lookUpChannelsForWelcome, planWelcome } from '../domain/welcome/plan-welcome.js';
import { dispatchEvent } from '../inbox/event-job.js';
import { InboxIngest } from '../inbox/ingest.js';
import { InboxWriter } from '../inbox/writer.js';
import { createLogger, type Logger } from '../logger.js';
import { Queues } from '../queues/queues.js';
import { closeRedis, createRedis } from '../redis/connect.js';
import { RedisKeys } from '../redis/keys.js';
import { connectMongo } from '../store/connect.js';
import { LeadRepository } from '../store/lead-repository.js';
import { useTimelineLock } from '../store/timeline.js';
import { WecomClient } from '../wecom/client.js';
import { withTimeout } from '../with-timeout.js';
import { createHttpApp } from './http-app.js';
import { listen } from './listen.js';
import { welcomeFirst } from './welcome-first.js';
import { scheduleJobs, startWorkers } from './workers.js';

export interface Bot {
  ctx: BotContext;
  /** The bound HTTP address when the web role runs. */
  url?: string;
  stop(): Promise<void>;
}

/**
 * Starts the bot in the roles `config.ROLE` asks for: `web` (the receivers), `worker` (handlers and jobs) or `all`.
 * Templates are validated before anything connects, so invalid ones stop start-up; whatever was started before a
 * failure is stopped again.
 */
export async function startBot(config: Config, logger: Logger = createLogger(config.LOG_LEVEL)): Promise<Bot> {
  const ctx = await createContext(config, logger);
  const stops: Array<() => Promise<unknown>> = [() => closeContext(ctx)];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch((err: Error) => logger.warn({ err: err.message }, 'stop step failed'));
  };
  try {
    let url: string | undefined;
    // templates/campaigns/ into the store (a key taken by an API campaign stops start-up, like any template error).
    await syncFileCampaigns(ctx);
    // The port first: one in use stops start-up before any worker or reconcile has begun (nothing to wind down).
    if (config.ROLE !== 'worker') {
      const app = createHttpApp(ctx, {
        health: async () => ({
          redis: (await withTimeout(ctx.redis.ping(), 1_000, 'ping').catch(() => '')) === 'PONG',
          mongodb: mongoose.connection.readyState === 1,
        }),
      });
      const server: Server = await listen(app, config.PORT, config.HOST);
      stops.push(() => new Promise<void>((r) => server.close(() => r())));
      // WeCom waits 5 s for an answer; nothing here should ever take that long.
      server.requestTimeout = 5_000;
      url = serverUrl(server);
      if (!config.PUBLIC_BASE_URL) ctx.publicBaseUrl = url;
    }
    if (config.ROLE !== 'web') {
      const shutdown = new AbortController();
      ctx.stopping = shutdown.signal;
      const workers = startWorkers(ctx, JOB_KINDS);
      stops.push(() => {
        // Long jobs stop at their next safe point, so the close below waits for them briefly, not for their end.
        shutdown.abort();
        return Promise.all(workers.map((w) => w.close()));
      });
      stops.push(welcomeFirst(ctx, workers));
      await scheduleJobs(ctx, JOB_KINDS);
      await syncAllSchedules(ctx);
      const ingest = new InboxIngest(
        ctx.redis,
        ctx.keys.inbox(),
        ctx.queues,
        async (data) => {
          // A channel just created by command in another process: known before its first contact is planned, when
          // that can change the plan (it holds up the welcomes of the pass on the database).
          await lookUpChannelsForWelcome(ctx, data);
          return planWelcome(ctx, data);
        },
        logger.child({ component: 'inbox' }),
        undefined,
        // A payload that no longer matches its schema (the receiver checked it) would fail every pass: dropped, logged.
        (data) =>
          dispatchEvent(ctx, data, 0).catch((err: Error) => {
            if (!(err instanceof ZodError)) throw err;
            logger.error({ event: data.key, dedupeKey: data.dedupeKey, err: err.message }, 'inbox: an inline callback does not match its schema; dropped');
          }),
      );
      ingest.start();
      stops.push(() => ingest.stop());
      // MongoDB is the source of truth for what is scheduled: restore whatever Redis lost, now and periodically.
      const run = () => {
        void ctx.leadIndex.ensureBuilt(logger).catch((err: Error) => logger.error({ err: err.message }, 'lead index build failed'));
        void ensureServiceDays(ctx.redis, ctx.keys, config.OPS_TIMEZONE, logger).catch((err: Error) => logger.error({ err: err.message }, 'service days build failed'));
        return Promise.all([
          reconcile(ctx)
            .then(() => reconcileCampaigns(ctx))
            .catch((err: Error) => logger.error({ err: err.message }, 'reconcile failed')),
          reconcileKf(ctx).catch((err: Error) => logger.error({ err: err.message }, '客服 reconcile failed')),
        ]);
      };
      void run();
      if (config.NURTURE_RECONCILE_SECONDS > 0) {
        const timer = setInterval(run, config.NURTURE_RECONCILE_SECONDS * 1000).unref();
        stops.push(async () => clearInterval(timer));
      }
    }
    logger.info({ role: config.ROLE, url, channels: ctx.channels.all().length }, 'bot started');
    return { ctx, url, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

function serverUrl(server: Server): string {
  const addr = server.address();
  if (!addr || typeof addr !== 'object') return '';
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address === '0.0.0.0' ? '127.0.0.1' : addr.address;
  return `http://${host}:${addr.port}`;
}

/**
 * Connects the stores and builds what handlers, jobs and commands share. Templates are validated first, so invalid
 * ones stop start-up before anything connects.
 */
export async function createContext(config: Config, logger: Logger): Promise<BotContext> {
  const { channels, sequences, cases, scoring, campaigns, replies } = await loadTemplates(config.TEMPLATES_DIR, { nurtureTimezone: config.NURTURE_TIMEZONE, publicBaseUrl: config.PUBLIC_BASE_URL, serviceHoursText: describeServiceHours(config.SERVICE_HOURS) });
  // Mongoose keeps each query's call stack for the rare "Query was already executed" error: building it on every query
  // costs a busy worker more than any other single thing mongoose does.
  mongoose.set('skipOriginalStackTraces', true);
  await connectMongo(config.MONGODB_URI);
  try {
    await Promise.all(mongoose.modelNames().map((m) => mongoose.model(m).createIndexes()));
  } catch (err) {
    await mongoose.disconnect();
    throw err;
  }
  // Channels created by chat command live in MongoDB: they join the templates' channels here and on a miss.
  channels.useStore(loadStoredChannels);
  await channels.refresh();
  const redis = createRedis(config.REDIS_URL);
  const keys = new RedisKeys(config.QUEUE_PREFIX);
  useTimelineLock(redis, keys);
  const queues = new Queues(redis, config.QUEUE_PREFIX, JOB_KINDS, config, logger.child({ component: 'queues' }));
  const wecom = new WecomClient({
    baseUrl: config.WECOM_API_BASE,
    corpId: config.WECOM_CORP_ID,
    secret: config.WECOM_SECRET,
    kfSecret: config.WECOM_KF_SECRET,
    agentId: config.WECOM_AGENT_ID,
    redis,
    keys,
    logger: logger.child({ component: 'wecom' }),
    timeoutMs: config.WECOM_API_TIMEOUT_MS,
    rateLimits: config.WECOM_RATE_LIMITS,
    memberMessageLimits: config.WECOM_MEMBER_MESSAGE_LIMITS,
  });
  const ctx: BotContext = {
    config,
    corpId: config.WECOM_CORP_ID,
    channels,
    sequences,
    cases,
    scoring,
    campaigns,
    replies,
    queues,
    inbox: new InboxWriter(redis, keys.inbox()),
    wecom,
    tags: new TagResolver(wecom, redis, keys),
    leads: new LeadRepository(redis, keys),
    leadIndex: new LeadIndex(redis, keys),
    redis,
    keys,
    events: createEventDispatcher(),
    commands: createCommandRegistry(),
    log: logger,
    publicBaseUrl: config.PUBLIC_BASE_URL ?? `http://127.0.0.1:${config.PORT}`,
    linkSecret: linkSecret(config),
    stopping: new AbortController().signal,
  };
  ctx.leads.useHooks(leadHooks(ctx));
  // Errors a person must fix (permissions, credentials) reach the ops group; the client itself knows no domain.
  wecom.onError(platformErrorListener(ctx));
  return ctx;
}

/** Closes the queues and store connections a context opened. */
export async function closeContext(ctx: BotContext): Promise<void> {
  await ctx.queues.close();
  await closeRedis(ctx.redis);
  await mongoose.disconnect();
}
