import { replyLinkTitle } from '../../content/kf-text.js';
import type { Reply } from '../../content/replies.js';
import type { BotContext } from '../../context.js';
import { WecomApiError } from '../../errors.js';
import { jobIds } from '../../queues/job-ids.js';
import { LuaScript } from '../../redis/script.js';
import { attemptFenceId, deliveryOf, takeFence, type Outcome } from '../../store/delivery-ledger.js';
import type { DeliveryStatus } from '../../store/models/delivery.js';
import type { LeadFields } from '../../store/models/lead.js';
import type { KfOutboundMessage } from '../../wecom/types.js';
import { releaseRefusedKf, takeKfBudget, type KfBudgetResult } from '../delivery/budget.js';
import { trackedUrl } from '../delivery/tracked-links.js';
import { clipBytes, linkLine, withLinkLine } from '../../text-bytes.js';
import { kfMsgid } from '../delivery/via.js';
import { pickCase } from '../nurture/pick-case.js';
import type { RunOutcomes } from './run-outcomes.js';
import { describeServiceHours } from './service-hours.js';


type Ctx = Pick<BotContext, 'wecom' | 'queues' | 'redis' | 'keys' | 'config' | 'cases' | 'channels' | 'publicBaseUrl' | 'linkSecret' | 'log'>;
/** What a reply needs to know of the lead. */
export type ReplyLead = Pick<LeadFields, 'corpId' | 'externalUserId' | 'name' | 'industry' | 'role' | 'firstTouch'> & { _id: string };

/** How a reply ended. */
export type ReplyResult = 'sent' | 'rate_capped' | 'window_full' | 'person_serves' | 'window_closed' | 'failed' | 'unknown' | 'done_before';

/** Fills {{name}}, {{channel}}, {{hours}}. */
function fill(text: string, values: Record<string, string | null | undefined>): string {
  return text.replace(/\{\{\s*([^}\s]*)\s*\}\}/g, (_, p: string) => values[p] ?? '');
}

/**
 * One reply as ONE 微信客服 message (a window allows 5 [D:94677]): its text, link and case study folded into a `text`,
 * or, with a menu, into a `msgmenu` (the links as `view` items). Link cards (msgtype link) need an uploaded
 * thumbnail (thumb_media_id), so links are lines or menu items. Every link is tracked.
 */
export function buildReply(ctx: Ctx, reply: Reply, lead: ReplyLead, deliveryKey: string, caseSlug: string | null): KfOutboundMessage {
  const values = { name: lead.name ?? '', channel: ctx.channels.get(lead.firstTouch?.channelKey ?? '')?.name ?? '', hours: describeServiceHours(ctx.config.SERVICE_HOURS) };
  const track = (url: string, slug: string | null = null) => trackedUrl(ctx.publicBaseUrl, ctx.linkSecret, { url, lead: { corpId: lead.corpId, externalUserId: lead.externalUserId }, deliveryKey, caseSlug: slug });
  const found = caseSlug ? ctx.cases.find((c) => c.slug === caseSlug) : undefined;
  const links = [
    ...(reply.link ? [{ title: reply.link.title, url: track(reply.link.url) }] : []),
    ...(found ? [{ title: `${found.title}：${found.summary}`, url: track(found.url, found.slug) }] : []),
  ];
  if (!reply.menu) {
    // A reply whose case study was not found for this lead (each case goes to a lead once) would end on the line that
    // leads in to it ("也可以先看看同行怎么做："): that line is left out.
    const text = reply.text ? fill(reply.caseStudy && !links.length ? withoutLeadIn(reply.text) : reply.text, values) : '';
    // Over WeCom's 2048 bytes the text is cut, never a tracked link (cut short, it leads nowhere); a case study's long
    // summary is cut in its line so that its link stays whole.
    const linkLines = links.map((l) => linkLine(replyLinkTitle(l.title), l.url)).join('\n');
    return { msgtype: 'text', text: { content: withLinkLine(text, linkLines, 2048) } };
  }
  const head = [reply.text ? fill(reply.text, values) : '', reply.menu.head ? fill(reply.menu.head, values) : ''].filter(Boolean).join('\n');
  const list: Extract<KfOutboundMessage, { msgtype: 'msgmenu' }>['msgmenu']['list'] = [
    ...reply.menu.items.map((i) => ('intent' in i ? { type: 'click' as const, click: { id: i.intent, content: i.text } } : { type: 'view' as const, view: { url: track(i.url), content: i.text } })),
    ...links.map((l) => ({ type: 'view' as const, view: { url: l.url, content: l.title.slice(0, 128) } })),
  ];
  return {
    msgtype: 'msgmenu',
    msgmenu: { ...(head ? { head_content: clipBytes(head, 1024) } : {}), list, ...(reply.menu.tail ? { tail_content: clipBytes(fill(reply.menu.tail, values), 1024) } : {}) },
  };
}

