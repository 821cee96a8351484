import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import { extendZodWithOpenApi, OpenAPIRegistry, OpenApiGeneratorV3 } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import type { BotContext } from '../../context.js';
import { ApiError, type ApiRoute } from './api-route.js';
import { requireAdminToken } from './auth.js';
import { boardRoutes } from './routes/board.js';
import { campaignRoutes } from './routes/campaigns.js';
import { funnelRoutes } from './routes/funnel.js';
import { leadRoutes } from './routes/leads.js';
import { serviceRoutes } from './routes/service.js';

// The generator reads OpenAPI metadata through a method it adds to zod's schemas.
extendZodWithOpenApi(z);

/** What every answer other than a 2xx is (ApiError). */
const errorBody = z
  .object({
    error: z.string().describe('what went wrong, in English'),
    label: z.object({ zh: z.string(), en: z.string() }).describe('the same in each of the dashboard\'s languages (en is `error`)'),
    issues: z
      .array(z.object({ in: z.string().describe('query, params or body'), path: z.string(), message: z.string() }))
      .optional()
      .describe('the failing fields of an invalid input'),
  })
  .openapi('Error');

/** Every route of the admin API; the OpenAPI document is generated from the same list. */
export function adminRoutes(ctx: BotContext): ApiRoute[] {
  return [...leadRoutes(ctx), ...funnelRoutes(ctx), ...boardRoutes(ctx), ...campaignRoutes(ctx), ...serviceRoutes(ctx)] as ApiRoute[];
}

/**
 * The admin API under /admin/api (enabled by ADMIN_TOKEN; without it nothing under /admin exists): JSON in and out,
 * every input checked with zod (400 with the failing fields), every request authorised with the token (401), and an
 * OpenAPI document generated from the same schemas at /admin/api/openapi.json.
 */
export function adminApiRouter(ctx: BotContext, token: string): Router {
  const router = new Router({ prefix: '/admin/api' });
  router.use(async (c, next) => {
    try {
      await next();
    } catch (err) {
      const e = err instanceof ApiError ? err : bodyError(err);
      if (e) {
        c.status = e.status;
        c.body = { error: e.message, label: e.label, ...(e.issues ? { issues: e.issues } : {}) };
        return;
      }
      ctx.log.error({ err: (err as Error).message, path: c.path }, 'admin API request failed');
      c.status = 500;
      c.body = { error: 'internal error', label: { zh: '服务器内部错误', en: 'internal error' } };
    }
  });
  router.use(requireAdminToken(token));
  // A body that is not JSON, or too large, is refused (bodyError) before any route acts on it.
  router.use(bodyParser({ enableTypes: ['json'], jsonLimit: '64kb' }));
  const routes = adminRoutes(ctx);
  for (const route of routes) {
    router[route.method](route.path, async (c) => {
      const input = {
        query: check(route.query, givenOnly(c.query), 'query'),
        params: check(route.params, c.params, 'params'),
        body: route.body ? check(route.body, c.request.body ?? undefined, 'body') : undefined,
      };
      c.body = await route.handler(input as never, c);
    });
  }
  const document = openApiDocument(routes);
  router.get('/openapi.json', (c) => {
    c.body = document;
  });
  router.all('/(.*)', () => {
    throw new ApiError(404, { zh: '没有这个管理 API 路由（见 /admin/api/openapi.json）', en: 'no such admin API route (see /admin/api/openapi.json)' });
  });
  return router;
}

/**
 * The query parameters given a value: one left empty (`?stage=&grade=`, as a script fills a URL template) counts as
 * not given, as the API's optional filters and defaults read it, rather than as an invalid stage, limit or day.
 */
function givenOnly(query: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  return Object.fromEntries(Object.entries(query).filter((e): e is [string, string | string[]] => e[1] !== undefined && e[1] !== ''));
}

function check(schema: z.ZodTypeAny | undefined, value: unknown, where: string): unknown {
  if (!schema) return {};
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => ({ in: where, path: i.path.join('.') || '(value)', message: i.message }));
  const zh = parsed.error.issues.map((i) => `${i.path.join('.') || '(value)'}：${issueZh(i)}`).join('；');
  throw new ApiError(400, { zh: `${WHERE_ZH[where] ?? where}有误：${zh}`, en: `invalid ${where}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}` }, issues);
}

