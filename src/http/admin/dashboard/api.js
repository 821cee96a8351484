// The admin API, called with the token this browser tab signed in with.

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

/** An error the API answered with: its status and message (400s carry the failing fields). */
export class ApiFailure extends Error {
  constructor(status, body) {
    const issues = body?.issues?.map((i) => `${i.path || i.in}: ${i.message}`).join('; ');
    super(issues || body?.error || `HTTP ${status}`);
    this.status = status;
  }
}

/** GET (or, with a body, POST) /admin/api + path; 401 sends the tab back to the login form. */
export async function api(path, body) {
  const res = await fetch(`/admin/api${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${token()}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
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
