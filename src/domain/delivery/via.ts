import { createHash } from 'node:crypto';
import type { BotContext } from '../../context.js';
import type { LeadFields } from '../../store/models/lead.js';
import { bytes, linkLine, withLinkLine } from '../../text-bytes.js';
import type { Via } from '../vocabulary.js';

/** 微信客服 may send within 48 h of the customer's last message [D:94677]. */
export const KF_WINDOW_MS = 48 * 3_600_000;
/**
 * kf/send_msg errcodes meaning the window is gone: 95001 its messages are used up, 95002 it closed, 95018 a person
 * serves the session now [D:94677]. The message falls back to the next way instead of failing.
 */
export const KF_WINDOW_CLOSED = new Set([95001, 95002, 95018]);

/** What a message says: text and/or one link (already tracked). */
export interface MessageContent {
  text: string | null;
  link: { title: string; url: string; desc?: string; picurl?: string } | null;
}

type LeadForVia = Pick<LeadFields, 'externalUserId' | 'name' | 'kf' | 'owners' | 'lastInteraction'>;

/** Start (ms) of the lead's open 微信客服 window, or null when none is open now. */
export function kfWindowStart(lead: Pick<LeadFields, 'kf'>, now: number): number | null {
  const at = lead.kf?.lastInboundAt?.getTime();
  return lead.kf?.openKfid && at !== undefined && now - at < KF_WINDOW_MS ? at : null;
}

/**
 * The first way to try: an open 客服 window (sent at once), else a mass message the owner confirms. Not the window
 * while a person serves the customer there (queued or state 3), nor once a servicer ended the session (state 4, until
 * the customer writes again): WeCom refuses API sends in those states (95018 [D:94669, D:94677]), and a marketing
 * message does not belong in a person's conversation.
 */
export function preferredVia(lead: Pick<LeadFields, 'kf'>, now: number): 'kf' | 'mass' {
  if (lead.kf?.state === 2 || lead.kf?.state === 3 || lead.kf?.state === 4) return 'mass';
  return kfWindowStart(lead, now) !== null ? 'kf' : 'mass';
}

/**
 * Who sends a mass message to the lead: only the member who last interacted with the customer receives the task
 * [D:92135], so that member when known and still an owner, else `fallback` (the enrollment's owner).
 */
export function massSender(lead: Pick<LeadFields, 'owners' | 'lastInteraction'>, fallback: string): string {
  const last = lead.lastInteraction?.userId;
  return last && lead.owners.some((o) => o.userId === last && o.status === 'active') ? last : fallback;
}

/**
 * Our own kf msgid of a delivery: ≤ 32 bytes of [0-9a-zA-Z_-], unique per kf account [D:94677] (WeCom's own msgids are
 * longer, so one cannot be reused). It makes a repeated call recognisable, and a later msg_send_fail names it.
 */
export function kfMsgid(deliveryKey: string): string {
  return createHash('sha1').update(deliveryKey).digest('hex').slice(0, 32);
}


/**
 * Sends `content` by `via` as or to member `userId`. Returns the mass message's msgid when there is one, or
 * `rejected` when WeCom took the call but refused the lead (add_msg_template's fail_list). Throws WecomApiError;
 * QuotaWaitError when the owner route's member is at the per-member limit for longer than `opts.quotaWaitMs`.
 */
export async function sendVia(
  ctx: Pick<BotContext, 'wecom'>,
  via: Exclude<Via, 'welcome'>,
  lead: LeadForVia,
  userId: string,
  content: MessageContent,
  deliveryKey: string,
  opts: { quotaWaitMs?: number } = {},
): Promise<{ msgid?: string; rejected?: string }> {
  const line = content.link ? linkLine(content.link.title, content.link.url) : '';
  if (via === 'kf') {
    // kf/send_msg link cards need an uploaded thumbnail (thumb_media_id); the link goes in the text instead.
    const msgid = kfMsgid(deliveryKey);
    await ctx.wecom.kfSendMsg({ touser: lead.externalUserId, open_kfid: lead.kf!.openKfid!, msgid, msgtype: 'text', text: { content: withLinkLine(content.text, line, 2048) } });
    return { msgid };
  }
  if (via === 'mass') {
    const res = await ctx.wecom.addMsgTemplate({
      chat_type: 'single',
      external_userid: [lead.externalUserId],
      sender: userId,
      ...(content.text ? { text: { content: content.text } } : {}),
      ...(content.link ? { attachments: [{ msgtype: 'link', link: content.link }] } : {}),
    });
    if (res.fail_list?.includes(lead.externalUserId)) return { rejected: 'not_a_contact_of_sender' };
    return { msgid: res.msgid };
  }
  const who = lead.name ? `「${lead.name}」` : '';
  const head = `【客户培育】请把下面的内容发给客户${who}（${lead.externalUserId}）：\n\n`;
  await ctx.wecom.sendAppText([userId], head + withLinkLine(content.text, line, 2048 - bytes(head)), opts);
  return {};
}
