import type { ApiRoute, SandboxArea } from '../area.js';
import type { SandboxCore } from '../core.js';
import { SandboxApiError } from '../errcodes.js';
import { randomId } from '../ids.js';
import { checkAttachments, optArray, optString, textContent, utf8Length, type Json } from '../json-input.js';

/** A WelcomeCode issued with an add_external_contact event. */
export interface WelcomeCodeGrant {
  code: string;
  userId: string;
  externalUserId: string;
  issuedAt: number;
  usedAt?: number;
}

/** A welcome message accepted by send_welcome_msg. */
export interface WelcomeSent {
  welcomeCode: string;
  userId: string;
  externalUserId: string;
  /** text.content, if any. */
  text: string | undefined;
  attachments: unknown[];
  at: number;
}

/** Welcome messages [D:92137]: a WelcomeCode comes with each add event and may be used once, within 20 s. */
export class WelcomeArea implements SandboxArea {
  readonly codes = new Map<string, WelcomeCodeGrant>();
  /** Welcomes accepted by send_welcome_msg. */
  readonly sent: WelcomeSent[] = [];

  constructor(
    private readonly core: SandboxCore,
    private readonly codeTtlMs: number,
  ) {}

  readonly routes: Record<string, ApiRoute> = {
    'externalcontact/send_welcome_msg': { body: true, run: (_q, b) => this.apiSendWelcomeMsg(b) },
  };

  reset(all: boolean): void {
    this.sent.length = 0;
    if (all) this.codes.clear();
  }

  /** Issues a WelcomeCode for (userId, externalUserId), valid 20 s from now, once [D:92137]. */
  issue(userId: string, externalUserId: string): string {
    const code = randomId('', 43);
    this.codes.set(code, { code, userId, externalUserId, issuedAt: this.core.now() });
    return code;
  }

  /** POST externalcontact/send_welcome_msg: 41049 missing, 41050 unknown or expired, 41051 used, 40058 bad content. */
  apiSendWelcomeMsg(body: Json): Json {
    const code = optString(body, 'welcome_code');
    if (!code) throw new SandboxApiError(41049);
    const text = textContent(body);
    const attachments = checkAttachments(optArray(body, 'attachments'));
    if (text !== undefined && utf8Length(text) > 4000) throw new SandboxApiError(40058, 'text.content exceeds 4000 bytes');
    if (text === undefined && attachments.length === 0) throw new SandboxApiError(40058, 'text and attachments are both empty');
    const grant = this.codes.get(code);
    if (!grant) throw new SandboxApiError(41050);
    if (grant.usedAt !== undefined) throw new SandboxApiError(41051);
    // UNCONFIRMED: the code for an expired (> 20 s) welcome_code; the docs only say it is valid 20 s, so "invalid".
    if (this.core.now() - grant.issuedAt > this.codeTtlMs) throw new SandboxApiError(41050, 'welcome_code expired');
    grant.usedAt = this.core.now();
    this.sent.push({ welcomeCode: code, userId: grant.userId, externalUserId: grant.externalUserId, text, attachments, at: grant.usedAt });
    return {};
  }
}
