import { beforeEach, describe, expect, it } from 'vitest';
import { timelineWords, type WordBook } from '../../src/domain/leads/timeline-words.js';
import { EVENT_TYPES, TIMELINE_TYPES, type EventType } from '../../src/store/timeline-types.js';

// The dashboard's words are a browser module: it reads the chosen language from localStorage.
const stored = new Map<string, string>();
Object.assign(globalThis, { localStorage: { getItem: (k: string) => stored.get(k) ?? null, setItem: (k: string, v: string) => stored.set(k, v) } });
const { timelineLabel } = (await import(new URL('../../src/http/admin/dashboard/i18n.js', import.meta.url).href)) as { timelineLabel: (type: string) => string };

const book: WordBook = {
  channel: (k) => ({ expo2026: '2026 工业展' })[k],
  sequence: (k) => ({ onboarding: '新客培育' })[k],
  campaign: () => undefined,
  intentClass: () => undefined,
  caseTitle: () => undefined,
};

/** Each event type with the detail the bot writes for it. */
const DETAILS = {
  added: { channel: 'expo2026', state: 'expo2026', owner: 'zhangsan' },
  added_half: { channel: 'expo2026', state: 'expo2026', owner: 'zhangsan' },
  churned: { owner: 'zhangsan', lost: true, knownLead: true },
  removed_by_owner: { owner: 'zhangsan', source: 'DELETE_BY_TRANSFER' },
  transfer_failed: { takeover: 'lisi', reason: 'customer_refused' },
  profile_synced: { name: '王经理', industry: '制造业', tags: 3 },
  profile_failed: { errcode: 84061, reason: 'not external contact' },
  tags_marked: { channel: 'expo2026', tags: ['渠道/2026 工业展'] },
  tags_failed: { errcode: 40068, reason: 'invalid tagid' },
  tags_changed: { added: ['行业/制造业'], removed: ['行业/零售'], owners: ['zhangsan'], actor: 'lisi' },
  stage_changed: { from: 'engaged', to: 'qualified', by: 'system', source: 'intent', actor: null, reason: null },
  grade_pinned: { grade: 'B', pinned: 'A', actor: 'lisi', reason: '大客户' },
  grade_unpinned: { grade: 'B', pinned: null, actor: 'lisi', reason: null },
  link_clicked: { url: 'https://example.com/demo', delivery: 'd1', caseSlug: null },
  paused: { by: 'lisi', reason: '客户要求' },
  resumed: { by: 'lisi' },
  enrolled: { sequence: 'onboarding', firstStepDue: new Date() },
  enroll_skipped: { sequence: 'onboarding', reason: 'owner_removed' },
  enrollment_stopped: { sequence: 'onboarding', reason: 'reply', atStep: 1 },
  enrollment_owner_changed: { from: 'zhangsan', to: 'lisi' },
  kf_arrived: { channel: 'expo2026', scene: 'expo2026', sceneParam: null, openKfid: 'wkAAA' },
  kf_entered: { scene: 'expo2026', sceneParam: null, channel: 'expo2026', welcomeCode: true },
  kf_message: { text: '报价多少', intent: null, openKfid: 'wkAAA', newSession: false },
  kf_servicer_replied: { servicer: 'lisi', openKfid: 'wkAAA', text: '您好' },
  kf_handed_off: { state: 3, servicer: 'lisi' },
  kf_handoff_failed: { reason: 'no servicer on duty' },
  kf_send_failed: { delivery: 'kf-reply|wkAAA|m1', failMsgid: 'm1', failType: 4, reason: 'window_expired' },
  kf_session_changed: { changeType: 2, from: 'lisi', to: 'wangwu' },
  kf_user_recall_msg: { event_type: 'user_recall_msg', open_kfid: 'wkAAA', external_userid: 'wmX', recall_msgid: 'm9' },
  kf_servicer_recall_msg: { event_type: 'servicer_recall_msg', open_kfid: 'wkAAA', external_userid: 'wmX', recall_msgid: 'm9', servicer_userid: 'lisi' },
  kf_reject_customer_msg_switch_change: { event_type: 'reject_customer_msg_switch_change', servicer_userid: 'lisi', external_userid: 'wmX', reject_switch: 1 },
  kf_other_event: { event_type: 'some_new_event', open_kfid: 'wkAAA', external_userid: 'wmX' },
  kf_clock_alert: { level: 1, waitedMinutes: 12, targetSeconds: 600 },
  kf_clock_closed: { reason: 'session_ended', startedAt: new Date(), level: 0, msgid: 'm1' },
  kf_clock_unassigned: { reason: 'no servicer, owner or channel owner to tell' },
} satisfies Record<EventType, Record<string, unknown>>;

