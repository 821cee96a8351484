import type { ApiRoute, SandboxArea } from '../area.js';
import { buildTagEventXml, type TagEvent } from '../callback-xml.js';
import type { SandboxCore } from '../core.js';
import { SandboxApiError } from '../errcodes.js';
import { randomId } from '../ids.js';
import { charLength, isJsonObject, optArray, optNumber, optString, optStringArray, type Json } from '../json-input.js';
import type { ContactsArea } from './contacts.js';

/** A corp tag on a relationship, as in externalcontact/get's follow_user.tags [D:92114]. */
export interface FollowUserTag {
  group_name: string;
  tag_name: string;
  /** 1 = corp tag */
  type: 1;
  tag_id: string;
}

/** A corp tag [D:92117]. */
export interface CorpTag {
  id: string;
  name: string;
  /** seconds */
  createTime: number;
  order: number;
}

/** A corp tag group with its tags [D:92117]. */
export interface CorpTagGroup {
  groupId: string;
  groupName: string;
  /** seconds */
  createTime: number;
  order: number;
  tags: CorpTag[];
}

/** The corp tag quota; 40126 says 3000 [D:90313] (UNCONFIRMED: 3000 or 10000). */
const CORP_TAG_LIMIT = 3000;

/** Corp tags and marking them on customers [D:92117]. */
export class TagsArea implements SandboxArea {
  readonly corpTags: CorpTagGroup[] = [];
  /**
   * Tags deleted by an admin, with their group as it was: get_corp_tag_list still answers a query naming them by id,
   * marked `deleted` [D:92117].
   */
  readonly deletedTags: Array<{ group: Omit<CorpTagGroup, 'tags'>; groupDeleted: boolean; tag: CorpTag }> = [];

  constructor(
    private readonly core: SandboxCore,
    private readonly contacts: ContactsArea,
  ) {}

  readonly routes: Record<string, ApiRoute> = {
    'externalcontact/mark_tag': { body: true, run: (_q, b) => this.apiMarkTag(b) },
    'externalcontact/get_corp_tag_list': { body: true, run: (_q, b) => this.apiGetCorpTagList(b) },
    'externalcontact/add_corp_tag': { body: true, run: (_q, b) => this.apiAddCorpTag(b) },
  };

  reset(all: boolean): void {
    if (all) {
      this.corpTags.length = 0;
      this.deletedTags.length = 0;
    }
  }

  /** Tags on the relationship, shaped like externalcontact/get's follow_user.tags ([] when there is none). */
  tagsOf(userId: string, externalUserId: string): FollowUserTag[] {
    return (this.contacts.relationship(userId, externalUserId)?.tagIds ?? []).flatMap((tagId) => {
      const group = this.corpTags.find((g) => g.tags.some((t) => t.id === tagId));
      const tag = group?.tags.find((t) => t.id === tagId);
      return group && tag ? [{ group_name: group.groupName, tag_name: tag.name, type: 1 as const, tag_id: tag.id }] : [];
    });
  }

  /**
   * Puts back a tag WeCom had before this sandbox started, with its ids (dev restores what the database knows, so ids
   * the bot cached stay valid). A tag already there is left as it is.
   */
  restoreCorpTag(t: { groupId: string; groupName: string; tagId: string; name: string }): void {
    const createTime = Math.floor(this.core.now() / 1000);
    let group = this.corpTags.find((g) => g.groupId === t.groupId);
    if (!group) {
      group = { groupId: t.groupId, groupName: t.groupName, createTime, order: this.corpTags.length, tags: [] };
      this.corpTags.push(group);
    }
    if (!group.tags.some((x) => x.id === t.tagId)) group.tags.push({ id: t.tagId, name: t.name, createTime, order: group.tags.length });
  }

  /**
   * An admin renames a tag (`tagId`) or a group (`groupId`) in the admin console: the name changes and the
   * change_external_tag `update` callback is posted [D:92130]. Returns the callback's HTTP status.
   */
  async adminRename(target: { tagId: string } | { groupId: string }, name: string): Promise<number> {
    // A group's new name must not be another group's, a tag's not another's in its group [D:92117, edit_corp_tag].
    if ('groupId' in target) {
      const group = this.corpTags.find((g) => g.groupId === target.groupId);
      if (!group) throw new SandboxApiError(40068, 'invalid group_id');
      if (this.corpTags.some((g) => g !== group && g.groupName === name)) throw new SandboxApiError(40071, `group ${name} already exists`);
      group.groupName = name;
      return this.postTagEvent({ changeType: 'update', id: group.groupId, tagType: 'tag_group' });
    }
    const group = this.corpTags.find((g) => g.tags.some((t) => t.id === target.tagId));
    const tag = group?.tags.find((t) => t.id === target.tagId);
    if (!group || !tag) throw new SandboxApiError(40068, `invalid tagid ${target.tagId}`);
    if (group.tags.some((t) => t !== tag && t.name === name)) throw new SandboxApiError(40071, `tag ${name} already exists`);
    tag.name = name;
    return this.postTagEvent({ changeType: 'update', id: tag.id, tagType: 'tag' });
  }

