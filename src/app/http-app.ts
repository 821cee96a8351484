import Router from '@koa/router';
import Koa from 'koa';
import type { BotContext } from '../context.js';
import { CallbackError } from '../errors.js';
import { adminApiRouter } from '../http/admin/admin-api.js';
import { dashboardRouter } from '../http/admin/dashboard-router.js';
import { answerRobot } from '../domain/commands/robot-answer.js';
import { mountCallbackRoute } from '../http/callback-route.js';
import { mountJsonCallbackRoute } from '../http/json-callback-route.js';
import { mountRedirectRoute } from '../http/redirect-route.js';
import type { Logger } from '../logger.js';
import { callbacks, registry } from '../metrics.js';

declare module 'koa' {
  interface DefaultContext {
    log: Logger;
  }
}

export interface HttpAppOptions {
  /** Readiness checks for /healthz (e.g. Redis ping). */
  health?: () => Promise<Record<string, boolean>>;
  /** The clock of the replay-window check (tests). */
  now?: () => number;
}

/** The web process: the WeCom callback receiver, tracked links, the admin API and dashboard, /healthz and /metrics. */
export function createHttpApp(ctx: BotContext, opts: HttpAppOptions = {}): Koa {
  const { config } = ctx;
  const app = new Koa();
  app.proxy = true;
  app.context.log = ctx.log;

  app.use(async (c, next) => {
    try {
      await next();
    } catch (err) {
      if (err instanceof CallbackError) {
        // Errors the Koa way: clients get a status and a short reason, never a stack; one place logs.
        c.status = err.status;
        c.type = 'text/plain';
        c.body = err.message;
        callbacks.inc({ outcome: err.code });
        ctx.log.warn({ code: err.code, status: err.status, path: c.path }, 'callback rejected');
      } else {
        // Anything else is ours (e.g. Redis unreachable): 503 so WeCom retries the callback later.
        c.status = 503;
        c.type = 'text/plain';
        c.body = 'temporarily unavailable';
        callbacks.inc({ outcome: 'unavailable' });
        c.app.emit('error', err, c);
      }
    }
    // An answer sent before the request body was read (a body over the limit, an early 4xx, an unknown path) leaves
    // the rest of the body on the socket: close the connection, so a keep-alive client opens a fresh one.
    if (!c.req.complete) c.set('Connection', 'close');
  });
  app.on('error', (err: Error) => ctx.log.error({ err: { message: err.message, name: err.name } }, 'request failed'));

  // The admin API exists only with a token: without one, everything under /admin answers 404.
  if (config.ADMIN_TOKEN) {
    const admin = adminApiRouter(ctx, config.ADMIN_TOKEN);
    app.use(admin.routes()).use(admin.allowedMethods());
    const dashboard = dashboardRouter(ctx, config.ADMIN_TOKEN);
    app.use(dashboard.queues);
    app.use(dashboard.router.routes()).use(dashboard.router.allowedMethods());
  }

  const router = new Router();
  mountCallbackRoute(router, '/wecom/callback', {
    credentials: { token: config.WECOM_TOKEN, encodingAesKey: config.WECOM_ENCODING_AES_KEY, receiveId: config.WECOM_CORP_ID },
    maxSkewSeconds: config.CALLBACK_MAX_SKEW_SECONDS,
    bodyLimitBytes: config.CALLBACK_BODY_LIMIT_BYTES,
    inbox: ctx.inbox,
    now: opts.now,
  });
  // The 智能机器人 (chat commands from the ops group) only when its API mode is configured [D:101033].
  if (config.WECOM_ROBOT_TOKEN && config.WECOM_ROBOT_ENCODING_AES_KEY) {
    mountJsonCallbackRoute(router, '/wecom/robot', {
      credentials: { token: config.WECOM_ROBOT_TOKEN, encodingAesKey: config.WECOM_ROBOT_ENCODING_AES_KEY, receiveId: '' },
      maxSkewSeconds: config.CALLBACK_MAX_SKEW_SECONDS,
      bodyLimitBytes: config.CALLBACK_BODY_LIMIT_BYTES,
      answer: (e) => answerRobot(ctx, e.key, e.event),
      now: opts.now,
    });
  }
  mountRedirectRoute(router, ctx);
  router.get('/healthz', async (c) => {
    const checks = (await opts.health?.()) ?? {};
    const ok = Object.values(checks).every(Boolean);
    c.status = ok ? 200 : 503;
    c.body = { ok, ...checks };
  });
  router.get('/metrics', async (c) => {
    c.type = registry.contentType;
    c.body = await registry.metrics();
  });
  app.use(router.routes()).use(router.allowedMethods());
  return app;
}
