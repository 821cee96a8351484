/**
 * A lead's timeline entries and deliveries in words, in each language, as the dashboard shows them: a customer
 * message's intent by its name, a stage move as "已互动 → 合格，系统（客服意向）", a skipped welcome by why, a delivery
 * by its kind and its case study's title. Internal ids (a 客服 account, a run, a msgid) are left out: they stay in
 * the entry's `detail`.
 */
import { INTENT_CLASS_NAMES, INTENT_CLASS_NAMES_EN, type IntentClass } from '../../content/replies.js';
import type { Lang } from '../commands/command.js';
import { stageName, stopReasonName } from '../commands/words.js';

export interface Words {
  zh: string;
  en: string;
}

/** What the words are looked up in: the bot's templates (names of channels, sequences, campaigns, intents, cases). */
export interface WordBook {
  channel(key: string): string | undefined;
  sequence(key: string): string | undefined;
  campaign(key: string): string | undefined;
  /** An intent's class (templates/replies.yaml). */
  intentClass(key: string): IntentClass | undefined;
  caseTitle(slug: string): string | undefined;
}

type Detail = Record<string, unknown>;
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : null);
/** Both languages of one text built per language. */
const both = (f: (lang: Lang) => string | null): Words | null => {
  const zh = f('zh');
  const en = f('en');
  return zh && en ? { zh, en } : null;
};
const join = (lang: Lang, parts: Array<string | null | undefined | false>) => parts.filter(Boolean).join(lang === 'zh' ? '，' : ', ') || null;
const quoted = (lang: Lang, s: string) => (lang === 'zh' ? `「${s}」` : `“${s}”`);
/** A text a person wrote, shortened. */
const said = (v: unknown) => {
  const s = str(v);
  if (!s) return null;
  return `“${s.length > 120 ? `${s.slice(0, 120)}…` : s}”`;
};

/** An intent (its key) as staff read it: its class's name, and its own key when it is not the class's. */
export function intentName(key: string, lang: Lang, book: WordBook): string {
  const cls = book.intentClass(key);
  if (!cls) return key;
  const name = lang === 'zh' ? INTENT_CLASS_NAMES[cls] : INTENT_CLASS_NAMES_EN[cls];
  return key === cls ? name : `${name} ${key}`;
}

const named = (lang: Lang, key: unknown, name: (k: string) => string | undefined, zhWhat: string, enWhat: string) => {
  const k = str(key);
  if (!k) return null;
  const n = name(k) ?? k;
  return lang === 'zh' ? `${zhWhat}${quoted(lang, n)}` : `${enWhat} ${quoted(lang, n)}`;
};

const VIA: Record<string, Words> = {
  welcome: { zh: '欢迎语', en: 'welcome message' },
  kf: { zh: '微信客服', en: '微信客服' },
  mass: { zh: '负责人群发', en: 'owner\'s mass message' },
  owner: { zh: '提醒负责人手动发', en: 'owner reminded to send it' },
};
const via = (lang: Lang, v: unknown) => {
  const k = str(v);
  if (!k) return null;
  const w = VIA[k];
  return w ? (lang === 'zh' ? `经${w.zh}` : `via ${w.en}`) : k;
};

