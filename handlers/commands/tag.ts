import { z } from 'zod';
import { CommandError, defineCommand } from '../../src/domain/commands/command.js';
import { findLead } from '../../src/domain/commands/find-lead.js';
import { issue } from '../../src/domain/commands/parse.js';
import { changeTags, distinctTags, tagsFromNames, tagsInBoth } from '../../src/domain/leads/change-tags.js';
import { foldWidth } from '../../src/domain/width.js';

/**
 * `+tag`, `-tag` or `+group/tag`: the sign and the slash in either width (a Chinese keyboard types ＋, － and ／), the
 * group and the tag as typed (a tag's full-width brackets and commas are its own).
 */
const tagWord = z.string().transform((w, ctx) => {
  const m = /^([+\-＋－])(.{1,61})$/u.exec(w);
  const parts = (m?.[2] ?? '').split(/[/／]/u).map((p) => p.trim());
  if (!m || parts.length > 2 || parts.some((p) => !p || [...p].length > 30)) {
    ctx.addIssue(issue(`「${w}」应写成 +标签 或 -标签（可带分组：+行业/制造业；每段最多 30 字）`, `"${w}" must be +tag or -tag (a group may lead: +industry/retail; at most 30 characters each)`));
    return z.NEVER;
  }
  return { op: foldWidth(m[1]!) as '+' | '-', name: parts.join('/') };
});

/** `标签` / `tag <lead> +<tag> -<tag>`: corp tags added or removed on the customer in WeCom (mark_tag) and on the lead. */
export const tag = defineCommand({
  name: 'tag',
  aliases: { zh: ['标签', '打标签'], en: ['tags'] },
  params: ['lead', '*tags'],
  args: z.object({ lead: z.string().min(1), tags: z.array(tagWord).min(1).max(20) }),
  permission: 'lead',
  usage: { zh: '<线索> +标签 -标签（可写 分组/标签）', en: '<lead> +tag -tag (or group/tag)' },
  help: { zh: '给线索加、减企业标签（同步到企业微信）', en: 'add or remove corp tags on a lead (in WeCom too)' },
  run: async (a, c) => {
    const { ref, lead } = await findLead(c, a.lead);
    const who = lead.name ?? lead.externalUserId;
    const named = await tagsFromNames(a.tags.map((x) => x.name));
    const add = named.filter((_, i) => a.tags[i]!.op === '+');
    const remove = named.filter((_, i) => a.tags[i]!.op === '-');
    const both = tagsInBoth(add, remove);
    if (both.length) throw new CommandError('invalid_args', c.t(`${both.map((t) => `${t.group}/${t.name}`).join('、')} 既要加上又要去掉：请只写一个`, `${both.map((t) => `${t.group}/${t.name}`).join(', ')}: both added and removed; give one`));
    const r = await changeTags(c, ref, { add, remove }, { actor: c.caller.userId, sourceKey: `command|${c.msgid}` });
    const list = (tags: Array<{ group: string; name: string }>) => tags.map((t) => `${t.group}/${t.name}`).join(c.t('、', ', '));
    const same = (x: { group: string; name: string }) => (t: { group: string; name: string }) => x.group === t.group && x.name === t.name;
    const notes = [
      r.already.length ? c.t(`${list(r.already)} 本来就有`, `${list(r.already)} already on the lead`) : '',
      r.absent.length ? c.t(`${list(r.absent)} 本来就没有`, `${list(r.absent)} not on the lead`) : '',
      r.unknown.length ? c.t(`没有 ${list(r.unknown)} 这个标签，不用去掉`, `no tag ${list(r.unknown)} to remove`) : '',
      r.failed.length ? c.t(`${r.failed.map((f) => f.userId).join('、')} 被企业微信拒绝`, `WeCom refused for ${r.failed.map((f) => f.userId).join(', ')}`) : '',
    ].filter(Boolean);
    const why = notes.length ? c.t(`（${notes.join('；')}）`, ` (${notes.join('; ')})`) : '';
    const unchanged = () => c.t(`**${who}** 的标签没有变化${why}`, `**${who}**'s tags are unchanged${why}`);
    if (r.nothing) return unchanged();
    if (!r.marked.length && !r.failed.length) throw new CommandError('rejected', c.t(`${who} 没有在跟的员工，企业微信里没法给他打标签。`, `${who} has no active owner, so WeCom cannot tag them.`));
    if (!r.marked.length) throw new CommandError('rejected', c.t(`企业微信拒绝了（${r.failed.map((f) => `${f.userId}: ${f.errcode}`).join('、')}），标签没有变化。`, `WeCom refused (${r.failed.map((f) => `${f.userId}: ${f.errcode}`).join(', ')}); no tag changed.`));
    const removed = distinctTags(remove).filter((t) => !r.unknown.some(same(t)) && !r.absent.some(same(t)));
    const fresh = distinctTags(add).filter((t) => !r.already.some(same(t)));
    const changes = [
      fresh.length ? c.t(`加上 ${list(fresh)}`, `added ${list(fresh)}`) : '',
      removed.length ? c.t(`去掉 ${list(removed)}`, `removed ${list(removed)}`) : '',
    ].filter(Boolean);
    if (!changes.length) return unchanged();
    const head = c.t(`已更新 **${who}** 的标签（负责人 ${r.marked.join('、')}）：`, `Updated **${who}**'s tags (owners ${r.marked.join(', ')}): `);
    return `${head}${changes.join(c.t('；', '; '))}${why}`;
  },
});
