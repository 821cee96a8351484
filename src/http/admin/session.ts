import { createHmac, timingSafeEqual } from 'node:crypto';
import type Koa from 'koa';

/** The cookie that carries a browser's admin session (for pages that cannot send a header: Bull Board). */
export const SESSION_COOKIE = 'admin_session';

/** The session value for `token`: a MAC of it, so the cookie never holds the token itself. */
export function sessionValue(token: string): string {
  return createHmac('sha256', token).update('admin-session').digest('base64url');
}

/** True when the request carries the admin token: as a bearer header, or as the session cookie. */
export function isAdmin(c: Koa.Context, token: string): boolean {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(c.get('authorization'))?.[1];
  const given = bearer ? sessionValue(bearer) : c.cookies.get(SESSION_COOKIE);
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(sessionValue(token));
  return a.length === b.length && timingSafeEqual(a, b);
}
