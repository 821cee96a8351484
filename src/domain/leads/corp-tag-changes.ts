import { createHash } from 'node:crypto';
import type { BotContext } from '../../context.js';
import { jobIds } from '../../queues/job-ids.js';
import { withLock } from '../../redis/lock.js';
import { recordRequestsDone } from '../../redis/requests-done.js';
import { CorpTag } from '../../store/models/corp-tag.js';
import { Lead, splitLeadId, type LeadDoc } from '../../store/models/lead.js';
import { raiseAlert } from '../alerts/ops-alerts.js';
import { listCampaigns } from '../campaigns/catalog.js';
import { INDUSTRY_GROUP } from './profile.js';

type Ctx = Pick<BotContext, 'wecom' | 'redis' | 'keys' | 'queues' | 'leads' | 'tags' | 'channels' | 'scoring' | 'cases' | 'config' | 'log'>;

/** A corp tag as WeCom names it now. */
interface Current {
  group: string;
  name: string;
  groupId: string;
}

/** A tag entry as a lead or the cache holds it. */
interface HeldTag {
  group?: string | null;
  name?: string | null;
  id?: string | null;
}

/** What one check changed. */
export interface CorpTagCheck {
  /** Cache rows moved to a new name or dropped. */
  cacheRows: number;
  leadsScanned: number;
  leadsChanged: number;
  /** `group/name` names no tag has any more, each with what it became (null: deleted). */
  gone: Map<string, string | null>;
}

/** Leads read between progress lines. */
const PROGRESS_EVERY = 5_000;

/**
 * A corp tag or group was renamed or deleted in WeCom (change_external_tag [D:92130]): asks for a check of every tag
 * name the bot keeps. Checks coalesce: the n-th request's job finds its work done when a check that read WeCom's list
 * after it has finished.
 */
export async function requestCorpTagCheck(ctx: Pick<BotContext, 'redis' | 'keys' | 'queues'>): Promise<number> {
  const n = await ctx.redis.incr(ctx.keys.corpTagChecksAsked());
  await ctx.queues.add('corp-tags', { n }, { jobId: jobIds.corpTagCheck(n) });
  return n;
}

/**
 * The nightly check (CORP_TAGS_CHECK_CRON): a request of its own, run at once. It catches what no callback asked for:
 * a rename or deletion whose change_external_tag WeCom gave up posting [D:92130], or a check queued in a Redis that
 * lost its data since.
 */
export async function runScheduledCorpTagCheck(ctx: Ctx): Promise<string> {
  return runCorpTagCheck(ctx, await ctx.redis.incr(ctx.keys.corpTagChecksAsked()));
}

/** The generation of the tag names (tag-resolver.ts): read it before reading tags from WeCom to write on a lead. */
export function corpTagGeneration(ctx: Pick<BotContext, 'redis' | 'keys'>): Promise<string | null> {
  return ctx.redis.get(ctx.keys.corpTagsGeneration());
}

/**
 * After a lead's tags were written from what was read from WeCom (or remembered) since `generation`: when a check
 * found the names moved meanwhile, it may have read this lead before the write, which can carry a name that is gone;
 * another check is asked for, after the write. A check that finds the names as they were leaves the generation as it
 * was, so writes during it ask for none.
 */
export async function recheckIfNamesMoved(ctx: Pick<BotContext, 'redis' | 'keys' | 'queues'>, generation: string | null): Promise<void> {
  if ((await corpTagGeneration(ctx)) !== generation) await requestCorpTagCheck(ctx);
}

/**
 * The check of request `n`, one at a time across processes: WeCom's tag list read once [D:92117], then the id cache
 * (rows of a renamed tag move to its new name, rows of a deleted one go, every process's memo is dropped), then each
 * lead's tags and each owner's (a renamed tag renamed, a deleted one removed, the industry with them), and the ops
 * group told of channels and campaigns still naming an old name. Safe to run twice.
 */
