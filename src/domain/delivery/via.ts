import { createHash } from 'node:crypto';
import type { BotContext } from '../../context.js';
import type { LeadDoc } from '../../store/models/lead.js';

/** How a nurture message reaches the lead (wecom-api.md: the bot cannot push to a customer freely). */
export type Route = 'kf' | 'mass' | 'owner';

/** 微信客服 may answer within 48 h of the customer's last message, at most 5 messages [D:94677]. */
export const KF_WINDOW_MS = 48 * 3_600_000;
export const KF_MAX_PER_WINDOW = 5;
/** kf/send_msg errcodes meaning "the window is gone": fall back to the next route instead of failing. */
export const KF_WINDOW_CLOSED = new Set([95001, 95002, 95018]);

/** What a step says: text and/or one link (already tracked). */
export interface StepContent {
  text: string | null;
  link: { title: string; url: string; desc?: string; picurl?: string } | null;
}

/** True when the lead's 客服 session allows one more message now. */
export function kfWindowOpen(lead: Pick<LeadDoc, 'kf'>, now: number): boolean {
  const kf = lead.kf;
  return Boolean(kf?.openKfid && kf.lastInboundAt && now - kf.lastInboundAt.getTime() < KF_WINDOW_MS && (kf.sentSinceInbound ?? 0) < KF_MAX_PER_WINDOW);
}

/**
 * Picks the route: an open 客服 window first (sent automatically), else a mass message while the lead's monthly
 * quota lasts (the owner confirms it), else a reminder to the owner. Our own mass messages this month count
 * against the quota (all but those that failed or were capped); a "capped" answer (status 3) this month means the quota is gone whatever we count.
 */
export function chooseRoute(
  ctx: Pick<BotContext, 'config'>,
  lead: LeadDoc,
  /** Statuses of the lead's mass-route deliveries in the current month. */
  massThisMonth: readonly string[],
  now: number,
  exclude: ReadonlySet<Route> = new Set(),
): Route {
  if (!exclude.has('kf') && kfWindowOpen(lead, now)) return 'kf';
  if (!exclude.has('mass') && ctx.config.MASS_MESSAGE_MONTHLY_CAP > 0) {
    // unconfirmed counts too: the owner may still confirm the task after our last poll.
    const used = massThisMonth.filter((s) => ['pending', 'submitted', 'sent', 'unknown', 'unconfirmed'].includes(s)).length;
    if (!massThisMonth.includes('capped') && used < ctx.config.MASS_MESSAGE_MONTHLY_CAP) return 'mass';
  }
  return 'owner';
}

const clip = (text: string, bytes: number) => {
  const buf = Buffer.from(text);
  return buf.length <= bytes ? text : `${buf.subarray(0, bytes - 3).toString().replace(/\uFFFD$/, '')}…`;
};

/**
 * Sends `content` by `route`. Returns the mass message's msgid when there is one, or `rejected` when WeCom took the
 * call but refused the lead (add_msg_template's fail_list). Throws WecomApiError.
 */
export async function sendByRoute(
  ctx: Pick<BotContext, 'wecom'>,
  route: Route,
  lead: LeadDoc,
  owner: string,
  content: StepContent,
  deliveryKey: string,
): Promise<{ msgid?: string; rejected?: string }> {
  const linkLine = content.link ? `${content.link.title}：${content.link.url}` : '';
  if (route === 'kf') {
    // kf/send_msg link cards need an uploaded thumbnail (thumb_media_id); the link goes in the text instead.
    const body = [content.text, linkLine].filter(Boolean).join('\n');
    // msgid makes a repeated call recognisable to WeCom (UNCONFIRMED whether it rejects a duplicate).
    const msgid = createHash('sha1').update(deliveryKey).digest('hex').slice(0, 32);
    await ctx.wecom.kfSendMsg({ touser: lead.externalUserId, open_kfid: lead.kf!.openKfid!, msgid, msgtype: 'text', text: { content: clip(body, 2048) } });
    return {};
  }
  if (route === 'mass') {
    const res = await ctx.wecom.addMsgTemplate({
      chat_type: 'single',
      external_userid: [lead.externalUserId],
      sender: owner,
      ...(content.text ? { text: { content: content.text } } : {}),
      ...(content.link ? { attachments: [{ msgtype: 'link', link: content.link }] } : {}),
    });
    if (res.fail_list?.includes(lead.externalUserId)) return { rejected: 'not_a_contact_of_sender' };
    return { msgid: res.msgid };
  }
  const who = lead.name ? `「${lead.name}」` : '';
  const note = `【客户培育】请把下面的内容发给客户${who}（${lead.externalUserId}）：\n\n${[content.text, linkLine].filter(Boolean).join('\n')}`;
  await ctx.wecom.sendAppText([owner], clip(note, 2048));
  return {};
}
