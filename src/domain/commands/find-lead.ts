import { Lead, leadId, splitLeadId, type LeadRef } from '../../store/models/lead.js';
import { summarize, SUMMARY_FIELDS, type LeadSummary } from '../leads/query.js';
import { sameName, widthInsensitiveSource } from '../width.js';
import { CommandError, type CommandContext, type Lang } from './command.js';
import { stageName } from './words.js';

/** How many matches a "which one?" answer lists. */
const SHOWN = 5;

/** One lead as a line of a list: name (company) · grade · stage (in the answer's language, as the card says it) · external id. */
export function leadLine(l: LeadSummary, lang: Lang): string {
  return `${l.name ?? l.externalUserId}${l.corpName ? `（${l.corpName}）` : ''} · ${l.grade} · ${stageName(l.stage, lang)} · \`${l.externalUserId}\``;
}

/** Leads whose name, an owner's remark or company matches `source` (a regular expression), or whose external id is `q`. */
function matching(source: string, q: string) {
  const re = new RegExp(source, 'i');
  return { $or: [{ name: re }, { 'owners.remark': re }, { corpName: re }, { externalUserId: q }] };
}

/** The first `limit` leads of a filter, the most recently touched first. */
async function newestFirst(filter: Record<string, unknown>, limit: number): Promise<LeadSummary[]> {
  const rows = await Lead.find(filter, SUMMARY_FIELDS).sort({ lastTouchAt: -1, _id: -1 }).limit(limit).lean();
  return rows.map((r) => summarize(r as never));
}

/**
 * Whether `q` is a lead's name, an owner's remark, its company or its external id: as typed (`strict`), or but for
 * letter case and full-width forms (`刘总(丁厂)` names `刘总（丁厂）`).
 */
function names(l: LeadSummary, q: string, strict = false): boolean {
  const same = (v: string | null) => (strict ? v === q : sameName(v, q, { caseless: true }));
  return same(l.name) || same(l.corpName) || l.owners.some((o) => same(o.remark)) || l.externalUserId === q;
}

/**
 * The one lead a chat argument names: an external user id (one read by _id), else a name, an owner's remark or a
 * company, compared whatever the width of its characters. A lead the argument names exactly wins over those it is only
 * part of (`赵总` is 赵总, even beside more recent 赵总监s); several named exactly (one of them as typed wins), or none
 * and several that contain it, answer with a short list to choose from by external id; nothing found says so.
 */
export async function findLead(ctx: Pick<CommandContext, 'corpId' | 't' | 'lang'>, query: string): Promise<{ id: string; ref: LeadRef; lead: LeadSummary }> {
  const q = query.trim();
  const byId = q.includes(':') ? q : leadId(ctx.corpId, q);
  const exact = await Lead.findById(byId).lean();
  if (exact) return { id: byId, ref: splitLeadId(byId)!, lead: summarize(exact as never) };
  const source = widthInsensitiveSource(q);
  // One query (a scan on FerretDB, as before): the most recently touched leads that contain q. When they are all of
  // them, the ones q names are among them; only when there are more is the database asked for those apart.
  const items = await newestFirst(matching(source, q), SHOWN + 1);
  const named = (items.length > SHOWN ? await newestFirst(matching(`^${source}$`, q), SHOWN + 1) : items).filter((l) => names(l, q));
  const asTyped = named.filter((l) => names(l, q, true));
  const one = named.length === 1 ? named[0] : asTyped.length === 1 ? asTyped[0] : !named.length && items.length === 1 ? items[0] : undefined;
  if (one) return { id: one.id, ref: splitLeadId(one.id)!, lead: one };
  const { t } = ctx;
  // A lead as a list shows it, name（company）: copied back from a "which one?" answer.
  const listed = !items.length ? /^(.+?)\s*[（(]([^（()）]+)[）)]$/u.exec(q) : null;
  if (listed) {
    const exactly = (s: string) => new RegExp(`^${widthInsensitiveSource(s.trim())}$`, 'i');
    const rows = await newestFirst({ name: exactly(listed[1]!), corpName: exactly(listed[2]!) }, SHOWN + 1);
    if (rows.length === 1) return { id: rows[0]!.id, ref: splitLeadId(rows[0]!.id)!, lead: rows[0]! };
    items.push(...rows);
  }
  if (!items.length) throw new CommandError('not_found', t(`没有找到「${q}」对应的线索（可以用姓名、备注、公司或外部联系人 ID）。`, `No lead matches "${q}" (try a name, a remark, a company or an external user id).`));
  const choices = named.length ? named : items;
  const lines = choices.slice(0, SHOWN).map((l, i) => `${i + 1}. ${leadLine(l, ctx.lang)}`);
  const more = choices.length <= SHOWN ? '' : named.length ? t('\n……还有更多同名（或同公司）的线索。', '\n…and more of that name (or company).') : t('\n……还有更多，请写得更具体些。', '\n…and more; be more specific.');
  throw new CommandError(
    'ambiguous',
    `${t(`「${q}」匹配到多条线索，请用外部联系人 ID 再发一次：`, `"${q}" matches several leads; send the command again with the external user id:`)}\n${lines.join('\n')}${more}`,
  );
}
