import type { ApiRoute } from '../area.js';
import { SandboxApiError } from '../errcodes.js';
import { pairKey, randomId } from '../ids.js';
import { isJsonObject, optArray, optNumber, optObject, optString, optStringArray, textContent, utf8Length, type Json } from '../json-input.js';
import type { KfArea } from './kf.js';
import { HISTORY_MS, KF_MAX_PER_WINDOW, KF_WINDOW_MS, MOVES, MSGID_RE, WELCOME_CODE_MS, type KfSession } from './kf-model.js';

/** The 微信客服 APIs the sandbox answers, on the state of a KfArea (src/sandbox/areas/kf.ts). */
export function kfRoutes(a: KfArea): Record<string, ApiRoute> {
  return {
    'kf/send_msg': { body: true, run: (_q, b) => sendMsg(a, b) },
    'kf/send_msg_on_event': { body: true, run: (_q, b) => sendMsgOnEvent(a, b) },
    'kf/sync_msg': { body: true, run: (_q, b) => syncMsg(a, b) },
    'kf/service_state/get': { body: true, run: (_q, b) => serviceStateGet(a, b) },
    'kf/service_state/trans': { body: true, run: (_q, b) => serviceStateTrans(a, b) },
    'kf/customer/batchget': { body: true, run: (_q, b) => customerBatchget(a, b) },
    'kf/servicer/list': { body: false, run: (q) => servicerList(a, q) },
    'kf/account/list': { body: true, run: (_q, b) => accountList(a, b) },
    'kf/add_contact_way': { body: true, run: (_q, b) => addContactWay(a, b) },
  };
}


/** POST kf/send_msg -> {msgid}: 95000 bad account, 95002 outside 48 h, 95018 not state 0/1, 95001 over 5 per window. */
function sendMsg(a: KfArea, body: Json): Json {
  const touser = optString(body, 'touser');
  if (!touser) throw new SandboxApiError(40096);
  const openKfid = a.accountOf(body);
  const { msgtype, content } = messageOf(body, ['text', 'msgmenu', 'link']);
  const msgid = ownMsgid(a, openKfid, body);
  const session = a.session(openKfid, touser);
  const now = a.core.now();
  if (!session || session.lastCustomerMsgAt === null || now - session.lastCustomerMsgAt > KF_WINDOW_MS) throw new SandboxApiError(95002);
  // Only a new session or the bot's may be sent to by API [D:94677]; a person's (3), the queue (2) or an ended one not.
  if (session.state !== 0 && session.state !== 1) throw new SandboxApiError(95018);
  if (session.sentInWindow >= KF_MAX_PER_WINDOW) throw new SandboxApiError(95001);
  session.sentInWindow += 1;
  if (session.state === 0) session.state = 1;
  a.usedMsgids.add(pairKey(openKfid, msgid));
  a.sent.push({ msgid, touser, openKfid, msgtype, content, body, at: now, via: 'send_msg' });
  return { msgid };
}

/** POST kf/send_msg_on_event -> {msgid}: one message per code, within its validity (a welcome_code: 20 s). */
function sendMsgOnEvent(a: KfArea, body: Json): Json {
  const codeText = optString(body, 'code');
  // UNCONFIRMED: the errcodes of a missing, unknown, used or expired code; 40058 (invalid parameter) stands in.
  if (!codeText) throw new SandboxApiError(40058, 'code is required');
  const code = a.codes.get(codeText);
  if (!code) throw new SandboxApiError(40058, 'invalid code');
  if (code.used) throw new SandboxApiError(40058, 'code already used');
  if (a.core.now() > code.expiresAt) throw new SandboxApiError(40058, 'code expired');
  const { msgtype, content } = messageOf(body, code.kind === 'welcome' || code.kind === 'end' ? ['text', 'msgmenu'] : ['text']);
  const msgid = ownMsgid(a, code.openKfid, body);
  code.used = true;
  const s = a.session(code.openKfid, code.externalUserId);
  if (code.kind === 'welcome') {
    if (s) s.lastWelcomeAt = a.core.now();
    else a.sessions.set(pairKey(code.openKfid, code.externalUserId), { state: 4, servicer: null, startedAt: a.core.now(), lastCustomerMsgAt: null, sentInWindow: 0, lastWelcomeAt: a.core.now() });
  }
  a.usedMsgids.add(pairKey(code.openKfid, msgid));
  a.sent.push({ msgid, touser: code.externalUserId, openKfid: code.openKfid, msgtype, content, body, at: a.core.now(), via: code.kind === 'welcome' ? 'welcome' : 'event' });
  return { msgid };
}

/**
 * POST kf/sync_msg -> {next_cursor, has_more (0|1), msg_list}: open_kfid required; the token must be a live one of
 * this account (10 min; else 95007); without a token only a few calls a minute (45009); the last 3 days only.
 * Messages sent through the API are not returned [D:94670].
 */
