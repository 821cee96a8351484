import type { BotContext } from '../../context.js';
import { CampaignError } from './campaign-error.js';
import { campaignOf } from './catalog.js';
import { cancelCampaign, launchCampaign, pauseCampaign, resumeCampaign } from './control.js';
import { dryRun } from './dry-run.js';
import { campaignDetail, campaignList } from './overview.js';
import { EXCLUSION_LABELS } from './results.js';

/** The ops-chat command: its names, and the subcommands only admins may use. */
export const CAMPAIGN_COMMAND = {
  names: ['群发', 'campaign'],
  adminOnly: ['launch', 'cancel'],
  usage: '群发 list | show <key> | dry-run <key> | launch <key> | pause <key> | resume <key> | cancel <key>',
} as const;

/** Subcommands, with the Chinese words staff may type instead. */
const SUBCOMMANDS: Record<string, string> = {
  list: 'list', 列表: 'list',
  show: 'show', 查看: 'show',
  'dry-run': 'dry-run', dryrun: 'dry-run', 预演: 'dry-run',
  launch: 'launch', 发送: 'launch', 立即发送: 'launch',
  pause: 'pause', 暂停: 'pause',
  resume: 'resume', 恢复: 'resume',
  cancel: 'cancel', 取消: 'cancel',
};

/** Who runs the command and what they typed after its name. */
export interface CampaignCommandInput {
  /** The words after `群发` / `campaign`. */
  args: string[];
  /** The member who typed it (a userid). */
  actor: string;
  /** Whether that member is an admin of the ops chat (launch and cancel are theirs alone). */
  isAdmin: boolean;
}

const fmtTime = (d: Date | null | undefined, tz: string) => (d ? new Intl.DateTimeFormat('zh-CN', { timeZone: tz, dateStyle: 'short', timeStyle: 'short' }).format(d) : '—');

/**
 * `群发` / `campaign` in the ops chat: list, show, dry-run, launch, pause, resume, cancel. Returns the reply
 * (markdown). The chat command (handlers/commands/) only parses the message, says who typed it and whether they are
 * an admin, and posts this reply.
 */
export async function runCampaignCommand(ctx: BotContext, input: CampaignCommandInput): Promise<string> {
  const [word, key] = input.args;
  const sub = word ? SUBCOMMANDS[word.toLowerCase()] : undefined;
  if (!sub) return `用法：${CAMPAIGN_COMMAND.usage}`;
  if (sub !== 'list' && !key) return `用法：群发 ${sub} <key>（群发 list 列出所有群发）`;
  if ((CAMPAIGN_COMMAND.adminOnly as readonly string[]).includes(sub) && !input.isAdmin) return `只有管理员可以 ${sub}：请联系运营群的管理员。`;
  const tz = ctx.config.OPS_TIMEZONE;
  try {
    switch (sub) {
      case 'list': {
        const all = await campaignList(ctx.config.OPS_TIMEZONE);
        if (!all.length) return '还没有群发。';
        return all
          .map((c) => `- **${c.key}** ${c.name}：${c.status !== 'active' ? c.status : c.draft ? '草稿' : c.paused ? '已暂停' : `下次 ${fmtTime(c.nextRunAt, tz)}`}${c.lastRun ? `；上次 ${c.lastRun.status}` : ''}`)
          .join('\n');
      }
      case 'show': {
        const d = await campaignDetail(key!, 3, ctx.config.OPS_TIMEZONE);
        if (!d) return `没有群发 ${key}。`;
        const lines = [`**${d.key}** ${d.name}（${d.source === 'file' ? '模板' : 'API'}，${d.status}${d.paused ? '，已暂停' : ''}${d.draft ? '，草稿' : ''}）`, `时间：${d.schedule.at ?? `${d.schedule.cron}（${d.schedule.timezone ?? 'Asia/Shanghai'}）`}；下次 ${fmtTime(d.nextRunAt, tz)}`];
        for (const r of d.runs) {
          const x = r.results;
          lines.push(`- ${r.id} ${r.status}：目标 ${x.targeted}，客服 ${x.sent}，群发待确认 ${x.waitingForOwner}，已确认 ${x.confirmed}，提醒 ${x.reminded}，非好友 ${x.notAFriend}，超上限 ${x.overCap}，失败 ${x.failed}，未知 ${x.unknown}${x.withdrawn ? `，已撤回 ${x.withdrawn}` : ''}${x.deferred ? `，延后 ${x.deferred}` : ''}`);
        }
        return lines.join('\n');
      }
      case 'dry-run': {
        const c = await campaignOf(key!);
        if (!c) return `没有群发 ${key}。`;
        const r = await dryRun(ctx, c.campaign);
        const excluded = Object.entries(r.excluded).filter(([, n]) => n).map(([k, n]) => `${EXCLUSION_LABELS[k] ?? k} ${n}`);
        return [
          `**${key} 预演**（不会发送）：目标 ${r.targeted} 人`,
          `途径：客服 ${r.byRoute.kf}，群发 ${r.byRoute.mass}，提醒负责人 ${r.byRoute.owner}${r.byRoute.enroll ? `，加入培育 ${r.byRoute.enroll}` : ''}`,
          `排除：${excluded.join('，') || '无'}`,
          `延后：达到每日上限 ${r.deferred.dailyCap}${r.deferred.quietHours ? `，静默时段 ${r.deferred.quietHours}（至 ${fmtTime(r.deferred.until, tz)}）` : ''}`,
          r.owners.length ? `负责人需确认：${r.owners.map((o) => `${o.owner} ${o.tasks} 个任务${o.reminders ? ` + ${o.reminders} 条提醒` : ''}`).join('，')}${r.perLeadContent ? '（内容因人而异，任务会更多）' : ''}` : '',
          r.sample.length ? `示例：${r.sample.map((s) => `${s.name ?? s.id}（${s.via}）`).join('、')}` : '',
        ]
          .filter(Boolean)
          .join('\n');
      }
      case 'launch': {
        const { run, created } = await launchCampaign(ctx, key!);
        return created ? `已开始运行 ${run._id}，完成后在运营群通报结果。` : `${run._id} 已在运行（${run.status}），不会重复发送。`;
      }
      case 'pause': {
        const { changed } = await pauseCampaign(ctx, key!, input.actor);
        return changed ? `已暂停 ${key}：正在进行的发送在下一批之前停下，已发出的不受影响。` : `${key} 本来就是暂停的。`;
      }
      case 'resume': {
        const { changed, runs } = await resumeCampaign(ctx, key!, input.actor);
        return changed ? `已恢复 ${key}${runs ? `：${runs} 次运行从停下的地方继续，已发出的不会重发` : ''}。` : `${key} 没有暂停。`;
      }
      case 'cancel': {
        const { changed, withdrawn } = await cancelCampaign(ctx, key!, input.actor);
        return changed ? `已取消 ${key}：不再运行，未发出的不会再发${withdrawn ? `；已撤回 ${withdrawn} 个负责人尚未确认的群发任务` : ''}。` : `${key} 早已取消。`;
      }
    }
  } catch (err) {
    if (err instanceof CampaignError) return err.code === 'not_found' ? `没有群发 ${key}。` : `不能 ${sub}：${err.message}`;
    throw err;
  }
  return `用法：${CAMPAIGN_COMMAND.usage}`;
}
