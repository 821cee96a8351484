import type { ApiRoute, SandboxArea } from '../area.js';
import type { SandboxCore } from '../core.js';
import { SandboxApiError } from '../errcodes.js';
import { buildContactEventXml, type ContactEvent } from '../callback-xml.js';
import { pairKey, randomId } from '../ids.js';
import { cursorOffset, optNumber, optStringArray, type Json } from '../json-input.js';
import type { TagsArea } from './tags.js';
import type { WelcomeArea } from './welcome.js';

/** An external contact (customer) [D:92114]. */
export interface ExternalContact {
  externalUserId: string;
  name: string;
  /** 1 WeChat user, 2 WeCom user. */
  type: 1 | 2;
  gender: 0 | 1 | 2;
  avatar: string;
  corpName?: string;
  unionid?: string;
}

/** A follow_user relationship between a member and a customer [D:92114]. */
export interface FollowUser {
  userId: string;
  externalUserId: string;
  remark: string;
  description: string;
  /** seconds */
  createtime: number;
  state?: string;
  addWay: number;
  operUserId: string;
  tagIds: string[];
}

/** Input of addCustomer. */
export interface AddCustomerOptions {
  externalUserId?: string;
  name: string;
  /** 1 WeChat (default), 2 WeCom. */
  type?: 1 | 2;
  gender?: 0 | 1 | 2;
  corpName?: string;
  /** The member (owner) the customer adds. */
  userId: string;
  /** The 联系我 `state` of the QR code scanned. */
  state?: string;
  /** Only used by scan(): the event becomes add_half_external_contact [D:92130]. */
  skipVerify?: boolean;
  /** follow_user.add_way, default 1 (scanned a QR code). */
  addWay?: number;
}

/** Result of scan(). */
export interface ScanResult {
  externalUserId: string;
  welcomeCode: string;
  /** HTTP status the bot answered the callback with. */
  status: number;
}

/** Customers and their relationships with members [D:92114], and the 客户联系 change callbacks about them [D:92130]. */
export class ContactsArea implements SandboxArea {
  readonly customers = new Map<string, ExternalContact>();
  /** follow_user relationships keyed by member + customer. */
  readonly relationships = new Map<string, FollowUser>();

  constructor(
    private readonly core: SandboxCore,
    private readonly welcome: WelcomeArea,
    /** The tags area (created after this one: it reads relationships). */
    private readonly tags: () => TagsArea,
  ) {}

  readonly routes: Record<string, ApiRoute> = {
    'externalcontact/get': { body: false, run: (q) => this.apiGetExternalContact(q) },
    'externalcontact/list': { body: false, run: (q) => this.apiListExternalContacts(q) },
    'externalcontact/batch/get_by_user': { body: true, run: (_q, b) => this.apiBatchGetByUser(b) },
  };

  reset(all: boolean): void {
    if (!all) return;
    this.customers.clear();
    this.relationships.clear();
  }

  /** Creates the customer (if new) and the follow_user relationship, and issues a fresh WelcomeCode for them. */
  addCustomer(opts: AddCustomerOptions): { externalUserId: string; welcomeCode: string } {
    const externalUserId = opts.externalUserId ?? randomId('wm', 30);
    const existing = this.customers.get(externalUserId);
    this.customers.set(externalUserId, {
      externalUserId,
      name: opts.name,
      type: opts.type ?? existing?.type ?? 1,
      gender: opts.gender ?? existing?.gender ?? 0,
      avatar: existing?.avatar ?? `https://wework.qpic.cn/sandbox/avatar/${externalUserId}.png`,
      corpName: opts.corpName ?? existing?.corpName,
      unionid: existing?.unionid,
    });
    this.relationships.set(pairKey(opts.userId, externalUserId), {
      userId: opts.userId,
      externalUserId,
      remark: '',
      description: '',
      createtime: Math.floor(this.core.now() / 1000),
      state: opts.state,
      addWay: opts.addWay ?? 1,
      // The customer initiated the add, so oper_userid is the customer's id [D:92114].
      operUserId: externalUserId,
      tagIds: [],
    });
    return { externalUserId, welcomeCode: this.welcome.issue(opts.userId, externalUserId) };
  }

  /**
   * Puts back a customer and a relationship that existed before this sandbox started (dev restores them from the
   * database), silently: no callback, no welcome code.
   */
  restoreRelationship(c: { externalUserId: string; name: string; corpName?: string; userId: string; state?: string; addedAt: Date; tagIds: string[] }): void {
    if (!this.customers.has(c.externalUserId)) {
      this.customers.set(c.externalUserId, { externalUserId: c.externalUserId, name: c.name, type: 1, gender: 0, avatar: `https://wework.qpic.cn/sandbox/avatar/${c.externalUserId}.png`, corpName: c.corpName });
    }
    this.relationships.set(pairKey(c.userId, c.externalUserId), {
      userId: c.userId, externalUserId: c.externalUserId, remark: '', description: '', createtime: Math.floor(c.addedAt.getTime() / 1000),
      state: c.state, addWay: 1, operUserId: c.externalUserId, tagIds: [...c.tagIds],
    });
  }