function syncMsg(a: KfArea, body: Json): Json {
  const openKfid = a.accountOf(body);
  const token = optString(body, 'token');
  const now = a.core.now();
  if (token !== undefined) {
    if (utf8Length(token) > 128) throw new SandboxApiError(40058, 'token exceeds 128 bytes');
    const t = a.tokens.get(token);
    if (!t || t.openKfid !== openKfid || now > t.expiresAt) throw new SandboxApiError(95007);
  } else {
    const calls = (a.noTokenCalls.get(openKfid) ?? []).filter((at) => now - at < 60_000);
    if (calls.length >= a.noTokenPerMinute) throw new SandboxApiError(45009, 'sync_msg without a token is limited');
    calls.push(now);
    a.noTokenCalls.set(openKfid, calls);
  }
  const limit = optNumber(body, 'limit') ?? 1000;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new SandboxApiError(40058, 'limit must be 1 to 1000');
  const cursor = optString(body, 'cursor');
  if (cursor !== undefined && utf8Length(cursor) > 64) throw new SandboxApiError(40058, 'cursor exceeds 64 bytes');
  let after = -1;
  if (cursor !== undefined) {
    const m = /^c([0-9]+)$/.exec(cursor);
    // UNCONFIRMED: the errcode of a cursor WeCom did not issue.
    if (!m) throw new SandboxApiError(40058, 'invalid cursor');
    after = Number(m[1]);
  }
  const log = (a.logs.get(openKfid) ?? []).filter((e) => e.seq > after && now - e.at <= HISTORY_MS);
  const empty = a.emptyPages.get(openKfid) ?? 0;
  if (log.length && empty > 0) {
    a.emptyPages.set(openKfid, empty - 1);
    // The cursor it was given back (c0, the start, when it had none: "c-1" would be refused on the next call).
    return { next_cursor: `c${Math.max(after, 0)}`, has_more: 1, msg_list: [] };
  }
  const page = log.slice(0, limit);
  const last = page.length ? page[page.length - 1]!.seq : after;
  return { next_cursor: `c${Math.max(last, 0)}`, has_more: log.length > limit ? 1 : 0, msg_list: page.map((e) => e.msg) };
}

/** POST kf/service_state/get -> {service_state, servicer_userid (state 3 only)} [D:94669]. */
function serviceStateGet(a: KfArea, body: Json): Json {
  const openKfid = a.accountOf(body);
  const ext = optString(body, 'external_userid');
  if (!ext) throw new SandboxApiError(41035);
  const s = a.session(openKfid, ext);
  const state = s ? a.currentState(s) : 4;
  return { service_state: state, ...(state === 3 && s?.servicer ? { servicer_userid: s.servicer } : {}) };
}

/**
 * POST kf/service_state/trans -> {msg_code?}: only the moves of [D:94669] (else 95016, UNCONFIRMED code); state 3 needs
 * a servicer of the account who is on duty (95014). A msg_code comes back on the first move to 2 or 3 and on 4.
 */
function serviceStateTrans(a: KfArea, body: Json): Json {
  const openKfid = a.accountOf(body);
  const ext = optString(body, 'external_userid');
  if (!ext) throw new SandboxApiError(41035);
  const to = optNumber(body, 'service_state');
  if (to === undefined || ![0, 1, 2, 3, 4].includes(to)) throw new SandboxApiError(40058, 'invalid service_state');
  const s = a.session(openKfid, ext);
  const from = s ? a.currentState(s) : 4;
  if (!s || !MOVES[from]!.includes(to)) throw new SandboxApiError(95016, `cannot move from ${from} to ${to}`);
  let servicer: string | null = null;
  if (to === 3) {
    servicer = optString(body, 'servicer_userid') ?? null;
    if (!servicer) throw new SandboxApiError(40058, 'servicer_userid is required for state 3');
    if (a.account(openKfid).servicers.get(servicer)?.status !== 0) throw new SandboxApiError(95014);
  }
  s.state = to as KfSession['state'];
  s.servicer = servicer;
  a.transfers.push({ openKfid, externalUserId: ext, from, to, servicer, at: a.core.now() });
  const kind = to === 2 ? 'queue' : to === 3 ? 'pick' : to === 4 ? 'end' : null;
  const msgCode = kind && from !== to ? a.issueCode(kind, openKfid, ext, kind === 'end' ? WELCOME_CODE_MS : KF_WINDOW_MS) : undefined;
  return msgCode ? { msg_code: msgCode } : {};
}

/** POST kf/customer/batchget -> {customer_list, invalid_external_userid} [D:95159]: 1 to 100 ids. */
function customerBatchget(a: KfArea, body: Json): Json {
  const ids = optStringArray(body, 'external_userid_list');
  if (!ids?.length) throw new SandboxApiError(41035);
  if (ids.length > 100) throw new SandboxApiError(40058, 'at most 100 external_userid');
  const withContext = optNumber(body, 'need_enter_session_context') === 1;
  const list: Json[] = [];
  const invalid: string[] = [];
  const now = a.core.now();
  for (const id of ids) {
    const c = a.customers.get(id);
    if (!c) {
      invalid.push(id);
      continue;
    }
    const recent = c.enteredAt !== undefined && now - c.enteredAt < KF_WINDOW_MS;
    list.push({
      external_userid: id,
      nickname: c.nickname,
      avatar: `https://wx.qlogo.cn/sandbox/${id}.png`,
      gender: 0,
      ...(c.unionid ? { unionid: c.unionid } : {}),
      ...(withContext ? { enter_session_context: recent ? { scene: c.scene ?? '', scene_param: c.sceneParam ?? '' } : {} } : {}),
    });
  }
  return { customer_list: list, invalid_external_userid: invalid };
}

