import { bytes, clipBytes, linkLine } from '../text-bytes.js';

/**
 * What a 微信客服 text is measured as when templates are checked: kf/send_msg takes at most 2048 bytes [D:94677], and
 * on that route a message's link goes in its text, as a line `title：<tracked link>` after it (kf link cards need an
 * uploaded thumbnail: src/domain/delivery/via.ts, src/domain/kf/reply.ts). A text that fits only without its link
 * line is cut when sent, so it is refused here, with the link line counted at its longest.
 */
export const KF_TEXT_BYTES = 2048;

/**
 * Upper bounds of what a tracked link's length depends on beyond the template: the bot's base URL (PUBLIC_BASE_URL;
 * a longer one given to the check counts as itself) and the ids sealed in its token. WeCom's ids are shorter than
 * these: a corp id is 18 characters, an external_userid 32, an open_kfid 32, an inbound 客服 msgid 44 as seen in
 * kf/sync_msg's answers [D:94670].
 */
export const LINK_BOUNDS = { baseUrl: 64, corpId: 32, externalUserId: 64, openKfid: 64, msgid: 128 } as const;

/** How long a tracked link's token is sealed: a 12-byte nonce and a 12-byte tag around the plain text. */
const SEAL_BYTES = 12 + 12;

/**
 * Bytes of the tracked link src/domain/delivery/tracked-links.ts (trackedUrl) makes: `<base>/r/e` and the token in
 * base64url (no padding) of nonce ‖ AES-GCM(plain) ‖ tag, the plain text being the URL, the corp id, the customer's
 * id, the delivery key and the case slug, one per line.
 */
export function trackedUrlBytes(base: string, p: { url: string; corpId: number; externalUserId: number; deliveryKey: number; caseSlug?: string | null }): number {
  const plain = bytes(p.url) + p.corpId + p.externalUserId + p.deliveryKey + bytes(p.caseSlug ?? '') + 4;
  return bytes(base.replace(/\/$/, '')) + '/r/e'.length + Math.ceil(((SEAL_BYTES + plain) * 4) / 3);
}

/** The longest tracked link for `url` to one customer with a delivery key of `deliveryKey` bytes (ids at their bounds). */
export function longestTrackedUrl(baseUrl: string | undefined, url: string, deliveryKey: number, caseSlug?: string | null): number {
  const base = baseUrl && bytes(baseUrl.replace(/\/$/, '')) > LINK_BOUNDS.baseUrl ? baseUrl : 'x'.repeat(LINK_BOUNDS.baseUrl);
  return trackedUrlBytes(base, { url, corpId: LINK_BOUNDS.corpId, externalUserId: LINK_BOUNDS.externalUserId, deliveryKey, caseSlug });
}

/** Bytes of a lead's id in a delivery key: `<corp>:<customer>`. */
const LEAD_ID_BYTES = LINK_BOUNDS.corpId + 1 + LINK_BOUNDS.externalUserId;

/** Longest delivery key of a sequence's step (src/domain/nurture/policy.ts: `nurture|<lead id>|<sequence>|<step>`). */
export const nurtureKeyBytes = (sequenceKey: string, step: number) => 'nurture|'.length + LEAD_ID_BYTES + 1 + bytes(sequenceKey) + 1 + String(step + 1).length;
/** Longest delivery key of a 客服 reply or welcome (`kf-reply|<open_kfid>|<msgid>`, `kf-welcome|…`: src/domain/kf). */
export const KF_REPLY_KEY_BYTES = 'kf-welcome|'.length + LINK_BOUNDS.openKfid + 1 + LINK_BOUNDS.msgid;
/** Longest delivery key of a campaign's 客服 send (`campaign|<key>|<slot>|<lead id>`: src/domain/campaigns). */
export const campaignKeyBytes = (campaignKey: string) => 'campaign|'.length + bytes(campaignKey) + 1 + '20261201T020000Z'.length + 1 + LEAD_ID_BYTES;

/** A link as the 客服 text carries it, its URL tracked. */
export interface LinkLineSpec {
  title: string;
  /** Bytes of its tracked URL at the longest. */
  urlBytes: number;
}

/** Bytes of `text` and its link lines as one 客服 text (src/text-bytes.ts withLinkLine, never cut). */
export function kfTextBytes(text: string | null | undefined, lines: readonly LinkLineSpec[]): number {
  const joined = lines.map((l) => linkLine(l.title, 'x'.repeat(l.urlBytes))).join('\n');
  return [text, joined].filter(Boolean).reduce((n, part, i) => n + (i ? 1 : 0) + bytes(part!), 0);
}

/** The problem of a 客服 text over KF_TEXT_BYTES, or null: what it is, and by how much to shorten it. */
export function kfTextProblem(text: string | null | undefined, lines: readonly LinkLineSpec[], what: string): string | null {
  const total = kfTextBytes(text, lines);
  if (total <= KF_TEXT_BYTES) return null;
  const urls = Math.max(...lines.map((l) => l.urlBytes));
  const head = `on the 微信客服 route ${what} up to ${total} bytes (tracked links up to ${urls} bytes), over kf/send_msg's ${KF_TEXT_BYTES} [D:94677]`;
  return text ? `${head}, so the text would be cut: shorten it by ${total - KF_TEXT_BYTES} bytes` : `${head}: shorten the link's URL or title`;
}

/** Bytes of a link's title (a case study's title and summary) a reply's text line keeps (src/domain/kf/reply.ts). */
export const REPLY_LINK_TITLE_BYTES = 300;
export const replyLinkTitle = (title: string) => clipBytes(title, REPLY_LINK_TITLE_BYTES);
