import { DEFAULT_TAG_GROUP, type ChannelTag } from '../../content/channels.js';
import type { BotContext } from '../../context.js';
import { WecomApiError } from '../../errors.js';
import { CorpTag } from '../../store/models/corp-tag.js';
import { Lead, leadId, type LeadRef } from '../../store/models/lead.js';
import { recordStep } from '../../store/timeline.js';
import { sameName, widthInsensitiveSource } from '../width.js';
import { corpTagGeneration, recheckIfNamesMoved } from './corp-tag-changes.js';
import { applyMarkedTags, applyRemovedTags } from './profile.js';

/** 40068: invalid tag id [D:92117]. */
const INVALID_TAG = 40068;

/** What a tag change did. */
export interface TagChangeResult {
  /** The active owners the tags were marked for. */
  marked: string[];
  /** Owners WeCom refused (e.g. 84061: the relationship is gone), with its errcode. */
  failed: Array<{ userId: string; errcode: number }>;
  /** Tags to remove that no corp tag has (nothing to remove). */
  unknown: ChannelTag[];
  /** Tags to add that the lead had already (marked again all the same: WeCom's mark_tag is idempotent). */
  already: ChannelTag[];
  /** Tags to remove that the lead did not have (removed in WeCom all the same, in case the bot's copy is behind). */
  absent: ChannelTag[];
  /** Nothing to ask of WeCom (no tag to add, none known to remove): no call, no change, no timeline entry. */
  nothing: boolean;
}

/**
 * Corp tags for names as staff type them: `group/name`, or a bare name, which is the existing corp tag of that name
 * when exactly one group has it, else a tag in the group "渠道" (as in channels.yaml). A name is kept as typed, but
 * one that is an existing corp tag's but for full-width forms (`重点客户(华东)` for `重点客户（华东）`) is that tag, when
 * it is the only one: a new tag is never made of a look-alike, nor of a converted name.
 */
export async function tagsFromNames(names: string[]): Promise<ChannelTag[]> {
  const typed = names.map((n) => {
    const parts = splitTagName(n);
    return parts.length === 2 ? { group: parts[0] as string | null, name: parts[1] } : { group: null, name: parts[0] };
  });
  const known = typed.length ? await CorpTag.find({ $or: typed.map((t) => ({ name: new RegExp(`^${widthInsensitiveSource(t.name)}$`) })) }, { group: 1, name: 1 }).lean() : [];
  return typed.map((t) => {
    if (t.group !== null) {
      if (known.some((k) => k.group === t.group && k.name === t.name)) return { group: t.group, name: t.name };
      const alike = distinctTags(known.filter((k) => sameName(k.group, t.group) && sameName(k.name, t.name)));
      return alike.length === 1 ? alike[0]! : { group: t.group, name: t.name };
    }
    const groups = [...new Set(known.filter((k) => k.name === t.name).map((k) => k.group))];
    if (groups.length) return { group: groups.length === 1 ? groups[0]! : DEFAULT_TAG_GROUP, name: t.name };
    const alike = distinctTags(known.filter((k) => sameName(k.name, t.name)));
    return alike.length === 1 ? alike[0]! : { group: DEFAULT_TAG_GROUP, name: t.name };
  });
}

/** Each tag once (as `{group, name}`), in the order first named. */
export function distinctTags(tags: ReadonlyArray<{ group: string; name: string }>): ChannelTag[] {
  const seen = new Map<string, ChannelTag>();
  for (const t of tags) if (!seen.has(`${t.group}\u0000${t.name}`)) seen.set(`${t.group}\u0000${t.name}`, { group: t.group, name: t.name });
  return [...seen.values()];
}

/** The tags both to add and to remove: a change that contradicts itself (refused before WeCom is asked). */
export function tagsInBoth(add: readonly ChannelTag[], remove: readonly ChannelTag[]): ChannelTag[] {
  return add.filter((t) => remove.some((x) => x.group === t.group && x.name === t.name));
}

