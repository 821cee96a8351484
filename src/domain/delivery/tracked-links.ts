import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
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

/** 9 bytes of HMAC-SHA256: 12 base64url characters at the end of every token. */
const MAC_CHARS = 12;
const mac = (secret: string, payload: string) => createHmac('sha256', secret).update(payload).digest().subarray(0, 9);

/**
 * The tracked form of `url` for one delivery: `<base>/r/<token>`. The token carries the URL, the lead and the
 * delivery, signed with `secret`: a redirect needs no database read and no insert before the send, and nobody can
 * forge a token to redirect elsewhere or record a click.
 */
export function trackedUrl(base: string, secret: string, link: TrackedLink): string {
  const payload = Buffer.from([link.url, link.lead?.corpId ?? '', link.lead?.externalUserId ?? '', link.deliveryKey, link.caseSlug ?? ''].join('\n')).toString('base64url');
  return `${base.replace(/\/$/, '')}/r/${payload}${mac(secret, payload).toString('base64url')}`;
}

/** What a token stands for, or null when it was not made with `secret` (or is not a token at all). */
export function readTrackedToken(secret: string, token: string): TrackedLink | null {
  if (token.length <= MAC_CHARS || token.length > 4096 || !/^[\w-]+$/.test(token)) return null;
  const payload = token.slice(0, -MAC_CHARS);
  const given = Buffer.from(token.slice(-MAC_CHARS), 'base64url');
  const expected = mac(secret, payload);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  const [url, corpId, externalUserId, deliveryKey, caseSlug] = Buffer.from(payload, 'base64url').toString('utf8').split('\n');
  if (!url || !deliveryKey || !corpId !== !externalUserId) return null;
  return { url, lead: corpId && externalUserId ? { corpId, externalUserId } : null, deliveryKey, ...(caseSlug ? { caseSlug } : {}) };
}

/** The key tracked links are signed with: LINK_SECRET when set, else derived from the callback's EncodingAESKey. */
export function linkSecret(config: { LINK_SECRET?: string; WECOM_ENCODING_AES_KEY: string; WECOM_CORP_ID: string }): string {
  return config.LINK_SECRET ?? createHash('sha256').update(`tracked-links\0${config.WECOM_CORP_ID}\0${config.WECOM_ENCODING_AES_KEY}`).digest('hex');
}
