import type { Redis } from 'ioredis';
import { CorpTag } from '../../store/models/corp-tag.js';
import type { RedisKeys } from '../../redis/keys.js';
import { withLock } from '../../redis/lock.js';
import type { ChannelTag } from '../../content/channels.js';
import type { WecomClient } from '../../wecom/client.js';
import type { CorpTagGroup } from '../../wecom/types.js';

const keyOf = (t: ChannelTag) => `${t.group}\u0000${t.name}`;

/**
 * Turns tag names from templates into WeCom corp tag ids [D:92117]: from the cache (MongoDB + memory), else
 * from get_corp_tag_list, else created with add_corp_tag. Creation runs under a Redis lock so two workers never
 * create the same tag twice. A tag renamed or deleted in WeCom (change_external_tag, corp-tag-changes.ts) moves a
 * generation in Redis on (a digest of WeCom's tag list): every process drops its memo when it sees it move, so no
 * process marks a name's old id.
 */
export class TagResolver {
  private readonly memo = new Map<string, string>();
  /** The generation the memo was filled under. */
  private generation: string | null = null;

  constructor(
    private readonly wecom: WecomClient,
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  /** Tag ids for `tags`, in order, creating missing tags and groups. */
  async resolve(tags: ChannelTag[]): Promise<string[]> {
    if (!tags.length) return [];
    await this.dropStaleMemo();
    await this.loadCached(tags);
    if (tags.some((t) => !this.memo.has(keyOf(t)))) await withLock(this.redis, this.keys.corpTagsLock(), () => this.createMissing(tags));
    return tags.map((t) => this.memo.get(keyOf(t))!);
  }

  /**
   * Tells every process the names of WeCom's tag list, `generation` (a digest of it): a process whose memo was filled
   * under another drops it. The same list leaves the generation as it was.
   */
  async cacheChanged(generation: string): Promise<void> {
    this.memo.clear();
    await this.redis.set(this.keys.corpTagsGeneration(), generation);
  }

  private async dropStaleMemo(): Promise<void> {
    const generation = await this.redis.get(this.keys.corpTagsGeneration());
    if (generation !== this.generation) this.memo.clear();
    this.generation = generation;
  }

  /** Drops cached ids of `tags` (WeCom said an id is invalid: the tag was deleted or recreated by an admin). */
  async forget(tags: ChannelTag[]): Promise<void> {
    for (const t of tags) this.memo.delete(keyOf(t));
    await CorpTag.deleteMany({ $or: tags.map((t) => ({ group: t.group, name: t.name })) });
  }

  private async loadCached(tags: ChannelTag[]): Promise<void> {
    const missing = tags.filter((t) => !this.memo.has(keyOf(t)));
    if (!missing.length) return;
    const rows = await CorpTag.find({ $or: missing.map((t) => ({ group: t.group, name: t.name })) }).lean();
    for (const r of rows) this.memo.set(keyOf(r), r.tagId);
  }

  private async createMissing(tags: ChannelTag[]): Promise<void> {
    await this.loadCached(tags); // another process may have created them while we waited for the lock
    if (tags.every((t) => this.memo.has(keyOf(t)))) return;
    const { tag_group: groups } = await this.wecom.getCorpTagList();
    await this.remember(groups);
    const byGroup = new Map<string, string[]>();
    for (const t of tags) {
      if (this.memo.has(keyOf(t))) continue;
      byGroup.set(t.group, [...new Set([...(byGroup.get(t.group) ?? []), t.name])]);
    }
    for (const [group, names] of byGroup) {
      const existing = groups.find((g) => g.group_name === group);
      const res = await this.wecom.addCorpTag({
        ...(existing ? { group_id: existing.group_id } : { group_name: group }),
        tag: names.map((name) => ({ name })),
      });
      await this.remember([res.tag_group]);
    }
  }

  private async remember(groups: CorpTagGroup[]): Promise<void> {
    for (const g of groups) {
      for (const t of g.tag ?? []) {
        this.memo.set(keyOf({ group: g.group_name, name: t.name }), t.id);
        await CorpTag.updateOne(
          { group: g.group_name, name: t.name },
          { $set: { tagId: t.id, groupId: g.group_id } },
          { upsert: true },
        );
      }
    }
  }
}
