import type { LeadDoc } from '../../store/models/lead.js';
import type { ExternalContactResponse } from '../../wecom/types.js';

/** Tag group whose tag is the lead's industry (docs/ops-guide.md). */
export const INDUSTRY_GROUP = '行业';

/** Adds tags we just marked for `userId` to the lead (a profile fetched before mark_tag does not show them yet). */
export function applyMarkedTags(lead: LeadDoc, userId: string, tags: Array<{ group: string; name: string; id: string }>): void {
  const has = (list: Array<{ group?: string | null; name?: string | null }>, t: { group: string; name: string }) => list.some((x) => x.group === t.group && x.name === t.name);
  const owner = lead.owners.find((o) => o.userId === userId);
  for (const t of tags) {
    if (owner && !has(owner.tags, t)) owner.tags.push(t);
    if (!has(lead.tags, t)) lead.tags.push(t);
  }
  lead.industry = lead.tags.find((t) => t.group === INDUSTRY_GROUP)?.name ?? lead.industry;
}

/** Copies an externalcontact/get answer onto the lead: profile, each owner's tags, the tag union, industry. */
export function applyProfile(lead: LeadDoc, res: ExternalContactResponse): void {
  const c = res.external_contact;
  lead.name = c.name ?? lead.name;
  lead.avatar = c.avatar ?? lead.avatar;
  lead.type = c.type ?? lead.type;
  lead.corpName = c.corp_name ?? lead.corpName;
  const union = new Map<string, { group: string; name: string; id: string }>();
  for (const fu of res.follow_user ?? []) {
    const tags = (fu.tags ?? [])
      .filter((t) => t.type === 1 || t.type === undefined) // 1 = corp tag; personal/rule tags are not ours
      .map((t) => ({ group: t.group_name, name: t.tag_name, id: t.tag_id ?? '' }));
    for (const t of tags) union.set(`${t.group}\u0000${t.name}`, t);
    const owner = lead.owners.find((o) => o.userId === fu.userid);
    if (owner) {
      owner.tags.splice(0, owner.tags.length, ...tags);
      owner.remark = fu.remark ?? owner.remark;
    }
  }
  lead.tags.splice(0, lead.tags.length, ...union.values());
  lead.industry = [...union.values()].find((t) => t.group === INDUSTRY_GROUP)?.name ?? null;
  lead.profileSyncedAt = new Date();
}

/** Takes tags we just removed for `userId` off that owner, and off the lead when no other owner has them. */
export function applyRemovedTags(lead: LeadDoc, userId: string, tags: Array<{ group: string; name: string }>): void {
  const same = (x: { group?: string | null; name?: string | null }, t: { group: string; name: string }) => x.group === t.group && x.name === t.name;
  const owner = lead.owners.find((o) => o.userId === userId);
  for (const t of tags) {
    if (owner) {
      const i = owner.tags.findIndex((x) => same(x, t));
      if (i >= 0) owner.tags.splice(i, 1);
    }
    if (!lead.owners.some((o) => o.tags.some((x) => same(x, t)))) {
      const i = lead.tags.findIndex((x) => same(x, t));
      if (i >= 0) lead.tags.splice(i, 1);
    }
  }
  lead.industry = lead.tags.find((t) => t.group === INDUSTRY_GROUP)?.name ?? null;
}
