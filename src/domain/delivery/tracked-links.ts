import { createCipheriv, createDecipheriv, createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { LeadRef } from '../../store/models/lead.js';

/** What a tracked link stands for. */
export interface TrackedLink {
  url: string;
  /**
   * The lead it was sent to; null for a link shared by many customers (a campaign's mass message or reminder to many:
   * one content for all of them), whose `deliveryKey` is then the group's key.
   */
  lead: LeadRef | null;
  deliveryKey: string;
  /** The case study it opens, if it is one (opening a case counts for the lead's score). */
  caseSlug?: string | null;
}

/** Legacy tokens (sent until 2026-12-07, still honoured): the payload readable, then 9 bytes of HMAC-SHA256. */
const MAC_CHARS = 12;
const mac = (secret: string, payload: string) => createHmac('sha256', secret).update(payload).digest().subarray(0, 9);

/** Tokens made now: `e` + base64url(nonce ‖ AES-256-GCM ciphertext ‖ tag). */
const SEALED = 'e';
const NONCE_BYTES = 12;
const TAG_BYTES = 12;
const subKey = (secret: string, use: string) => createHash('sha256').update(`tracked-link-${use}\0${secret}`).digest();

/**
 * The tracked form of `url` for one delivery: `<base>/r/<token>`. The token carries the URL, the lead and the
 * delivery, sealed with `secret` (AES-256-GCM): a redirect needs no database read and no insert before the send,
 * nobody can forge a token to redirect elsewhere or record a click, and a link a customer passes on shows nobody the
 * corp's or the customer's ids. The nonce is derived from the content (as in SIV), so one delivery's link is the same
 * every time it is built (a group's content is one text for all its customers) and two contents never share a nonce.
 */
export function trackedUrl(base: string, secret: string, link: TrackedLink): string {
  const plain = Buffer.from([link.url, link.lead?.corpId ?? '', link.lead?.externalUserId ?? '', link.deliveryKey, link.caseSlug ?? ''].join('\n'));
  const nonce = createHmac('sha256', subKey(secret, 'nonce')).update(plain).digest().subarray(0, NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', subKey(secret, 'key'), nonce, { authTagLength: TAG_BYTES });
  const sealed = Buffer.concat([nonce, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
  return `${base.replace(/\/$/, '')}/r/${SEALED}${sealed.toString('base64url')}`;
}

/** What a token stands for, or null when it was not made with `secret` (or is not a token at all). */
export function readTrackedToken(secret: string, token: string): TrackedLink | null {
  if (token.length <= MAC_CHARS || token.length > 4096 || !/^[\w-]+$/.test(token)) return null;
  const plain = (token.startsWith(SEALED) ? unseal(secret, token.slice(SEALED.length)) : null) ?? readLegacy(secret, token);
  if (plain === null) return null;
  const [url, corpId, externalUserId, deliveryKey, caseSlug] = plain.split('\n');
  if (!url || !deliveryKey || !corpId !== !externalUserId) return null;
  return { url, lead: corpId && externalUserId ? { corpId, externalUserId } : null, deliveryKey, ...(caseSlug ? { caseSlug } : {}) };
}

function unseal(secret: string, body: string): string | null {
  const sealed = Buffer.from(body, 'base64url');
  // Only the one spelling trackedUrl writes: a decoder skips a dangling character and the unused low bits of the last
  // one, so a link changed there would otherwise still open (and be another link for the same delivery).
  if (sealed.length <= NONCE_BYTES + TAG_BYTES || sealed.toString('base64url') !== body) return null;
  try {
    const decipher = createDecipheriv('aes-256-gcm', subKey(secret, 'key'), sealed.subarray(0, NONCE_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    return Buffer.concat([decipher.update(sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    return null; // another key, or changed
  }
}

/** A token of the earlier, signed but readable, form: links sent before stay valid. */
function readLegacy(secret: string, token: string): string | null {
  const payload = token.slice(0, -MAC_CHARS);
  const given = Buffer.from(token.slice(-MAC_CHARS), 'base64url');
  const expected = mac(secret, payload);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  return Buffer.from(payload, 'base64url').toString('utf8');
}

/** The key tracked links are signed with: LINK_SECRET when set, else derived from the callback's EncodingAESKey. */
export function linkSecret(config: { LINK_SECRET?: string; WECOM_ENCODING_AES_KEY: string; WECOM_CORP_ID: string }): string {
  return config.LINK_SECRET ?? createHash('sha256').update(`tracked-links\0${config.WECOM_CORP_ID}\0${config.WECOM_ENCODING_AES_KEY}`).digest('hex');
}