export async function runCorpTagCheck(ctx: Ctx, n: number): Promise<string> {
  return withLock(
    ctx.redis,
    ctx.keys.corpTagCheckLock(),
    async () => {
      const done = Number(await ctx.redis.get(ctx.keys.corpTagChecksDone())) || 0;
      if (done >= n) {
        await alertPending(ctx);
        return 'covered';
      }
      // Every request made before the list is read is answered by it.
      const upTo = Math.max(n, Number(await ctx.redis.get(ctx.keys.corpTagChecksAsked())) || 0);
      const check = await checkCorpTags(ctx);
      // Not recorded when Redis lost the count meanwhile: the requests numbered from 1 again are not covered by this one.
      await recordRequestsDone(ctx.redis, ctx.keys.corpTagChecksAsked(), ctx.keys.corpTagChecksDone(), upTo);
      await alertPending(ctx);
      return `cache ${check.cacheRows}, leads ${check.leadsChanged}/${check.leadsScanned}, names gone ${check.gone.size}`;
    },
    // A big database takes a while: the lock is renewed while held; a second check waits for it.
    { ttlMs: 15_000, waitMs: 30 * 60_000 },
  );
}

/** Brings the cache and the leads in line with WeCom's tag list. */
export async function checkCorpTags(ctx: Ctx): Promise<CorpTagCheck> {
  const gone = new Map<string, string | null>();
  let current = new Map<string, Current>();
  // A name another tag has now is not gone (a tag deleted and made again under its old name).
  let names = new Set<string>();
  // Names gone are kept in Redis as they are found, for the ops group's alert: once the cache and a lead no longer hold
  // a name, nothing else tells of it, so a check that dies before its alert leaves it to the next run (alertPending).
  const found = new Map<string, string>();
  const note = (t: HeldTag) => {
    const name = `${t.group}/${t.name}`;
    if (gone.has(name) || names.has(name)) return;
    const now = current.get(t.id!);
    gone.set(name, now ? `${now.group}/${now.name}` : null);
    found.set(name, gone.get(name) ?? '');
  };
  const keep = async () => {
    if (!found.size) return;
    await ctx.redis.hset(ctx.keys.corpTagsGone(), Object.fromEntries(found));
    found.clear();
  };

  let cacheRows = 0;
  // Under the lock that makes missing tags (tag-resolver.ts): a process making one writes the tag list it read to the
  // cache, and a list read before the rename would put the old name back after this check moved it.
  await withLock(ctx.redis, ctx.keys.corpTagsLock(), async () => {
    current = await currentTags(ctx);
    const rows = await CorpTag.find({}).lean();
    await confirmGone(ctx, rows.map((r) => r.tagId).filter((id) => !current.has(id)));
    names = new Set([...current.values()].map((t) => `${t.group}/${t.name}`));
    const stale = rows.filter((row) => isStale({ group: row.group, name: row.name, id: row.tagId }, current));
    stale.forEach((row) => note({ group: row.group, name: row.name, id: row.tagId }));
    await keep();
    for (const row of stale) {
      const now = current.get(row.tagId);
      await CorpTag.deleteOne({ _id: row._id });
      if (now) await CorpTag.updateOne({ group: now.group, name: now.name }, { $set: { tagId: row.tagId, groupId: now.groupId } }, { upsert: true });
      cacheRows++;
    }
    // Every process forgets the ids it remembered by name when the names moved since the last check.
    await ctx.tags.cacheChanged(digest(current));
  });

  let leadsScanned = 0;
  let leadsChanged = 0;
  for await (const lead of Lead.find({}, { tags: 1, owners: 1 }).lean().cursor({ batchSize: 500 })) {
    leadsScanned++;
    const stale = [...lead.tags, ...lead.owners.flatMap((o) => o.tags)].filter((t) => isStale(t, current));
    if (stale.length) {
      stale.forEach(note);
      await keep();
      const ref = splitLeadId(String(lead._id));
      if (ref) await ctx.leads.mutate(ref, null, (doc) => renameTags(doc, current));
      leadsChanged++;
    }
    if (leadsScanned % PROGRESS_EVERY === 0) ctx.log.info({ leadsScanned, leadsChanged }, 'corp tag check: leads read so far');
  }
  ctx.log.info({ cacheRows, leadsScanned, leadsChanged, gone: [...gone.keys()] }, 'corp tag check done');
  return { cacheRows, leadsScanned, leadsChanged, gone };
}