/** Why something was not sent, or failed, as ops read it; an unknown reason (WeCom's errmsg, …) as it is. */
const REASONS: Record<string, Words> = {
  no_welcome_code: { zh: '企业微信没给欢迎语发送码（后台已配置欢迎语，或无需发送），不由机器人发', en: 'WeCom gave no welcome code (a welcome set in the admin console, or none due): not the bot\'s to send' },
  chat_already_started: { zh: '客户和员工已经开始聊天，不能再发欢迎语', en: 'the chat had already started' },
  deadline_passed_before_send: { zh: '超过 20 秒时限，未发送', en: 'past the 20-second window, not sent' },
  not_sent_within_window: { zh: '20 秒内没能发出', en: 'not sent within the 20 seconds' },
  no_clear_answer_within_window: { zh: '时限内没有明确答复，可能已发出', en: 'no clear answer within the window: it may have gone out' },
  deadline_passed_after_a_call_that_may_have_sent: { zh: '时限已过，之前的一次发送可能已送达', en: 'the window passed after a call that may have sent it' },
  not_a_contact_of_sender: { zh: '客户不是发送人的好友', en: 'not a contact of the sender' },
  owner_removed: { zh: '负责人已删除客户', en: 'the owner removed the customer' },
  'no servicer, owner or channel owner to tell': { zh: '没有接待人员、负责人或渠道负责人可提醒', en: 'no servicer, owner or channel owner to tell' },
  // msg_send_fail's fail_type [D:94670] (src/domain/kf/events.ts)
  account_deleted: { zh: '客服账号已删除', en: 'the 客服 account was deleted' },
  app_closed: { zh: '应用已关闭', en: 'the app was closed' },
  window_expired: { zh: '已超过 48 小时会话时限', en: 'the 48-hour window had passed' },
  session_closed: { zh: '会话已结束', en: 'the session had ended' },
  over_5_messages: { zh: '本次会话已发满 5 条', en: 'the window\'s 5 messages were used' },
  no_channels_bound: { zh: '客服账号没有绑定视频号等渠道', en: 'no channel is bound to the 客服 account' },
  subject_unverified: { zh: '企业主体未验证', en: 'the company is not verified' },
  no_channels_bound_and_subject_unverified: { zh: '客服账号未绑定渠道，且企业主体未验证', en: 'no channel bound and the company not verified' },
  rejected_by_customer: { zh: '客户拒收', en: 'the customer refused messages' },
  // transfer_fail's FailReason [D:92130]
  customer_refused: { zh: '客户拒绝转接', en: 'the customer refused the transfer' },
  customer_limit_exceed: { zh: '接替成员的客户数已达上限', en: 'the new owner has reached the customer limit' },
  // A 客服 service clock that ended without a person's reply (src/domain/kf/session.ts)
  session_ended: { zh: '会话结束，没有人工回复', en: 'the session ended without a person\'s reply' },
  new_session: { zh: '客户开始了新的会话', en: 'the customer began a new session' },
};
const reasonWords = (lang: Lang, v: unknown, book: WordBook, channel?: unknown) => {
  const r = str(v);
  if (!r) return null;
  const ch = str(channel);
  const chName = ch ? (book.channel(ch) ?? ch) : null;
  if (r === 'channel_has_no_welcome') return lang === 'zh' ? `渠道${quoted(lang, chName ?? '?')}没有设置欢迎语` : `channel ${quoted(lang, chName ?? '?')} has no welcome`;
  if (r === 'channel_has_no_kf_welcome') return lang === 'zh' ? `渠道${quoted(lang, chName ?? '?')}没有设置客服欢迎语` : `channel ${quoted(lang, chName ?? '?')} has no 客服 welcome`;
  return REASONS[r]?.[lang] ?? r;
};

/** What moved a stage (StageCause.source). */
const SOURCES: Record<string, Words> = {
  click: { zh: '点击链接', en: 'a link click' },
  reply: { zh: '客户回复', en: 'a reply' },
  intent: { zh: '客服意向', en: 'a 客服 intent' },
  churn: { zh: '客户删除好友', en: 'the customer removed us' },
  return: { zh: '流失后重新添加', en: 'added us again' },
  unsubscribe: { zh: '客户退订', en: 'opted out' },
  resubscribe: { zh: '客户重新订阅', en: 'subscribed again' },
  command: { zh: '群聊命令', en: 'a chat command' },
  api: { zh: '运营看板 / 管理 API', en: 'the dashboard / admin API' },
};

/** session_status_change's change_type [D:94670]. */
const SESSION_CHANGES: Record<number, Words> = {
  1: { zh: '从待接入池接入', en: 'picked from the queue' },
  2: { zh: '转接', en: 'passed on' },
  3: { zh: '结束会话', en: 'ended' },
  4: { zh: '重新接入', en: 're-opened' },
};

