import type { ApiRoute, SandboxArea } from '../area.js';
import type { SandboxCore } from '../core.js';
import { SandboxApiError } from '../errcodes.js';
import { randomId } from '../ids.js';
import type { Json } from '../json-input.js';

interface IssuedToken {
  token: string;
  secret: string;
  expiresAt: number;
  revoked: boolean;
}

/** Access tokens [D:91039]: one per secret, the same one while valid, checked on every other API. */
export class TokenArea implements SandboxArea {
  private readonly tokens = new Map<string, IssuedToken>();
  private readonly tokenBySecret = new Map<string, string>();

  constructor(
    private readonly core: SandboxCore,
    private readonly secrets: readonly string[],
    private readonly ttlMs: number,
  ) {}

  readonly routes: Record<string, ApiRoute> = {
    gettoken: { body: false, run: (q) => this.apiGetToken(q) },
  };

  reset(all: boolean): void {
    if (!all) return;
    this.tokens.clear();
    this.tokenBySecret.clear();
  }

  /** Makes every issued token invalid: calls with them get 42001, and gettoken issues new ones. */
  expire(): void {
    for (const t of this.tokens.values()) t.revoked = true;
  }

  /** Throws 41001 (missing), 40014 (unknown) or 42001 (expired) unless `access_token` is valid. */
  check(query: Record<string, string>): void {
    const token = query.access_token;
    if (!token) throw new SandboxApiError(41001);
    const t = this.tokens.get(token);
    if (!t) throw new SandboxApiError(40014);
    if (t.revoked || this.core.now() >= t.expiresAt) throw new SandboxApiError(42001);
  }

  /** GET gettoken: within validity the same token comes back (with the remaining expires_in) [D:91039]. */
  apiGetToken(query: Record<string, string>): Json {
    const corpid = query.corpid;
    if (!corpid) throw new SandboxApiError(41002);
    if (corpid !== this.core.corpId) throw new SandboxApiError(40013);
    const secret = query.corpsecret;
    if (!secret) throw new SandboxApiError(41004);
    if (!this.secrets.includes(secret)) throw new SandboxApiError(40001);
    const now = this.core.now();
    const current = this.tokens.get(this.tokenBySecret.get(secret) ?? '');
    if (current && !current.revoked && now < current.expiresAt) {
      return { access_token: current.token, expires_in: Math.ceil((current.expiresAt - now) / 1000) };
    }
    const token = randomId('', 64);
    this.tokens.set(token, { token, secret, expiresAt: now + this.ttlMs, revoked: false });
    this.tokenBySecret.set(secret, token);
    return { access_token: token, expires_in: Math.round(this.ttlMs / 1000) };
  }
}