  /** Deletes the relationship silently (no callback); true if it existed. */
  removeRelationship(userId: string, externalUserId: string): boolean {
    return this.relationships.delete(pairKey(userId, externalUserId));
  }

  /** The relationship of a member and a customer, if any. */
  relationship(userId: string, externalUserId: string): FollowUser | undefined {
    return this.relationships.get(pairKey(userId, externalUserId));
  }

  /** A customer scans a 联系我 QR code: addCustomer, then POST the encrypted add_external_contact callback. */
  async scan(opts: AddCustomerOptions): Promise<ScanResult> {
    const { externalUserId, welcomeCode } = this.addCustomer(opts);
    const status = await this.postContactEvent({
      changeType: opts.skipVerify ? 'add_half_external_contact' : 'add_external_contact',
      userId: opts.userId,
      externalUserId,
      state: opts.state,
      welcomeCode,
    });
    return { externalUserId, welcomeCode, status };
  }

  /** The customer deletes the member (churn): drops the relationship and posts del_follow_user. */
  async customerDeletesMember(userId: string, externalUserId: string): Promise<number> {
    this.removeRelationship(userId, externalUserId);
    return this.postContactEvent({ changeType: 'del_follow_user', userId, externalUserId });
  }

  /** POSTs a change_external_contact event to the callback URL; CreateTime defaults to the clock. Returns the HTTP status. */
  async postContactEvent(e: Omit<ContactEvent, 'toUserName' | 'createTime'> & { createTime?: number }): Promise<number> {
    const xml = buildContactEventXml({ ...e, toUserName: this.core.corpId, createTime: e.createTime ?? Math.floor(this.core.now() / 1000) });
    return this.core.postCallbackXml(xml);
  }

  /** Shapes a customer as external_contact [D:92114]. */
  private externalContactJson(c: ExternalContact): Json {
    return {
      external_userid: c.externalUserId,
      name: c.name,
      avatar: c.avatar,
      type: c.type,
      gender: c.gender,
      ...(c.unionid !== undefined ? { unionid: c.unionid } : {}),
      ...(c.type === 2 && c.corpName !== undefined ? { corp_name: c.corpName } : {}),
    };
  }

  /** Relationships of a customer, in creation order. */
  followUsersOf(externalUserId: string): FollowUser[] {
    return [...this.relationships.values()].filter((r) => r.externalUserId === externalUserId);
  }

  /** GET externalcontact/get [D:92114]. Unknown id -> 40096; known but followed by nobody -> 84061 (UNCONFIRMED). */
  apiGetExternalContact(query: Record<string, string>): Json {
    const id = query.external_userid;
    if (!id) throw new SandboxApiError(41035);
    const c = this.customers.get(id);
    if (!c) throw new SandboxApiError(40096);
    const follows = this.followUsersOf(id);
    if (follows.length === 0) throw new SandboxApiError(84061);
    return {
      external_contact: this.externalContactJson(c),
      follow_user: follows.map((r) => ({
        userid: r.userId,
        remark: r.remark,
        description: r.description,
        createtime: r.createtime,
        tags: this.tags().tagsOf(r.userId, r.externalUserId),
        remark_mobiles: [],
        add_way: r.addWay,
        ...(r.state !== undefined ? { state: r.state } : {}),
        oper_userid: r.operUserId,
      })),
    };
  }

  /** GET externalcontact/list?userid= -> external_userid[]; a member with no customers -> 84061. */
  apiListExternalContacts(query: Record<string, string>): Json {
    const userId = query.userid;
    if (!userId) throw new SandboxApiError(41009);
    const ids = [...this.relationships.values()].filter((r) => r.userId === userId).map((r) => r.externalUserId);
    if (ids.length === 0) throw new SandboxApiError(84061);
    return { external_userid: ids };
  }

  /** POST externalcontact/batch/get_by_user {userid_list(≤100), cursor, limit(≤100)} [D:92114]. */
  apiBatchGetByUser(body: Json): Json {
    const users = optStringArray(body, 'userid_list') ?? [];
    if (users.length === 0) throw new SandboxApiError(41009);
    if (users.length > 100) throw new SandboxApiError(40058, 'userid_list exceeds 100');
    const limit = optNumber(body, 'limit') ?? 50;
    if (limit < 1 || limit > 100) throw new SandboxApiError(40058, 'limit must be 1..100');
    const offset = cursorOffset(body);
    const all = [...this.relationships.values()].filter((r) => users.includes(r.userId));
    const page = all.slice(offset, offset + limit);
    return {
      external_contact_list: page.flatMap((r) => {
        const c = this.customers.get(r.externalUserId);
        return c
          ? [
              {
                external_contact: this.externalContactJson(c),
                follow_info: {
                  userid: r.userId,
                  remark: r.remark,
                  description: r.description,
                  createtime: r.createtime,
                  tag_id: [...r.tagIds],
                  remark_mobiles: [],
                  oper_userid: r.operUserId,
                  add_way: r.addWay,
                  ...(r.state !== undefined ? { state: r.state } : {}),
                },
              },
            ]
          : [];
      }),
      next_cursor: offset + limit < all.length ? String(offset + limit) : '',
    };
  }
}