/** Words for an entry whose type says it all (a recalled message: what it said is gone). */
const NOTHING_MORE: Words = { zh: '', en: '' };

const stepNo = (lang: Lang, v: unknown) => (typeof v === 'number' ? (lang === 'zh' ? `第 ${v + 1} 步` : `step ${v + 1}`) : null);

/** A stage move: "已互动 → 合格，系统（客服意向）" / "engaged → qualified, by the system (a 客服 intent)". */
function stageMove(lang: Lang, d: Detail): string | null {
  const from = str(d.from);
  const to = str(d.to);
  if (!from || !to) return null;
  const source = str(d.source);
  const cause = source ? (SOURCES[source]?.[lang] ?? source) : null;
  const actor = str(d.actor);
  const who = d.by === 'system' ? (lang === 'zh' ? '系统' : 'by the system') : actor ? (lang === 'zh' ? actor : `by ${actor}`) : lang === 'zh' ? '员工' : 'by staff';
  const reason = str(d.reason);
  const head = `${stageName(from, lang)} → ${stageName(to, lang)}${lang === 'zh' ? '，' : ', '}${who}${cause ? (lang === 'zh' ? `（${cause}）` : ` (${cause})`) : ''}`;
  return reason ? `${head}${lang === 'zh' ? '：' : ': '}${reason}` : head;
}