/** A word that is an internal key (window_expired, DELETE_BY_TRANSFER, recall_msgid) or an id (wkAAA, wmX, m1). */
const RAW = /\b[a-z]+_[a-z_]+\b|\b[A-Z]+_[A-Z_]+\b|wkAAA|wmX|\bm\d\b/;

describe('every kind of timeline entry reads in words', () => {
  beforeEach(() => stored.clear());

  it('the dashboard names every type the bot records, in each language', () => {
    for (const lang of ['zh', 'en']) {
      stored.set('dashboard.lang', lang);
      const raw = TIMELINE_TYPES.filter((type) => timelineLabel(type) === type || RAW.test(timelineLabel(type)));
      expect(raw, lang).toEqual([]);
    }
    stored.set('dashboard.lang', 'zh');
    expect(timelineLabel('churned')).toBe('客户删除好友');
    expect(timelineLabel('welcome_expired')).toBe('欢迎语：已过期');
  });

  it('the API says what each event was in words, without internal keys or ids', () => {
    for (const type of EVENT_TYPES) {
      const words = timelineWords(type, DETAILS[type], book);
      expect(words, type).not.toBeNull();
      // An event WeCom added later is known by its name only.
      if (type === 'kf_other_event') continue;
      for (const lang of ['zh', 'en'] as const) expect(RAW.test(words![lang]), `${type} ${lang}: ${words![lang]}`).toBe(false);
    }
    expect(timelineWords('kf_other_event', DETAILS.kf_other_event, book)?.zh).toBe('微信客服事件 some_new_event');
    expect(timelineWords('removed_by_owner', DETAILS.removed_by_owner, book)).toEqual({ zh: '负责人 zhangsan，因在职继承转接', en: 'owner zhangsan, in a transfer to a colleague' });
    expect(timelineWords('kf_send_failed', DETAILS.kf_send_failed, book)?.zh).toBe('已超过 48 小时会话时限');
    expect(timelineWords('kf_session_changed', DETAILS.kf_session_changed, book)?.zh).toBe('转接，lisi → wangwu');
    expect(timelineWords('kf_user_recall_msg', DETAILS.kf_user_recall_msg, book)).toEqual({ zh: '', en: '' });
  });

  it('a skipped enrollment says why in words, whichever check refused it (a stage reached, an opt-out, a lead gone)', () => {
    // What enrollLocked and enrollMany record: stageStop's reasons, and their own.
    for (const reason of ['stage:customer', 'stage:qualified', 'churn', 'unsubscribe', 'unsubscribed', 'no_lead', 'no_owner', 'owner_removed']) {
      const words = timelineWords('enroll_skipped', { sequence: 'onboarding', reason }, book)!;
      for (const lang of ['zh', 'en'] as const) expect(words[lang], `${reason} ${lang}`).not.toMatch(/stage:|\b[a-z]+_[a-z_]+\b|\b(churn|unsubscribed?)\b/);
    }
    expect(timelineWords('enroll_skipped', { sequence: 'onboarding', reason: 'stage:customer' }, book)?.zh).toContain('成交');
  });
});
