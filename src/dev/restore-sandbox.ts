import type { ChannelTag } from '../content/channels.js';
import type { BotContext } from '../context.js';
import type { Sandbox } from '../sandbox/index.js';
import { ChannelRecord } from '../store/models/channel-record.js';
import { CorpTag } from '../store/models/corp-tag.js';
import { Lead } from '../store/models/lead.js';

/**
 * The sandbox WeCom starts empty on every `npm run dev`, while the database keeps what earlier runs (and the demo)
 * recorded. This puts back into the sandbox what WeCom would still have: the channels' 联系我 codes (so their QR codes
 * stay the same from run to run), the corp tags the bot knows, with their ids, and every active relationship of a
 * member with a customer, tagged as the lead says; so acting on an existing lead (tags, messages) works as it would
 * against WeCom. Returns how many relationships it restored.
 */
export async function restoreSandbox(ctx: Pick<BotContext, 'tags'>, sandbox: Sandbox): Promise<number> {
  for (const c of await ChannelRecord.find({ configId: { $ne: null } }).lean()) {
    // A code stored before its kind was kept: 单人 when it has one owner (as channels:sync makes them).
    const type = c.wayType === 1 || c.wayType === 2 ? c.wayType : c.userIds.length === 1 ? 1 : 2;
    sandbox.state.contactWays.restoreContactWay({ configId: c.configId!, type, state: c.key, userIds: c.userIds, qrCode: c.qrCode ?? null });
  }
  for (const t of await CorpTag.find({}).lean()) sandbox.state.tags.restoreCorpTag({ groupId: t.groupId, groupName: t.group, tagId: t.tagId, name: t.name });
  const ids = new Map<string, string>();
  const idsOf = async (tags: ChannelTag[]) => {
    const missing = tags.filter((t) => !ids.has(`${t.group}/${t.name}`));
    if (missing.length) (await ctx.tags.resolve(missing)).forEach((id, i) => ids.set(`${missing[i]!.group}/${missing[i]!.name}`, id));
    return tags.map((t) => ids.get(`${t.group}/${t.name}`)!);
  };
  let restored = 0;
  const fields = { externalUserId: 1, name: 1, corpName: 1, owners: 1 };
  for await (const l of Lead.find({}, fields).lean().cursor({ batchSize: 1000 })) {
    for (const o of l.owners ?? []) {
      if (o.status !== 'active') continue;
      const tags = (o.tags ?? []).flatMap((t): ChannelTag[] => (t.group && t.name ? [{ group: t.group, name: t.name }] : []));
      sandbox.state.contacts.restoreRelationship({ externalUserId: l.externalUserId, name: l.name ?? l.externalUserId, corpName: l.corpName ?? undefined, userId: o.userId, state: o.state ?? undefined, addedAt: o.addedAt, tagIds: await idsOf(tags) });
      restored++;
    }
  }
  return restored;
}
