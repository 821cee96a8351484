import { Lead } from '../../store/models/lead.js';
import { Pause } from '../../store/models/pause.js';
import { touchesOf } from '../../store/touch-log.js';
import { leadDetail } from '../leads/query.js';
import { CommandError, type CommandContext } from './command.js';
import { reasonName, roleName, shortTime, stageName, stopReasonName, touchName } from './words.js';

/** Touches and enrollments a card shows. */
const SHOWN = 5;

/** One lead as a chat card (markdown): who, stage, grade and why, channel, owners, last touches, enrollments. */
export async function leadCard(ctx: Pick<CommandContext, 'lang' | 't' | 'config' | 'channels' | 'sequences'>, id: string): Promise<string> {
  const { t, lang } = ctx;
  const tz = ctx.config.OPS_TIMEZONE;
  const [d, doc, paused] = await Promise.all([leadDetail(id, ctx.sequences.keys()), Lead.findById(id, { touchLog: 1, touches: 1 }).lean(), Pause.findById(`lead:${id}`).lean()]);
  if (!d) throw new CommandError('not_found', t('这条线索已经不存在了。', 'That lead no longer exists.'));
  const channel = d.channel ? ctx.channels.get(d.channel) : undefined;
  const owners = d.owners.map((o) => `${o.userId}${o.remark ? `（${o.remark}）` : ''}${o.status === 'active' ? '' : t(o.status === 'left' ? '·已删除我方' : '·已移除', o.status === 'left' ? ' (deleted us)' : ' (removed)')}`);
  const reasons = d.scoreReasons.slice(0, 4).map((r) => `${reasonName(r.reason, lang)} ${r.points >= 0 ? '+' : ''}${r.points}`);
  const touches = (doc ? touchesOf(doc) : [])
    .sort((a, b) => b.at.getTime() - a.at.getTime())
    .slice(0, SHOWN)
    .map((x) => `${shortTime(x.at, tz)} ${touchName(x.kind, lang)}${x.ref ? t(`（${x.ref}）`, ` (${x.ref})`) : ''}`);
  const enrollments = d.enrollments.slice(-SHOWN).map((e) => {
    const status = lang === 'zh' ? ({ active: '进行中', completed: '已完成', stopped: '已停止' } as Record<string, string>)[String(e.status)] ?? e.status : e.status;
    const next = e.status === 'active' && e.dueAt ? t(`，下一步 ${shortTime(e.dueAt, tz)}`, `, next ${shortTime(e.dueAt, tz)}`) : '';
    const why = e.stopReason ? t(`（${stopReasonName(e.stopReason, lang)}）`, ` (${stopReasonName(e.stopReason, lang)})`) : '';
    // `step` is the next step to run: a finished enrollment ran them all.
    const n = Number(e.step);
    const where = e.status === 'completed' ? t(`共 ${n} 步`, `${n} step${n === 1 ? '' : 's'}`) : t(`第 ${n + 1} 步`, `step ${n + 1}`);
    return `${e.sequence} ${where} · ${status}${why}${next}`;
  });
  const none = t('无', 'none');
  const colon = t('：', ': ');
  return [
    `**${d.name ?? d.externalUserId}**${d.corpName ? `（${d.corpName}）` : ''} \`${d.externalUserId}\`${paused ? t(' · ⏸ 已暂停', ' · ⏸ paused') : ''}`,
    `- ${t('阶段', 'stage')}${colon}${stageName(d.stage, lang)} · ${t('等级', 'grade')}${colon}**${d.grade}**${t('（得分', ' (score')} ${d.score}${d.gradePinned ? t('，人工定级', ', pinned') : ''}${t('）', ')')}`,
    `- ${t('评分依据', 'why')}${colon}${reasons.join(t('、', ', ')) || none}`,
    `- ${t('渠道', 'channel')}${colon}${channel ? `${channel.name}（${channel.key}）` : (d.channel ?? none)} · ${t('行业', 'industry')}${colon}${d.industry ?? none} · ${t('角色', 'role')}${colon}${d.role ? roleName(d.role, lang) : none}`,
    `- ${t('负责人', 'owners')}${colon}${owners.join(t('、', ', ')) || none}`,
    `- ${t('最近动态', 'last touches')}${colon}${touches.join(t('；', '; ')) || none}`,
    `- ${t('培育', 'enrollments')}${colon}${enrollments.join(t('；', '; ')) || none}`,
  ].join('\n');
}