/** One timeline entry's detail in words, in each language; null for a type without words (the dashboard shows its detail). */
export function timelineWords(type: string, d: Detail, book: WordBook): Words | null {
  const intent = (lang: Lang) => {
    const k = str(d.intent);
    return k ? (lang === 'zh' ? `意向：${intentName(k, lang, book)}` : `intent: ${intentName(k, lang, book)}`) : null;
  };
  const channel = (lang: Lang) => named(lang, d.channel, (k) => book.channel(k), '渠道', 'channel');
  const sequence = (lang: Lang) => named(lang, d.sequence, (k) => book.sequence(k), '序列', 'sequence');
  const reason = (lang: Lang) => reasonWords(lang, d.reason, book, d.channel);
  switch (type) {
    case 'added':
    case 'added_half':
      return both((l) => join(l, [channel(l), str(d.owner) && (l === 'zh' ? `负责人 ${str(d.owner)}` : `owner ${str(d.owner)}`)]));
    case 'welcome_skipped':
    case 'kf_welcome_skipped':
    case 'welcome_failed':
    case 'welcome_expired':
    case 'welcome_unknown':
    case 'profile_failed':
    case 'tags_failed':
      return both((l) => reason(l));
    case 'welcome_sent':
      return both((l) => join(l, [channel(l), str(d.by) && (l === 'zh' ? `由 ${str(d.by)} 发送` : `sent by ${str(d.by)}`)]));
    case 'tags_marked':
      return both((l) => (Array.isArray(d.tags) ? (d.tags.length ? d.tags.join(l === 'zh' ? '、' : ', ') : l === 'zh' ? '渠道没有标签' : 'the channel has no tags') : null));
    case 'kf_message':
      return both((l) => join(l, [said(d.text), intent(l)]));
    case 'kf_reply_sent':
    case 'kf_reply_failed':
    case 'kf_reply_skipped':
    case 'kf_reply_unknown':
    case 'kf_welcome_sent':
    case 'kf_welcome_failed':
      return both((l) => join(l, [intent(l), said(d.text), str(d.reason) && reason(l)]));
    case 'kf_servicer_replied':
      return both((l) => join(l, [str(d.servicer), said(d.text)]));
    case 'kf_arrived':
    case 'kf_entered':
      return both((l) => channel(l));
    case 'kf_handed_off':
      return both((l) => (str(d.servicer) ? (l === 'zh' ? `接待人员 ${str(d.servicer)}` : `servicer ${str(d.servicer)}`) : null));
    case 'kf_handoff_failed':
      return both((l) => str(d.reason));
    case 'kf_clock_alert':
      return both((l) => (typeof d.waitedMinutes === 'number' ? (l === 'zh' ? `已等待 ${d.waitedMinutes} 分钟` : `waited ${d.waitedMinutes} min`) : null));
    case 'kf_clock_unassigned':
      return both((l) => reason(l));
    case 'stage_changed':
      return both((l) => stageMove(l, d));
    case 'enrolled':
      return both((l) => sequence(l));
    case 'enroll_skipped':
      // Refused by what would end the enrollment at once (a stage, an opt-out) or by enroll's own checks: one table.
      return both((l) => join(l, [sequence(l), str(d.reason) && stopReasonName(str(d.reason)!, l)]));
    case 'enrollment_stopped':
      return both((l) => join(l, [sequence(l), str(d.reason) && stopReasonName(str(d.reason)!, l)]));
    case 'enrollment_owner_changed':
      return both((l) => (str(d.from) && str(d.to) ? `${str(d.from)} → ${str(d.to)}` : null));
    case 'link_clicked': {
      const slug = str(d.caseSlug);
      const title = slug ? (book.caseTitle(slug) ?? slug) : null;
      return both((l) => (title ? (l === 'zh' ? `案例${quoted(l, title)}` : `case study ${quoted(l, title)}`) : str(d.url)));
    }
    case 'grade_pinned':
    case 'grade_unpinned':
      return both((l) => join(l, [str(d.pinned) ?? str(d.grade), str(d.actor), str(d.reason)]));
    case 'paused':
    case 'resumed':
      return both((l) => join(l, [str(d.by), str(d.reason)]));
    case 'churned':
      return both((l) => join(l, [str(d.owner) && (l === 'zh' ? `负责人 ${str(d.owner)}` : `owner ${str(d.owner)}`), d.lost === true && (l === 'zh' ? '线索记为流失' : 'the lead is lost')]));
    case 'removed_by_owner':
      return both((l) => join(l, [str(d.owner) && (l === 'zh' ? `负责人 ${str(d.owner)}` : `owner ${str(d.owner)}`), d.source === 'DELETE_BY_TRANSFER' && (l === 'zh' ? '因在职继承转接' : 'in a transfer to a colleague')]));
    case 'transfer_failed':
      return both((l) => join(l, [str(d.takeover) && (l === 'zh' ? `接替成员 ${str(d.takeover)}` : `new owner ${str(d.takeover)}`), reason(l)]));
    case 'tags_changed': {
      const list = (v: unknown, l: Lang) => (Array.isArray(v) && v.length ? v.join(l === 'zh' ? '、' : ', ') : null);
      return both((l) => join(l, [
        list(d.added, l) && (l === 'zh' ? `加上 ${list(d.added, l)}` : `added ${list(d.added, l)}`),
        list(d.removed, l) && (l === 'zh' ? `去掉 ${list(d.removed, l)}` : `removed ${list(d.removed, l)}`),
        str(d.actor) && (l === 'zh' ? `由 ${str(d.actor)}` : `by ${str(d.actor)}`),
      ]));
    }
    case 'kf_send_failed':
    case 'kf_clock_closed':
      return both((l) => reason(l));
    case 'kf_session_changed': {
      const change = typeof d.changeType === 'number' ? SESSION_CHANGES[d.changeType] : undefined;
      const from = str(d.from);
      const to = str(d.to);
      return both((l) => join(l, [change?.[l], from && to ? `${from} → ${to}` : to ? (l === 'zh' ? `接待人员 ${to}` : `servicer ${to}`) : from && (l === 'zh' ? `原接待人员 ${from}` : `was ${from}`)]));
    }
    case 'kf_user_recall_msg':
    case 'kf_servicer_recall_msg':
      return NOTHING_MORE;
    case 'kf_reject_customer_msg_switch_change': {
      const who = str(d.servicer_userid);
      return both((l) => (d.reject_switch === 1 ? (l === 'zh' ? `${who ?? '接待人员'}拒收这位客户的消息` : `${who ?? 'a servicer'} blocked this customer's messages`) : l === 'zh' ? `${who ?? '接待人员'}恢复接收这位客户的消息` : `${who ?? 'a servicer'} unblocked this customer's messages`));
    }
    case 'kf_other_event':
      return both((l) => (str(d.event_type) ? (l === 'zh' ? `微信客服事件 ${str(d.event_type)}` : `微信客服 event ${str(d.event_type)}`) : null));
    case 'profile_synced':
      return both((l) => join(l, [str(d.name), str(d.industry) && (l === 'zh' ? `行业 ${str(d.industry)}` : `industry ${str(d.industry)}`)]));
    default:
      break;
  }
  // What was sent and what became of it: nurture_sent, campaign_failed, mass_unconfirmed, …
  if (/^nurture_[a-z]+$/.test(type)) return both((l) => join(l, [sequence(l), stepNo(l, d.step), via(l, d.via), str(d.reason) && reason(l)]));
  if (/^campaign_[a-z]+$/.test(type)) return both((l) => join(l, [named(l, d.campaign, (k) => book.campaign(k), '活动', 'campaign'), via(l, d.via), str(d.reason) && reason(l)]));
  if (/^mass_[a-z]+$/.test(type)) return both((l) => (str(d.reason) ? reason(l) : str(d.owner) ? (l === 'zh' ? `负责人 ${str(d.owner)}` : `owner ${str(d.owner)}`) : null));
  return null;
}