/** A tag name as staff type it: `[group, name]` for `group/name` (each part trimmed), else `[name]`. */
export function splitTagName(typed: string): [string, string] | [string] {
  const slash = typed.indexOf('/');
  return slash > 0 ? [typed.slice(0, slash).trim(), typed.slice(slash + 1).trim()] : [typed];
}

/**
 * Adds and removes corp tags on a lead in WeCom (mark_tag for each active owner; missing tags are created) and on the
 * lead itself, with a timeline entry. Tags are per relationship in WeCom [D:92117], hence one call per owner.
 */
export async function changeTags(ctx: Pick<BotContext, 'tags' | 'wecom' | 'leads' | 'redis' | 'keys' | 'queues'>, ref: LeadRef, change: { add: ChannelTag[]; remove: ChannelTag[] }, by: { actor: string; sourceKey: string }): Promise<TagChangeResult> {
  const lead = await Lead.findById(leadId(ref.corpId, ref.externalUserId), { owners: 1, tags: 1 }).lean();
  const owners = (lead?.owners ?? []).filter((o) => o.status === 'active').map((o) => o.userId);
  const result: TagChangeResult = { marked: [], failed: [], unknown: [], already: [], absent: [], nothing: false };
  if (!owners.length) return result;
  // A tag named twice (the same, or a bare name and its group/name) is one.
  change = { add: distinctTags(change.add), remove: distinctTags(change.remove) };
  result.already = change.add.filter((t) => lead?.tags.some((x) => x.group === t.group && x.name === t.name));

  // Ids to remove: the lead's own (as last read from WeCom), else the cache; a tag nobody has is nothing to remove.
  const removeIds: string[] = [];
  const removing: ChannelTag[] = [];
  const cached = change.remove.length ? await CorpTag.find({ $or: change.remove.map((t) => ({ group: t.group, name: t.name })) }).lean() : [];
  for (const t of change.remove) {
    const held = lead?.tags.find((x) => x.group === t.group && x.name === t.name);
    const id = held?.id || cached.find((x) => x.group === t.group && x.name === t.name)?.tagId;
    if (id) {
      removeIds.push(id);
      removing.push(t);
      if (!held) result.absent.push(t);
    } else result.unknown.push(t);
  }
  // Only tags to remove that no corp tag has: mark_tag with both lists empty is refused (40058) [D:92117].
  if (!change.add.length && !removeIds.length) {
    result.nothing = true;
    return result;
  }

  // A name resolved from here on may be renamed in WeCom before the lead is saved (corp-tag-changes.ts).
  const generation = await corpTagGeneration(ctx);
  let addIds = await ctx.tags.resolve(change.add);
  for (const userId of owners) {
    const mark = () => ctx.wecom.markTag({ userid: userId, external_userid: ref.externalUserId, add_tag: addIds, remove_tag: removeIds });
    try {
      try {
        await mark();
      } catch (err) {
        if (!(err instanceof WecomApiError) || err.errcode !== INVALID_TAG || !change.add.length) throw err;
        // A cached id is stale (an admin deleted or recreated the tag): resolve the names again, once.
        await ctx.tags.forget(change.add);
        addIds = await ctx.tags.resolve(change.add);
        await mark();
      }
      result.marked.push(userId);
    } catch (err) {
      if (!(err instanceof WecomApiError) || err.retryable) throw err;
      result.failed.push({ userId, errcode: err.errcode });
    }
  }
  if (!result.marked.length) return result;
  const added = change.add.map((t, i) => ({ ...t, id: addIds[i]! }));
  await ctx.leads.mutate(ref, null, (d) => {
    for (const userId of result.marked) {
      applyMarkedTags(d, userId, added);
      applyRemovedTags(d, userId, removing);
    }
  });
  await recheckIfNamesMoved(ctx, generation);
  await recordStep(ref, by.sourceKey, 'tags_changed', {
    added: change.add.map((t) => `${t.group}/${t.name}`),
    removed: removing.filter((t) => !result.absent.includes(t)).map((t) => `${t.group}/${t.name}`),
    owners: result.marked,
    actor: by.actor,
  });
  return result;
}
