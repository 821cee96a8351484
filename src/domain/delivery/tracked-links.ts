import { createHash } from 'node:crypto';
import { createOnce } from '../../store/models/lead.js';
import { Link } from '../../store/models/link.js';

/**
 * The tracked form of `url` for one delivery: `<base>/r/<token>`, redirecting to `url` and recording the click.
 * The token is derived from the delivery and the URL, so the same pair always gets the same link.
 */
export async function trackedUrl(base: string, url: string, lead: { corpId: string; externalUserId: string }, deliveryKey: string): Promise<string> {
  const token = createHash('sha256').update(`${deliveryKey}\n${url}`).digest('base64url').slice(0, 16);
  await createOnce(Link, { _id: token, url, deliveryKey, corpId: lead.corpId, externalUserId: lead.externalUserId });
  return `${base.replace(/\/$/, '')}/r/${token}`;
}