const WHERE_ZH: Record<string, string> = { query: '查询参数', params: '路径参数', body: '请求内容' };

/**
 * A zod issue in Chinese: by its kind, and a refinement by the `zh` of its params (`.refine(f, {message, params: {zh}})`,
 * its English being its message).
 */
function issueZh(i: z.ZodIssue): string {
  switch (i.code) {
    case 'invalid_type':
      return i.received === 'undefined' ? '必填' : `应为 ${i.expected}`;
    case 'invalid_enum_value':
      return `应为 ${i.options.join('、')} 之一`;
    case 'unrecognized_keys':
      return `不认识的字段 ${i.keys.join('、')}`;
    case 'too_small':
      return i.type === 'string' ? `至少 ${i.minimum} 个字符` : i.type === 'array' ? `至少 ${i.minimum} 项` : `不能小于 ${i.minimum}`;
    case 'too_big':
      return i.type === 'string' ? `最多 ${i.maximum} 个字符` : i.type === 'array' ? `最多 ${i.maximum} 项` : `不能大于 ${i.maximum}`;
    case 'custom':
      return typeof i.params?.zh === 'string' ? i.params.zh : '取值无效';
    default:
      return '取值无效';
  }
}

/** koa-bodyparser's refusals (not JSON, too large) as API errors. */
function bodyError(err: unknown): ApiError | null {
  const e = err as { status?: number; type?: string; message?: string };
  if (e?.status === 413) return new ApiError(413, { zh: '请求内容超过 64 KB', en: 'body over 64 KB' });
  // An encoding the parser cannot read (Content-Encoding: compress): the body was never read.
  if (e?.status === 415) return new ApiError(415, { zh: '请求内容的编码无法读取；请发送 UTF-8 的 JSON', en: `body not readable: ${e.message ?? 'unsupported encoding'}; send UTF-8 JSON` });
  if (e?.status && e.status >= 400 && e.status < 500) return new ApiError(400, { zh: '请求内容不是有效的 JSON', en: 'body is not valid JSON' });
  return null;
}

/** The OpenAPI 3 document of `routes`. */
export function openApiDocument(routes: readonly ApiRoute[]): object {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN' });
  registry.register('Error', errorBody);
  /** An answer other than a 2xx: its body is an Error. */
  const failure = (description: string) => ({ description, content: { 'application/json': { schema: errorBody } } });
  for (const r of routes) {
    registry.registerPath({
      method: r.method,
      path: `/admin/api${r.path.replace(/:(\w+)/g, '{$1}')}`,
      summary: r.summary,
      tags: [r.tag],
      security: [{ bearer: [] }],
      request: {
        ...(r.query ? { query: r.query as z.AnyZodObject } : {}),
        ...(r.params ? { params: r.params as z.AnyZodObject } : {}),
        ...(r.body ? { body: { content: { 'application/json': { schema: r.body } } } } : {}),
      },
      responses: {
        200: { description: 'OK', content: { 'application/json': { schema: r.response } } },
        400: failure('invalid input: `{error, label, issues: [{in, path, message}]}`'),
        401: failure('no or wrong admin token'),
        ...(r.body ? { 413: failure('body over 64 KB'), 415: failure('body in an encoding the API does not read') } : {}),
        ...(r.params ? { 404: failure(`no such ${r.tag === 'campaigns' ? 'campaign' : 'lead'}`) } : {}),
        ...(r.tag === 'campaigns' && r.method === 'post' ? { 409: failure('the key is taken, or the campaign\'s state forbids it (paused, cancelled, a draft)') } : {}),
        ...Object.fromEntries(Object.entries(r.errors ?? {}).map(([status, description]) => [status, failure(description)])),
        500: failure('the bot failed to answer (its log says why): `{error: "internal error", label}`'),
      },
    });
  }
  return new OpenApiGeneratorV3(registry.definitions).generateDocument({
    openapi: '3.0.3',
    info: { title: 'WeCom ops bot admin API', version: '1', description: 'Leads, stages, grades, the funnel, channels, campaigns and 微信客服 response times. Every request needs `Authorization: Bearer <ADMIN_TOKEN>`. A query parameter left empty (`stage=`) counts as not given.' },
  });
}