/** GET kf/servicer/list?open_kfid= -> {servicer_list: [{userid, status, stop_type}]}. */
function servicerList(a: KfArea, query: Record<string, string>): Json {
  const openKfid = query.open_kfid;
  if (!openKfid || (!a.open && !a.accounts.has(openKfid))) throw new SandboxApiError(95000);
  return { servicer_list: [...a.account(openKfid).servicers].map(([userid, s]) => ({ userid, status: s.status, ...(s.status === 1 ? { stop_type: 0 } : {}) })) };
}

/** POST kf/account/list -> {account_list} (offset, limit 1–100). */
function accountList(a: KfArea, body: Json): Json {
  const offset = optNumber(body, 'offset') ?? 0;
  const limit = optNumber(body, 'limit') ?? 100;
  if (limit < 1 || limit > 100) throw new SandboxApiError(40058, 'limit must be 1 to 100');
  const list = [...a.accounts.values()].slice(offset, offset + limit);
  return { account_list: list.map((a) => ({ open_kfid: a.openKfid, name: a.name, avatar: `https://wework.qpic.cn/sandbox/kf/${a.openKfid}.png`, manage_privilege: true })) };
}

/** POST kf/add_contact_way -> {url}; scene ≤ 32 bytes of [0-9a-zA-Z_-] [D:94665]. */
function addContactWay(a: KfArea, body: Json): Json {
  const openKfid = a.accountOf(body);
  const scene = optString(body, 'scene');
  if (scene !== undefined && !MSGID_RE.test(scene)) throw new SandboxApiError(40058, 'scene must be at most 32 bytes of [0-9a-zA-Z_-]');
  return { url: `https://work.weixin.qq.com/kfid/${openKfid}${scene ? `?enc_scene=${encodeURIComponent(Buffer.from(scene).toString('base64url'))}` : ''}` };
}



/** Our own msgid, if given: ≤ 32 bytes of [0-9a-zA-Z_-] and unused on this account (40058 otherwise [D:94677]). */
function ownMsgid(a: KfArea, openKfid: string, body: Json): string {
  const msgid = optString(body, 'msgid');
  if (msgid === undefined) return randomId('', 32);
  if (!MSGID_RE.test(msgid)) throw new SandboxApiError(40058, 'msgid exceed max length or invalid');
  // UNCONFIRMED: the errcode of a msgid used before on the account.
  if (a.usedMsgids.has(pairKey(openKfid, msgid))) throw new SandboxApiError(40058, 'msgid already used');
  return msgid;
}

/** The message of a send: text ≤ 2048 bytes, a menu (head and tail ≤ 1024 bytes), or a link card. */
function messageOf(body: Json, allowed: string[]): { msgtype: string; content: string | undefined } {
  const msgtype = optString(body, 'msgtype');
  if (!msgtype || !allowed.includes(msgtype)) throw new SandboxApiError(40008);
  if (msgtype === 'text') {
    const content = textContent(body);
    if (!content) throw new SandboxApiError(44004);
    // UNCONFIRMED: the errcode for text over 2048 bytes.
    if (utf8Length(content) > 2048) throw new SandboxApiError(40058, 'text.content exceeds 2048 bytes');
    return { msgtype, content };
  }
  if (msgtype === 'msgmenu') {
    const menu = optObject(body, 'msgmenu');
    if (!menu) throw new SandboxApiError(40058, 'msgmenu is required');
    const head = optString(menu, 'head_content') ?? '';
    const tail = optString(menu, 'tail_content') ?? '';
    if (utf8Length(head) > 1024 || utf8Length(tail) > 1024) throw new SandboxApiError(40058, 'head_content and tail_content are at most 1024 bytes');
    const items = optArray(menu, 'list') ?? [];
    const lines = items.map((it) => {
      if (!isJsonObject(it) || typeof it.type !== 'string' || !isJsonObject(it[it.type])) throw new SandboxApiError(40058, 'invalid msgmenu item');
      const item = it[it.type] as Json;
      return `[${String(item.content ?? '')}]`;
    });
    return { msgtype, content: [head, ...lines, tail].filter(Boolean).join('\n') };
  }
  const link = optObject(body, 'link');
  if (!link || !optString(link, 'title') || !optString(link, 'url') || !optString(link, 'thumb_media_id')) throw new SandboxApiError(40058, 'link needs title, url and thumb_media_id');
  return { msgtype, content: `${optString(link, 'title')} ${optString(link, 'url')}` };
}
