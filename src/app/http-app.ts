import Router from '@koa/router';
import Koa from 'koa';
import { CallbackError } from '../errors.js';
import type { Logger } from '../logger.js';
import { callbacks, registry } from '../metrics.js';
import type { LeadStore } from '../store/lead-repository.js';
import { mountCallbackRoute, type CallbackRouteOptions } from '../http/callback-route.js';
import { mountRedirectRoute } from '../http/redirect-route.js';

declare module 'koa' {
  interface DefaultContext {
    log: Logger;
  }
}

export interface AppOptions extends CallbackRouteOptions {
  logger: Logger;
  /** Enables the tracked-link redirect (GET /r/<token>). */
  leads?: LeadStore;
  /** Extra readiness checks for /healthz (e.g. Redis ping). */
  health?: () => Promise<Record<string, boolean>>;
}

/** The web process: the WeCom callback receiver, /healthz and /metrics. */
export function createApp(opts: AppOptions): Koa {
  const app = new Koa();
  app.proxy = true;
  app.context.log = opts.logger;

  // Errors the Koa way: clients get a status and a short reason, never a stack; one place logs.
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      if (err instanceof CallbackError) {
        ctx.status = err.status;
        ctx.type = 'text/plain';
        ctx.body = err.message;
        callbacks.inc({ outcome: err.code });
        opts.logger.warn({ code: err.code, status: err.status, path: ctx.path }, 'callback rejected');
        return;
      }
      // Anything else is ours (e.g. Redis unreachable): 503 so WeCom retries the callback later.
      ctx.status = 503;
      ctx.type = 'text/plain';
      ctx.body = 'temporarily unavailable';
      callbacks.inc({ outcome: 'unavailable' });
      ctx.app.emit('error', err, ctx);
    }
  });
  app.on('error', (err: Error) => opts.logger.error({ err: { message: err.message, name: err.name } }, 'request failed'));

  const router = new Router();
  mountCallbackRoute(router, '/wecom/callback', opts);
  if (opts.leads) mountRedirectRoute(router, opts.leads);
  router.get('/healthz', async (ctx) => {
    const checks = (await opts.health?.()) ?? {};
    const ok = Object.values(checks).every(Boolean);
    ctx.status = ok ? 200 : 503;
    ctx.body = { ok, ...checks };
  });
  router.get('/metrics', async (ctx) => {
    ctx.type = registry.contentType;
    ctx.body = await registry.metrics();
  });
  app.use(router.routes()).use(router.allowedMethods());
  return app;
}
