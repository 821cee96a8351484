import { randomBytes } from 'node:crypto';
import { Link } from '../models/link.js';

/**
 * The tracked form of `url` for one delivery: `<base>/r/<token>`, redirecting to `url` and recording the click.
 * The same delivery and URL always get the same token.
 */
export async function trackedUrl(base: string, url: string, lead: { corpId: string; externalUserId: string }, deliveryKey: string): Promise<string> {
  const existing = await Link.findOne({ deliveryKey, url }, { token: 1 }).lean();
  const token = existing?.token ?? randomBytes(9).toString('base64url');
  if (!existing) await Link.create({ token, url, deliveryKey, ...lead });
  return `${base.replace(/\/$/, '')}/r/${token}`;
}
