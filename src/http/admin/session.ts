import { createHmac, timingSafeEqual } from 'node:crypto';
import type Koa from 'koa';

/** The cookie that carries a browser's admin session (for pages that cannot send a header: Bull Board). */
export const SESSION_COOKIE = 'admin_session';

/** How long a signed-in browser stays signed in: a cookie that leaks is of use for at most this long. */
export const SESSION_HOURS = 12;

const mac = (token: string, what: string) => createHmac('sha256', token).update(what).digest('base64url');

/**
 * A session for `token` ending at `expiresAt` (ms): the end and a MAC of it under the token, so the cookie never holds
 * the token itself, cannot be made without it, and stops working at its end (not only when the token changes).
 */
export function sessionValue(token: string, expiresAt = Date.now() + SESSION_HOURS * 3_600_000): string {
  const end = Math.floor(expiresAt / 1000);
  return `${end}.${mac(token, `admin-session|${end}`)}`;
}

const same = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/** True when the request carries the admin token: as a bearer header, or as a session cookie that has not ended. */
export function isAdmin(c: Koa.Context, token: string): boolean {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(c.get('authorization'))?.[1];
  if (bearer) return same(mac(bearer, 'admin-token'), mac(token, 'admin-token'));
  const m = /^(\d{1,12})\.([\w-]{43})$/.exec(c.cookies.get(SESSION_COOKIE) ?? '');
  if (!m || Number(m[1]) * 1000 <= Date.now()) return false;
  return same(m[2]!, mac(token, `admin-session|${m[1]}`));
}