/** A digest of the tag list: the generation of the names (tag-resolver.ts). */
function digest(current: ReadonlyMap<string, Current>): string {
  const lines = [...current].map(([id, t]) => [id, t.groupId, t.group, t.name].join('\t')).sort();
  return createHash('sha1').update(lines.join('\n')).digest('hex').slice(0, 24);
}

/** Tag ids asked of WeCom by id at once, when confirming the ones its list left out. */
const CONFIRM_BATCH = 100;

/**
 * The cached tags the whole list left out, asked for again by id [D:92117]: a tag WeCom still answers, not deleted,
 * means the list was short (a partial answer must never strip a tag from every lead), so the check fails, to be retried.
 */
async function confirmGone(ctx: Pick<BotContext, 'wecom'>, ids: readonly string[]): Promise<void> {
  for (let i = 0; i < ids.length; i += CONFIRM_BATCH) {
    const still = await currentTags(ctx, ids.slice(i, i + CONFIRM_BATCH));
    if (still.size) throw new Error(`WeCom's tag list left out ${still.size} tag(s) it still has (e.g. ${[...still.keys()][0]}): not taken as deleted; the check is retried`);
  }
}

/** Every corp tag WeCom has (or those of `ids`), by id; a group or tag WeCom marks deleted is left out. */
async function currentTags(ctx: Pick<BotContext, 'wecom'>, ids?: readonly string[]): Promise<Map<string, Current>> {
  const { tag_group: groups } = await ctx.wecom.getCorpTagList(ids ? { tag_id: [...ids] } : {});
  const current = new Map<string, Current>();
  for (const g of groups) {
    if (g.deleted) continue;
    for (const t of g.tag ?? []) if (!t.deleted) current.set(t.id, { group: g.group_name, name: t.name, groupId: g.group_id });
  }
  return current;
}

/** A held tag whose id WeCom no longer has, or has under another name (an entry without an id cannot be told). */
function isStale(t: HeldTag, current: ReadonlyMap<string, Current>): boolean {
  if (!t.id) return false;
  const now = current.get(t.id);
  return !now || now.group !== t.group || now.name !== t.name;
}

/**
 * Renames the lead's and its owners' renamed tags and removes its deleted ones; the industry follows its tag. A tag held
 * twice, under its old name and its new one (marked under the old name while WeCom's answer had the new one), is kept
 * once.
 */
function renameTags(doc: LeadDoc, current: ReadonlyMap<string, Current>): void {
  let industryTouched = false;
  for (const list of [doc.tags, ...doc.owners.map((o) => o.tags)]) {
    const renamed = new Set<string>();
    for (let i = list.length - 1; i >= 0; i--) {
      const t = list[i]!;
      if (!isStale(t, current)) continue;
      const now = current.get(t.id!);
      if (t.group === INDUSTRY_GROUP || now?.group === INDUSTRY_GROUP) industryTouched = true;
      if (now) {
        t.group = now.group;
        t.name = now.name;
        renamed.add(t.id!);
      } else list.splice(i, 1);
    }
    for (let i = list.length - 1; i >= 0; i--) {
      const id = list[i]!.id;
      if (id && renamed.has(id) && list.findIndex((x) => x.id === id) < i) list.splice(i, 1);
    }
  }
  if (industryTouched) doc.industry = doc.tags.find((t) => t.group === INDUSTRY_GROUP)?.name ?? null;
}