/** What each kind of delivery is (the dashboard's tl.send.* words). */
const DELIVERY_KINDS: Record<string, Words> = {
  welcome: { zh: '欢迎语', en: 'Welcome' },
  nurture: { zh: '培育消息', en: 'Nurture message' },
  campaign: { zh: '群发活动消息', en: 'Campaign message' },
  mass: { zh: '负责人的群发任务', en: 'Owner\'s mass message' },
  kf_reply: { zh: '客服自动回复', en: '客服 auto-reply' },
  kf_welcome: { zh: '客服欢迎语', en: '客服 welcome' },
  kf_clock_notice: { zh: '服务时钟超时提醒', en: 'Service clock notice' },
  kf_intent_notice: { zh: '客户意向通知', en: 'Intent notice' },
  grade_upgrade_notice: { zh: '升级通知', en: 'Upgrade notice' },
};

/** Why a delivery was not sent or failed, in words (WeCom's own errmsg as it is); null without a reason. */
export function deliveryReasonWords(reason: string | null | undefined, book: WordBook): Words | null {
  return reason ? { zh: reasonWords('zh', reason, book)!, en: reasonWords('en', reason, book)! } : null;
}

/** A delivery as the lead page lists it: its kind in words, its sequence and step, its intent and the case study's title. */
export function deliveryWords(d: { kind: string; sequence?: string | null; step?: number | null; caseSlug?: string | null; intent?: string | null }, book: WordBook): Words {
  const f = (l: Lang) => {
    const sequence = d.sequence ? quoted(l, book.sequence(d.sequence) ?? d.sequence) : '';
    const kind = `${DELIVERY_KINDS[d.kind]?.[l] ?? d.kind}${sequence ? (l === 'zh' ? sequence : ` ${sequence}`) : ''}`;
    const step = stepNo(l, d.step);
    const intent = d.intent ? intentName(d.intent, l, book) : null;
    const title = d.caseSlug ? (book.caseTitle(d.caseSlug) ?? d.caseSlug) : null;
    const head = `${kind}${step ? `${l === 'zh' && sequence ? '' : ' '}${step}` : ''}${intent ? (l === 'zh' ? `（${intent}）` : ` (${intent})`) : ''}`;
    return title ? `${head}${l === 'zh' ? `：案例${quoted(l, title)}` : `: case study ${quoted(l, title)}`}` : head;
  };
  return { zh: f('zh'), en: f('en') };
}
