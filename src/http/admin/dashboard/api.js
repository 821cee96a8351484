// The admin API, called with the token this browser tab signed in with.
import { labelOf, lang, t } from './i18n.js';

const KEY = 'dashboard.token';

export const token = () => sessionStorage.getItem(KEY);

/** Signs in: the token is checked by the bot (which also sets the cookie Bull Board's pages need), then kept for the tab. */
export async function signIn(value) {
  const res = await fetch('/admin/session', { method: 'POST', headers: { authorization: `Bearer ${value}` } });
  if (!res.ok) return false;
  sessionStorage.setItem(KEY, value);
  return true;
}

export async function signOut() {
  sessionStorage.removeItem(KEY);
  await fetch('/admin/session', { method: 'DELETE' }).catch(() => undefined);
}

/**
 * An error the API answered with: its status and message in the page's language (the API gives each error as a
 * `label` in each language). An answer without one (a proxy's 502, an older bot) is said by its status in Chinese, and
 * as it came in English (400s carry the failing fields); status 0 is a request that never got an answer.
 */
export class ApiFailure extends Error {
  constructor(status, body) {
    const issues = body?.issues?.map((i) => `${i.path || i.in}: ${i.message}`).join('; ');
    const english = issues || body?.error;
    const fallback = status === 0 ? t('error.network') : lang() === 'en' && english ? english : t('error.http', { status });
    super(labelOf(body?.label, fallback));
    this.status = status;
  }
}

/** GET (or, with a body, POST) /admin/api + path; 401 sends the tab back to the login form. */
export async function api(path, body) {
  const res = await fetch(`/admin/api${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${token()}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  }).catch(() => null);
  if (!res) throw new ApiFailure(0, null);
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (res.status === 401) {
    sessionStorage.removeItem(KEY);
    window.dispatchEvent(new Event('signed-out'));
  }
  if (!res.ok) throw new ApiFailure(res.status, data);
  return data;
}

/** The query string of the non-empty entries of `params`. */
export function qs(params) {
  const s = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== ''));
  const text = s.toString();
  return text ? `?${text}` : '';
}