/**
 * A reply's text without its last sentence when that sentence leads in to what should follow it (it ends in a colon,
 * "也可以先看看同行怎么做："), for a reply that goes with nothing after its text. A text that is nothing but that
 * sentence keeps it, its colon made a full stop.
 */
export function withoutLeadIn(text: string): string {
  const t = text.trimEnd();
  if (!/[：:]$/u.test(t)) return text;
  const m = /^([\s\S]*[。！？!?；;…\n])[^。！？!?；;…\n]*$/u.exec(t);
  const kept = m?.[1]!.trimEnd();
  return kept || `${t.slice(0, -1)}${/：$/u.test(t) ? '。' : '.'}`;
}

/** Plain text of a message, for the timeline and logs. */
export function messageText(m: KfOutboundMessage): string {
  return m.msgtype === 'text' ? m.text.content : [m.msgmenu.head_content, ...m.msgmenu.list.map((i) => `[${'click' in i ? i.click.content : 'view' in i ? i.view.content : i.text.content}]`), m.msgmenu.tail_content].filter(Boolean).join('\n');
}

// A sliding window per customer: the reply is counted once (its delivery key is the member), even when re-run.
const TAKE_SLOT = new LuaScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, tonumber(ARGV[1]) - tonumber(ARGV[2]))
if redis.call('ZSCORE', KEYS[1], ARGV[4]) then return 1 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`);

/** Whether the bot may reply to this customer now (KF_REPLIES_PER_MINUTE in the last minute, shared by all processes). */
async function takeReplySlot(ctx: Ctx, leadId: string, deliveryKey: string): Promise<boolean> {
  return (await TAKE_SLOT.run(ctx.redis, [ctx.keys.kfReplies(leadId)], [Date.now(), 60_000, ctx.config.KF_REPLIES_PER_MINUTE, deliveryKey])) === 1;
}

/** A reply to send: to whom, through which account, under which delivery key, in which window. */
export interface ReplyRequest {
  lead: ReplyLead;
  openKfid: string;
  /** Its delivery key: one reply per key, ever (e.g. `kf-reply|<account>|<msgid>`). */
  key: string;
  reply: Reply;
  /** The intent it answers (null: the fallback), for the record. */
  intent: string | null;
  /** Start (ms) of the window it goes in: the customer's last message [D:94677]. */
  windowStart: number;
  /** The unsubscribe confirmation always goes, whatever the per-minute cap. */
  rateExempt?: boolean;
  /**
   * The caller saw this window's 5 used a moment ago (an earlier reply of the same run, under the same lead lock):
   * the reply is skipped as `window_full` without searching the window's units again.
   */
  windowFull?: boolean;
  /** Where its outcome goes: the run's outcomes, written with the run (src/domain/kf/run-outcomes.ts). */
  outcomes: RunOutcomes;
}

/**
 * Sends one reply at most once (docs/architecture.md, "Exactly once"): the per-minute cap, then one of the window's
 * 5 units (shared with nurture: `kf|<lead>|<window>|<n>`), the case study's fence and the attempt fence in one insert,
 * then kf/send_msg with our own msgid, and the outcome with the run's (`r.outcomes`). 95018 means a person serves the
 * session now: nothing is sent, and the caller stays silent from then on.
 */
export async function sendReply(ctx: Ctx, r: ReplyRequest): Promise<ReplyResult> {
  const at = new Date();
  if (!r.rateExempt && !(await takeReplySlot(ctx, r.lead._id, r.key))) {
    await record(ctx, r, { status: 'skipped', reason: 'rate_capped' }, null, null, at);
    return 'rate_capped';
  }
  if (r.windowFull) {
    await record(ctx, r, { status: 'skipped', reason: 'window_full' }, null, null, at);
    return 'window_full';
  }
  // The cases this lead is known to have had: not tried again (each try costs a fence insert, a read and a delete).
  const sentCases = new Set<string>(r.reply.caseStudy ? await ctx.redis.smembers(ctx.keys.casesTaken(r.lead._id)) : []);
  let caseSlug: string | null = null;
  let budget: KfBudgetResult;
  for (;;) {
    if (r.reply.caseStudy) caseSlug = pickCase(ctx.cases, r.lead, sentCases)?.slug ?? null;
    // Service replies are not marketing: no daily cap, and no mass-message fallback (a reply goes now or not at all).
    budget = await takeKfBudget(ctx.redis, ctx.keys, { lead: r.lead._id, key: r.key, attempt: 1, day: { key: '-', cap: 0 }, mass: { key: '-', cap: 0 }, kfWindow: r.windowStart, caseSlug });
    if (budget.kind !== 'case_taken') break;
    sentCases.add(budget.slug);
    await noteCaseTaken(ctx, r.lead._id, budget.slug);
  }
  if (budget.kind === 'attempt_held') return settleHeld(ctx, r.key);
  if (budget.kind === 'kf_full') {
    // The window's 5 messages are used (by nurture or earlier replies): nothing may go until the customer writes again.
    await record(ctx, r, { status: 'skipped', reason: 'window_full' }, null, null, at);
    return 'window_full';
  }
  if (budget.kind !== 'ok' || budget.via !== 'kf') return 'failed';
  const message = buildReply(ctx, r.reply, r.lead, r.key, caseSlug);
  const msgid = kfMsgid(r.key);
  try {
    await ctx.wecom.kfSendMsg({ touser: r.lead.externalUserId, open_kfid: r.openKfid, msgid, ...message });
  } catch (err) {
    if (!(err instanceof WecomApiError)) throw err;
    if (err.ambiguous) {
      await record(ctx, r, { status: 'unknown', reason: `ambiguous: ${err.errmsg}` }, message, caseSlug, at);
      return 'unknown';
    }
    await releaseRefusedKf(ctx, r.key, budget.held, { errcode: err.errcode, lead: r.lead._id, windowStart: r.windowStart });
    const reason = err.errcode === 95018 ? 'person_serves' : err.errcode === 95001 ? 'window_full' : err.errcode === 95002 ? 'window_closed' : err.errmsg;
    await record(ctx, r, { status: 'failed', errcode: err.errcode, reason }, message, caseSlug, at);
    return err.errcode === 95018 ? 'person_serves' : err.errcode === 95001 ? 'window_full' : err.errcode === 95002 ? 'window_closed' : 'failed';
  }
  await record(ctx, r, { status: 'sent', msgid, sentAt: new Date() }, message, caseSlug, at);
  if (caseSlug) await noteCaseTaken(ctx, r.lead._id, caseSlug);
  ctx.log.info({ externalUserId: r.lead.externalUserId, intent: r.intent ?? 'fallback' }, 'kf reply sent');
  return 'sent';
}

/** How long a lead's known cases are kept after the last one noted. */
const CASES_TAKEN_TTL_S = 30 * 86_400;

/**
 * Notes a case study this lead's fence holds (sent, or found taken): a hint, so a later reply does not try it again.
 * A hint lost costs a later reply a few extra tries; a fence given back after being noted (its send failed) only
 * means a reply goes without that case study.
 */
async function noteCaseTaken(ctx: Ctx, lead: string, slug: string): Promise<void> {
  const key = ctx.keys.casesTaken(lead);
  await Promise.all([ctx.redis.sadd(key, slug), ctx.redis.expire(key, CASES_TAKEN_TTL_S)]);
}

/** An earlier run of this reply got as far as calling WeCom: its outcome stands (none: it died mid-call, `unknown`). */
async function settleHeld(ctx: Ctx, key: string): Promise<ReplyResult> {
  const queued = (await ctx.queues.get('records').getJob(jobIds.record(key)))?.data as Outcome | undefined;
  const status = queued?.delivery?.status ?? (await deliveryOf(key))?.status;
  return status ? 'done_before' : 'unknown';
}

async function record(
  ctx: Ctx,
  r: Omit<ReplyRequest, 'outcomes'> & { outcomes?: RunOutcomes },
  o: { status: DeliveryStatus; reason?: string; errcode?: number; msgid?: string; sentAt?: Date },
  message: KfOutboundMessage | null,
  caseSlug: string | null,
  at: Date,
  as: { kind: 'kf_reply' | 'kf_welcome'; via: 'kf' | 'welcome' } = { kind: 'kf_reply', via: 'kf' },
): Promise<void> {
  const outcome: Outcome = {
    delivery: {
      key: r.key,
      kind: as.kind,
      corpId: r.lead.corpId,
      externalUserId: r.lead.externalUserId,
      userId: r.openKfid,
      status: o.status,
      via: as.via,
      attempts: 1,
      errcode: o.errcode ?? null,
      reason: o.reason ?? null,
      content: message ? { text: messageText(message), msgtype: message.msgtype, intent: r.intent } : { intent: r.intent },
      sentAt: o.sentAt ?? null,
      caseSlug,
      msgid: o.msgid ?? null,
    },
    step: { type: `${as.kind}_${o.status}`, detail: { intent: r.intent, ...(o.reason ? { reason: o.reason } : {}), ...(message ? { text: messageText(message).slice(0, 300) } : {}) }, at },
  };
  // A reply's outcome goes with its run; a welcome's (no run) through the records queue.
  if (r.outcomes) r.outcomes.add(outcome);
  else await ctx.queues.add('records', outcome, { jobId: jobIds.record(r.key) });
}

/** The kf welcome is not one of the window's 5 messages (its own code [D:95122]). */
const WELCOME = { kind: 'kf_welcome' as const, via: 'welcome' as const };

/**
 * The channel's 微信客服 welcome with enter_session's welcome_code (kf/send_msg_on_event [D:95122]): one message, within
 * 20 s of the event, once (the attempt fence; the code is single-use too). Past the deadline nothing is sent.
 */
export async function sendKfWelcome(ctx: Ctx, w: { lead: ReplyLead; openKfid: string; key: string; code: string; reply: Reply; deadline: number }): Promise<string> {
  const at = new Date();
  const base = { lead: w.lead, openKfid: w.openKfid, key: w.key, reply: w.reply, intent: 'welcome', windowStart: 0 };
  if (Date.now() > w.deadline) {
    await record(ctx, base, { status: 'expired', reason: 'welcome_code_expired' }, null, null, at, WELCOME);
    return 'expired';
  }
  if (!(await takeFence({ id: attemptFenceId(w.key, 1), kind: 'attempt', for: w.key }))) return settleHeld(ctx, w.key);
  // A welcome sends no case study (no fence for it); its text and menu only.
  const message = buildReply(ctx, { ...w.reply, caseStudy: undefined }, w.lead, w.key, null);
  const msgid = kfMsgid(w.key);
  try {
    await ctx.wecom.kfSendMsgOnEvent({ code: w.code, msgid, ...message }, { timeoutMs: Math.max(500, Math.min(5_000, w.deadline - Date.now())) });
  } catch (err) {
    if (!(err instanceof WecomApiError)) throw err;
    const status = err.ambiguous ? 'unknown' : 'failed';
    await record(ctx, base, { status, errcode: err.errcode || undefined, reason: err.errmsg }, message, null, at, WELCOME);
    return status;
  }
  await record(ctx, base, { status: 'sent', msgid, sentAt: new Date() }, message, null, at, WELCOME);
  return 'sent';
}