  /**
   * An admin deletes a tag or a whole group: it leaves every customer it was on, and the `delete` callback is posted
   * (a group's tags go with it, with no event of their own) [D:92130]. Returns the callback's HTTP status.
   */
  async adminDelete(target: { tagId: string } | { groupId: string }): Promise<number> {
    const i = 'groupId' in target ? this.corpTags.findIndex((g) => g.groupId === target.groupId) : this.corpTags.findIndex((g) => g.tags.some((t) => t.id === target.tagId));
    const group = this.corpTags[i];
    if (!group) throw new SandboxApiError(40068, 'invalid tag or group id');
    const gone = new Set('groupId' in target ? group.tags.map((t) => t.id) : [target.tagId]);
    const { tags, ...asWas } = group;
    for (const tag of tags) if (gone.has(tag.id)) this.deletedTags.push({ group: { ...asWas }, groupDeleted: 'groupId' in target, tag: { ...tag } });
    if ('groupId' in target) this.corpTags.splice(i, 1);
    else group.tags = group.tags.filter((t) => !gone.has(t.id));
    for (const rel of this.contacts.relationships.values()) rel.tagIds = rel.tagIds.filter((id) => !gone.has(id));
    return 'groupId' in target ? this.postTagEvent({ changeType: 'delete', id: target.groupId, tagType: 'tag_group' }) : this.postTagEvent({ changeType: 'delete', id: target.tagId, tagType: 'tag' });
  }

  private postTagEvent(e: Omit<TagEvent, 'toUserName' | 'createTime'>): Promise<number> {
    return this.core.postCallbackXml(buildTagEventXml({ ...e, toUserName: this.core.corpId, createTime: Math.floor(this.core.now() / 1000) }));
  }

  /** Finds a corp tag by group name and tag name. */
  findTag(groupName: string, tagName: string): CorpTag | undefined {
    return this.corpTags.find((g) => g.groupName === groupName)?.tags.find((t) => t.name === tagName);
  }

  /** POST externalcontact/mark_tag: 40096 unknown customer, 84061 no relationship, 40068 unknown tag; idempotent. */
  apiMarkTag(body: Json): Json {
    const userId = optString(body, 'userid');
    if (!userId) throw new SandboxApiError(41009);
    const externalUserId = optString(body, 'external_userid');
    if (!externalUserId) throw new SandboxApiError(41035);
    const add = optStringArray(body, 'add_tag') ?? [];
    const remove = optStringArray(body, 'remove_tag') ?? [];
    if (add.length === 0 && remove.length === 0) throw new SandboxApiError(40058, 'add_tag and remove_tag are both empty');
    if (!this.contacts.customers.has(externalUserId)) throw new SandboxApiError(40096);
    const rel = this.contacts.relationship(userId, externalUserId);
    if (!rel) throw new SandboxApiError(84061);
    const known = new Set(this.corpTags.flatMap((g) => g.tags.map((t) => t.id)));
    const unknown = [...add, ...remove].find((id) => !known.has(id));
    if (unknown !== undefined) throw new SandboxApiError(40068, `invalid tagid ${unknown}`);
    for (const id of add) if (!rel.tagIds.includes(id)) rel.tagIds.push(id);
    rel.tagIds = rel.tagIds.filter((id) => !remove.includes(id));
    return {};
  }