/** Raises the alert of the names gone that checks found (checkCorpTags), and forgets them once it is raised. */
async function alertPending(ctx: Ctx): Promise<void> {
  const pending = await ctx.redis.hgetall(ctx.keys.corpTagsGone());
  const names = Object.keys(pending).sort();
  if (!names.length) return;
  await alertStaleNames(ctx, new Map(names.map((name) => [name, pending[name] || null])));
  await ctx.redis.hdel(ctx.keys.corpTagsGone(), ...names);
}

/**
 * Tells the ops group, once per finding, which channels, campaigns, scoring rules and case studies still name a tag by
 * a name WeCom no longer has: a channel's next customer would get a new tag made under the old name, a campaign's
 * segment would match fewer leads, or none, and a renamed industry or role scores and picks cases as another one.
 */
async function alertStaleNames(ctx: Ctx, gone: ReadonlyMap<string, string | null>): Promise<void> {
  if (!gone.size) return;
  const lines: string[] = [];
  const what = (name: string) => {
    const now = gone.get(name);
    return now ? `「${name}」已改名为「${now}」` : `「${name}」已删除`;
  };
  for (const ch of ctx.channels.all()) {
    for (const t of ch.tags) if (gone.has(`${t.group}/${t.name}`)) lines.push(`- 渠道 **${ch.name}**（${ch.key}）：${what(`${t.group}/${t.name}`)}；新客户会被打上按旧名重新创建的标签`);
  }
  for (const c of await listCampaigns()) {
    if (c.status !== 'active') continue;
    const tags = c.campaign.segment.tags;
    for (const name of new Set([...(tags?.all ?? []), ...(tags?.any ?? []), ...(tags?.none ?? [])])) {
      if (gone.has(name)) lines.push(`- 群发 **${c._id}**：人群按标签筛选，${what(name)}；按旧名筛选到的客户会变少或没有`);
    }
  }
  // templates/scoring.yaml and the case studies name industries (the tags of the group 行业) and roles by the tag's name.
  for (const name of gone.keys()) {
    const cut = name.indexOf('/');
    const [group, tag] = [name.slice(0, cut), name.slice(cut + 1)];
    if (group === INDUSTRY_GROUP) {
      const now = gone.get(name);
      if (now && !now.startsWith(`${INDUSTRY_GROUP}/`)) lines.push(`- 行业：客户的行业只取自标签组「${INDUSTRY_GROUP}」，它的标签已移到「${now.slice(0, now.indexOf('/'))}」；客户不再有行业，请把组名改回「${INDUSTRY_GROUP}」`);
      if (Object.hasOwn(ctx.scoring.fit.industry, tag)) lines.push(`- 评分 scoring.yaml：行业「${tag}」的得分，${what(name)}；这些客户的得分和等级会变`);
      const cases = ctx.cases.filter((c) => c.industries.includes(tag)).map((c) => `**${c.slug}**`);
      if (cases.length) lines.push(`- 案例 ${cases.join('、')}：行业「${tag}」，${what(name)}；这些客户收不到这些案例`);
    }
    if (group === ctx.scoring.roleTagGroup && Object.hasOwn(ctx.scoring.roles, tag)) lines.push(`- 评分 scoring.yaml：角色「${tag}」，${what(name)}；这些客户不再有角色，得分和等级会变`);
  }
  if (!lines.length) return;
  const unique = [...new Set(lines)];
  const key = `corp-tags|${createHash('sha1').update(unique.join('\n')).digest('hex').slice(0, 24)}`;
  const text = ['企业微信里有标签改名或删除了，下列配置仍用旧名：', ...unique, '请更新 channels.yaml、群发的人群设置、scoring.yaml 或案例的 industries（标签写作 `组/名`）。'].join('\n');
  ctx.log.warn({ names: [...gone.keys()], lines: unique.length }, 'config still names tags WeCom renamed or deleted');
  await raiseAlert(ctx, { key, kind: 'corp_tag_renamed', title: '标签已改名或删除', text });
}
