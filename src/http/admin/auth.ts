import { createHash, timingSafeEqual } from 'node:crypto';
import type Koa from 'koa';
import { ApiError } from './api-route.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Requires `Authorization: Bearer <ADMIN_TOKEN>` (compared in constant time, as digests of equal length) and answers
 * 401 otherwise.
 */
export function requireAdminToken(token: string): Koa.Middleware {
  const expected = digest(token);
  return async (c, next) => {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(c.get('authorization'));
    if (!m || !timingSafeEqual(digest(m[1]!), expected)) {
      c.set('WWW-Authenticate', 'Bearer realm="admin"');
      throw new ApiError(401, { zh: '需要有效的管理令牌（Authorization: Bearer <ADMIN_TOKEN>）', en: 'a valid admin token is required (Authorization: Bearer <ADMIN_TOKEN>)' });
    }
    await next();
  };
}
