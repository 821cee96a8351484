import type { ApiRoute, SandboxArea } from '../area.js';
import type { SandboxCore } from '../core.js';
import { SandboxApiError } from '../errcodes.js';
import { randomId } from '../ids.js';
import { charLength, cursorOffset, optArray, optBool, optNumber, optString, optStringArray, type Json } from '../json-input.js';

/** A 联系我 configuration, stored in WeCom's own shape so get_contact_way can echo it [D:92228]. */
export interface ContactWay {
  config_id: string;
  type: 1 | 2;
  scene: 1 | 2;
  style?: number;
  remark?: string;
  skip_verify: boolean;
  state?: string;
  user: string[];
  party: number[];
  is_temp: boolean;
  expires_in?: number;
  chat_expires_in?: number;
  unionid?: string;
  conclusions?: unknown;
  qr_code?: string;
}

/** 联系我 configurations: a channel's QR code and its `state` [D:92228]. */
export class ContactWaysArea implements SandboxArea {
  /** 联系我 configurations keyed by config_id. */
  readonly ways = new Map<string, ContactWay>();
  /** When each configuration was made (sandbox clock, ms): list_contact_way filters on it. */
  private readonly madeAt = new Map<string, number>();

  constructor(
    private readonly core: SandboxCore,
    /** userids a code may be made for (the corp's members with 客户联系); absent = every userid. */
    private readonly members?: ReadonlySet<string>,
  ) {}

  readonly routes: Record<string, ApiRoute> = {
    'externalcontact/add_contact_way': { body: true, run: (_q, b) => this.apiAddContactWay(b) },
    'externalcontact/update_contact_way': { body: true, run: (_q, b) => this.apiUpdateContactWay(b) },
    'externalcontact/get_contact_way': { body: true, run: (_q, b) => this.apiGetContactWay(b) },
    'externalcontact/del_contact_way': { body: true, run: (_q, b) => this.apiDelContactWay(b) },
    'externalcontact/list_contact_way': { body: true, run: (_q, b) => this.apiListContactWay(b) },
    'externalcontact/get_follow_user_list': { body: false, run: () => this.apiGetFollowUserList() },
  };

  reset(all: boolean): void {
    if (all) {
      this.ways.clear();
      this.madeAt.clear();
    }
  }

  /** Validates the fields add_ and update_contact_way share, writing them into `way`. */
  private applyContactWayFields(way: ContactWay, body: Json): void {
    const state = optString(body, 'state');
    if (state !== undefined && charLength(state) > 30) throw new SandboxApiError(40058, 'state exceeds 30 characters');
    const remark = optString(body, 'remark');
    if (remark !== undefined && charLength(remark) > 30) throw new SandboxApiError(40058, 'remark exceeds 30 characters');
    const user = optStringArray(body, 'user');
    const partyRaw = optArray(body, 'party');
    if (partyRaw && !partyRaw.every((p) => Number.isInteger(p))) throw new SandboxApiError(40058, 'party must be integers');
    const party = partyRaw as number[] | undefined;
    if ((user ?? way.user).length > 100) throw new SandboxApiError(41041);
    const nextUser = user ?? way.user;
    const nextParty = party ?? way.party;
    // UNCONFIRMED: the errcode for a bad member list; 单人 (type 1) takes exactly one user, 多人 at least one user/party.
    if (way.type === 1 && (nextUser.length !== 1 || nextParty.length > 0)) throw new SandboxApiError(40058, 'type 1 takes exactly one user');
    if (way.type === 2 && nextUser.length + nextParty.length === 0) throw new SandboxApiError(40058, 'user or party is required');
    // A userid the corp does not have: 60111 "userid not found" in the global table [D:90313] (the directory's
    // answer). UNCONFIRMED that add_/update_contact_way answer it rather than 40003 (invalid
    // userid); both mean the member is not in the directory, and WeCom's answer does not say which one.
    const unknown = this.members ? nextUser.filter((u) => !this.members?.has(u)) : [];
    if (unknown.length) throw new SandboxApiError(60111, `not a member: ${unknown.join(', ')}`);
    way.user = [...nextUser];
    way.party = [...nextParty];
    if (state !== undefined) way.state = state;
    if (remark !== undefined) way.remark = remark;
    const style = optNumber(body, 'style');
    if (style !== undefined) way.style = style;
    const skipVerify = optBool(body, 'skip_verify');
    if (skipVerify !== undefined) way.skip_verify = skipVerify;
    const expiresIn = optNumber(body, 'expires_in');
    if (expiresIn !== undefined) way.expires_in = expiresIn;
    const chatExpiresIn = optNumber(body, 'chat_expires_in');
    if (chatExpiresIn !== undefined) way.chat_expires_in = chatExpiresIn;
    const unionid = optString(body, 'unionid');
    if (unionid !== undefined) way.unionid = unionid;
    if (body.conclusions !== undefined) way.conclusions = body.conclusions;
  }

