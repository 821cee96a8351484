import type { ChannelTag } from '../../content/channels.js';
import { DEFAULT_TAG_GROUP } from '../../content/channels.js';
import type { BotContext } from '../../context.js';
import { CorpTag } from '../../store/models/corp-tag.js';
import type { LeadRef } from '../../store/models/lead.js';
import { recordStep } from '../../store/timeline.js';
import { INDUSTRY_GROUP } from './profile.js';

/** `group/name`, or a bare name (the group 渠道, as in channels.yaml). */
export function parseTag(text: string): ChannelTag {
  const slash = text.indexOf('/');
  return slash > 0 ? { group: text.slice(0, slash).trim(), name: text.slice(slash + 1).trim() } : { group: DEFAULT_TAG_GROUP, name: text.trim() };
}

/**
 * Adds and removes corp tags on a customer in WeCom (mark_tag for every active owner [D:92117]; tags to add that do
 * not exist are created, tags to remove that do not exist are ignored), then on the lead, with a timeline entry.
 * Returns what changed on the lead, or null when the lead is unknown.
 */
export async function changeTags(
  ctx: Pick<BotContext, 'tags' | 'wecom' | 'leads'>,
  ref: LeadRef,
  change: { add: ChannelTag[]; remove: ChannelTag[] },
  by: { actor: string },
): Promise<{ added: string[]; removed: string[] } | null> {
  const lead = await ctx.leads.withLock(ref, () => ctx.leads.mutateLocked(ref, null, () => undefined));
  if (!lead) return null;
  const addIds = await ctx.tags.resolve(change.add);
  const known = change.remove.length ? await CorpTag.find({ $or: change.remove.map((t) => ({ group: t.group, name: t.name })) }).lean() : [];
  const removeIds = known.map((k) => k.tagId);
  const owners = lead.owners.filter((o) => o.status === 'active').map((o) => o.userId);
  if (addIds.length || removeIds.length) {
    for (const userid of owners) await ctx.wecom.markTag({ userid, external_userid: ref.externalUserId, add_tag: addIds, remove_tag: removeIds });
  }
  const key = (t: { group?: string | null; name?: string | null }) => `${t.group}/${t.name}`;
  const removed = new Set(known.map(key));
  const added = change.add.map((t, i) => ({ ...t, id: addIds[i]! }));
  await ctx.leads.mutate(ref, null, (doc) => {
    for (const list of [doc.tags, ...doc.owners.filter((o) => owners.includes(o.userId)).map((o) => o.tags)]) {
      for (const t of [...list]) if (removed.has(key(t))) list.splice(list.indexOf(t), 1);
      for (const t of added) if (!list.some((x) => key(x) === key(t))) list.push(t);
    }
    doc.industry = doc.tags.find((t) => t.group === INDUSTRY_GROUP)?.name ?? null;
  });
  const result = { added: added.map(key), removed: [...removed] };
  await recordStep(ref, `tags|${Date.now()}|${by.actor}`, 'tags_changed', { ...result, actor: by.actor });
  return result;
}