  /**
   * POST externalcontact/get_corp_tag_list: group_id wins over tag_id; both empty = all [D:92117]. Deleted tags are
   * left out of the whole list; a query by id also answers the deleted ones it names, with `deleted` (a tag's only
   * when asked for by tag_id or group_id, a group's only by tag_id) [D:92117]. UNCONFIRMED: a deleted group asked for
   * by group_id is answered with nothing.
   */
  apiGetCorpTagList(body: Json): Json {
    const tagIds = optStringArray(body, 'tag_id') ?? [];
    const groupIds = optStringArray(body, 'group_id') ?? [];
    type Listed = Omit<CorpTagGroup, 'tags'> & { deleted?: boolean; tags: Array<CorpTag & { deleted?: boolean }> };
    let groups: Listed[];
    const withDeleted = (live: Listed[], wanted: (d: TagsArea['deletedTags'][number]) => boolean, groupFlag: boolean): Listed[] => {
      const out = live.map((g) => ({ ...g, ...(groupFlag ? { deleted: false } : {}), tags: g.tags.map((t) => ({ ...t, deleted: false })) }));
      for (const d of this.deletedTags.filter(wanted)) {
        let g = out.find((x) => x.groupId === d.group.groupId);
        if (!g) {
          const live = this.corpTags.find((x) => x.groupId === d.group.groupId);
          const group = live ? { groupId: live.groupId, groupName: live.groupName, createTime: live.createTime, order: live.order } : d.group;
          out.push((g = { ...group, ...(groupFlag ? { deleted: d.groupDeleted } : {}), tags: [] }));
        }
        g.tags.push({ ...d.tag, deleted: true });
      }
      return out;
    };
    if (groupIds.length > 0) {
      groups = withDeleted(
        this.corpTags.filter((g) => groupIds.includes(g.groupId)),
        (d) => !d.groupDeleted && groupIds.includes(d.group.groupId),
        false,
      );
    } else if (tagIds.length > 0) {
      const live = this.corpTags.map((g) => ({ ...g, tags: g.tags.filter((t) => tagIds.includes(t.id)) })).filter((g) => g.tags.length > 0);
      groups = withDeleted(live, (d) => tagIds.includes(d.tag.id), true);
    } else {
      groups = this.corpTags;
    }
    return {
      tag_group: groups.map((g) => ({
        group_id: g.groupId,
        group_name: g.groupName,
        create_time: g.createTime,
        order: g.order,
        ...(g.deleted === undefined ? {} : { deleted: g.deleted }),
        tag: g.tags.map((t) => ({ id: t.id, name: t.name, create_time: t.createTime, order: t.order, ...(t.deleted === undefined ? {} : { deleted: t.deleted }) })),
      })),
    };
  }

  /**
   * Adds tags into the group `groupId`, or into the group named `groupName` (created if new) [D:92117].
   * Also usable directly to seed tags. Throws 40058 / 40068 / 40071 / 40126 like add_corp_tag.
   */
  addCorpTags(input: { groupId?: string; groupName?: string; order?: number; tags: Array<{ name: string; order?: number }> }): {
    group: CorpTagGroup;
    added: CorpTag[];
  } {
    if (input.tags.length === 0) throw new SandboxApiError(40058, 'tag is empty');
    const createTime = Math.floor(this.core.now() / 1000);
    let group: CorpTagGroup | undefined;
    if (input.groupId !== undefined) {
      group = this.corpTags.find((g) => g.groupId === input.groupId);
      // UNCONFIRMED: the errcode for an unknown group_id; 40068 (invalid tag id) is the nearest documented one.
      if (!group) throw new SandboxApiError(40068, 'invalid group_id');
    } else {
      const name = input.groupName;
      if (!name) throw new SandboxApiError(40058, 'group_id or group_name is required');
      if (charLength(name) > 30) throw new SandboxApiError(40058, 'group_name exceeds 30 characters');
      group = this.corpTags.find((g) => g.groupName === name);
    }
    const seen = new Set(group?.tags.map((t) => t.name));
    for (const t of input.tags) {
      if (!t.name || charLength(t.name) > 30) throw new SandboxApiError(40058, 'tag name must be 1..30 characters');
      // UNCONFIRMED: 40071 is the global "tag name already exists" code; add_corp_tag's own code is not documented.
      if (seen.has(t.name)) throw new SandboxApiError(40071, `tag ${t.name} already exists`);
      seen.add(t.name);
    }
    const total = this.corpTags.reduce((n, g) => n + g.tags.length, 0);
    if (total + input.tags.length > CORP_TAG_LIMIT) throw new SandboxApiError(40126);
    if (!group) {
      group = { groupId: randomId('et', 30), groupName: input.groupName ?? '', createTime, order: input.order ?? 0, tags: [] };
      this.corpTags.push(group);
    }
    const added = input.tags.map((t) => ({ id: randomId('et', 30), name: t.name, createTime, order: t.order ?? 0 }));
    group.tags.push(...added);
    return { group, added };
  }

  /** POST externalcontact/add_corp_tag; the reply lists only the tags just created. */
  apiAddCorpTag(body: Json): Json {
    const tags = (optArray(body, 'tag') ?? []).map((t) => {
      if (!isJsonObject(t)) throw new SandboxApiError(40058, 'tag items must be objects');
      return { name: optString(t, 'name') ?? '', order: optNumber(t, 'order') };
    });
    const { group, added } = this.addCorpTags({
      groupId: optString(body, 'group_id'),
      groupName: optString(body, 'group_name'),
      order: optNumber(body, 'order'),
      tags,
    });
    return {
      tag_group: {
        group_id: group.groupId,
        group_name: group.groupName,
        create_time: group.createTime,
        order: group.order,
        tag: added.map((t) => ({ id: t.id, name: t.name, create_time: t.createTime, order: t.order })),
      },
    };
  }
}