  /** POST externalcontact/add_contact_way -> {config_id, qr_code (scene 2 only)}. */
  apiAddContactWay(body: Json): Json {
    const type = optNumber(body, 'type');
    if (type === undefined) throw new SandboxApiError(41037);
    if (type !== 1 && type !== 2) throw new SandboxApiError(41039);
    const scene = optNumber(body, 'scene');
    if (scene === undefined) throw new SandboxApiError(41038);
    if (scene !== 1 && scene !== 2) throw new SandboxApiError(41040);
    const configId = randomId('', 32).toLowerCase();
    const isTemp = optBool(body, 'is_temp') ?? false;
    const way: ContactWay = { config_id: configId, type, scene, skip_verify: true, user: [], party: [], is_temp: isTemp };
    if (isTemp) {
      way.expires_in = 7 * 86400;
      way.chat_expires_in = 86400;
    }
    this.applyContactWayFields(way, body);
    if (scene === 2) way.qr_code = `https://wework.qpic.cn/sandbox/${configId}.png`;
    this.ways.set(configId, way);
    this.madeAt.set(configId, this.core.now());
    return { config_id: configId, ...(way.qr_code ? { qr_code: way.qr_code } : {}) };
  }

  /**
   * Puts back a 联系我 code WeCom had before this sandbox started, under its config_id and QR URL (dev restores the
   * codes the database knows, so channels:sync updates them instead of making new ones). One already there is kept.
   */
  restoreContactWay(w: { configId: string; type: 1 | 2; state: string; userIds: string[]; qrCode: string | null }): void {
    if (this.ways.has(w.configId)) return;
    this.madeAt.set(w.configId, this.core.now());
    this.ways.set(w.configId, { config_id: w.configId, type: w.type, scene: 2, skip_verify: true, state: w.state, user: [...w.userIds], party: [], is_temp: false, ...(w.qrCode ? { qr_code: w.qrCode } : {}) });
  }

  /**
   * GET externalcontact/get_follow_user_list -> {follow_user}: the members with 客户联系, the only ones a 联系我 code
   * can be made for [D:92571]. Without a member list, the members the corp's codes name.
   */
  apiGetFollowUserList(): Json {
    const users = this.members ? [...this.members] : [...new Set([...this.ways.values()].flatMap((w) => w.user))];
    return { follow_user: users };
  }

  /** Finds a contact way by body.config_id: 41043 missing, 41044 unknown. */
  private contactWayOf(body: Json): ContactWay {
    const configId = optString(body, 'config_id');
    if (!configId) throw new SandboxApiError(41043);
    const way = this.ways.get(configId);
    // 41044 means "invalid 联系我 config_id" in the global table [D:90313]; UNCONFIRMED that update/get answer it for unknown ids.
    if (!way) throw new SandboxApiError(41044);
    return way;
  }

  /** POST externalcontact/update_contact_way: only the fields given change; type and scene are fixed. */
  apiUpdateContactWay(body: Json): Json {
    const way = this.contactWayOf(body);
    const draft: ContactWay = { ...way, user: [...way.user], party: [...way.party] };
    this.applyContactWayFields(draft, body);
    this.ways.set(way.config_id, draft);
    return {};
  }

  /** POST externalcontact/get_contact_way -> {contact_way}. */
  apiGetContactWay(body: Json): Json {
    return { contact_way: structuredClone(this.contactWayOf(body)) };
  }

  /** POST externalcontact/del_contact_way. */
  apiDelContactWay(body: Json): Json {
    const id = this.contactWayOf(body).config_id;
    this.ways.delete(id);
    this.madeAt.delete(id);
    return {};
  }

  /**
   * POST externalcontact/list_contact_way {start_time, end_time (seconds; default the last 90 days), cursor, limit ≤
   * 1000} -> {contact_way:[{config_id}], next_cursor}: the codes made in that span [D:92228].
   */
  apiListContactWay(body: Json): Json {
    const limit = optNumber(body, 'limit') ?? 100;
    if (limit < 1 || limit > 1000) throw new SandboxApiError(40058, 'limit must be 1..1000');
    const offset = cursorOffset(body);
    const now = this.core.now();
    const end = (optNumber(body, 'end_time') ?? Math.floor(now / 1000)) * 1000;
    const start = (optNumber(body, 'start_time') ?? Math.floor(now / 1000) - 90 * 86_400) * 1000;
    // Within the second of end_time too: the times are whole seconds.
    const ids = [...this.ways.keys()].filter((id) => {
      const at = this.madeAt.get(id) ?? now;
      return at >= start && at < end + 1000;
    });
    return {
      contact_way: ids.slice(offset, offset + limit).map((id) => ({ config_id: id })),
      next_cursor: offset + limit < ids.length ? String(offset + limit) : '',
    };
  }
}
