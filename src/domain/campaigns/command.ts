import type { BotContext } from '../../context.js';
import { CommandError, type CommandContext, type Lang } from '../commands/command.js';
import { shortTime, stageName } from '../commands/words.js';
import { foldWidth } from '../width.js';
import { CampaignError } from './campaign-error.js';
import { campaignOf } from './catalog.js';
import { cancelCampaign, endedOneOffRun, launchCampaign, pauseCampaign, resumeCampaign } from './control.js';
import { dryRun } from './dry-run.js';
import type { FollowUp } from './follow-up.js';
import { campaignDetail, campaignList, type CampaignSummary, type RunView } from './overview.js';
import { EXCLUSION_LABELS } from './results.js';

/** What follows the command word: its subcommands (the same in both languages). */
const SUBCOMMAND_USAGE = 'list | show <key> | dry-run <key> | launch <key> | pause <key> | resume <key> | cancel <key>';

/** The ops-chat command: its names, and the subcommands only admins may use. */
export const CAMPAIGN_COMMAND = {
  names: ['群发', 'campaign'],
  adminOnly: ['launch', 'cancel'],
  usage: `群发 ${SUBCOMMAND_USAGE}`,
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

/** The bot's context with the language of the command (its answer's language) and its picker. */
export type CampaignCommandContext = BotContext & Pick<CommandContext, 'lang' | 't'>;

/** How many runs `show` lists (the dashboard and the admin API have the rest). */
const RUNS_SHOWN = 3;
/** How many owners a line names before "and N more". */
const OWNERS_SHOWN = 10;

type Words = Record<string, readonly [zh: string, en: string]>;
/** The words of the dashboard (src/http/admin/dashboard/i18n.js), so the chat and the pages say the same. */
const CAMPAIGN_STATUS: Words = { active: ['生效', 'active'], cancelled: ['已取消', 'cancelled'], removed: ['已删除', 'removed'] };
const RUN_STATUS: Words = {
  running: ['执行中', 'running'],
  waiting: ['等待中', 'waiting'],
  paused: ['已暂停', 'paused'],
  finished: ['已完成', 'finished'],
  cancelled: ['已取消', 'cancelled'],
  skipped: ['已跳过', 'skipped'],
  missed: ['已错过', 'missed'],
};
const TRIGGER: Words = { schedule: ['定时', 'scheduled'], launch: ['立即发送', 'launched'] };
const VERB: Words = { list: ['列出', 'list'], show: ['查看', 'show'], 'dry-run': ['预演', 'dry-run'], launch: ['立即发送', 'launch'], pause: ['暂停', 'pause'], resume: ['恢复', 'resume'], cancel: ['取消', 'cancel'] };
/** The way a dry run's sample lead would go. */
const VIA: Words = { kf: ['客服', '客服'], mass: ['群发', 'mass message'], owner: ['提醒负责人', 'owner reminder'], enroll: ['加入培育', 'enrolled'], deferred: ['延后', 'deferred'], skipped: ['无可发内容', 'nothing to send'] };
/** Exclusion reasons (docs/ops-guide.md, "Campaigns"); Chinese from EXCLUSION_LABELS, as the run summary says them. */
const EXCLUDED_EN: Record<string, string> = { unsubscribed: 'opted out', lost: 'lost', customer: 'customers', paused: 'paused', noOwner: 'no owner' };
const FOLLOW_UP_STAGES = ['engaged', 'qualified', 'opportunity', 'customer', 'lost', 'unsubscribed'] as const;

const word = (table: Words, key: string, lang: Lang) => table[key]?.[lang === 'zh' ? 0 : 1] ?? key;
const excludedName = (reason: string, lang: Lang) => (lang === 'zh' ? EXCLUSION_LABELS[reason] : EXCLUDED_EN[reason]) ?? reason;

/** A run as staff tell runs apart: how it came (scheduled or launched) and its time in the ops time zone. */
function runLabel(r: { trigger: string; scheduledFor: Date }, lang: Lang, tz: string): string {
  return `${word(TRIGGER, r.trigger, lang)} ${shortTime(r.scheduledFor, tz)}`;
}

/** `a 1，b 2` of the non-zero counts, or null when all are zero. */
function counts(ctx: CampaignCommandContext, entries: ReadonlyArray<readonly [string, number]>): string | null {
  const shown = entries.filter(([, n]) => n).map(([name, n]) => `${name} ${n}`);
  return shown.length ? shown.join(ctx.t('，', ', ')) : null;
}

/** Owners with their tasks (and reminders), the first OWNERS_SHOWN of them. */
function ownerList(ctx: CampaignCommandContext, owners: ReadonlyArray<{ owner: string; tasks: number; customers: number; reminders: number }>): string {
  const { t } = ctx;
  const one = (o: (typeof owners)[number]) => {
    const tasks = o.tasks ? t(`${o.tasks} 个任务（${o.customers} 人）`, `${o.tasks} task${o.tasks === 1 ? '' : 's'} (${o.customers} customer${o.customers === 1 ? '' : 's'})`) : '';
    const reminders = o.reminders ? t(`${o.reminders} 条提醒`, `${o.reminders} reminder${o.reminders === 1 ? '' : 's'}`) : '';
    return `${o.owner} ${[tasks, reminders].filter(Boolean).join(' + ')}`;
  };
  const more = owners.length - OWNERS_SHOWN;
  return `${owners.slice(0, OWNERS_SHOWN).map(one).join(t('，', ', '))}${more > 0 ? t(`，另有 ${more} 人`, `, and ${more} more`) : ''}`;
}

/** The follow-up line of a run: reached, replied, clicked, link opens, stages first reached in the 7 days after. */
function followUpLine(ctx: CampaignCommandContext, f: FollowUp, tz: string): string {
  const { t, lang } = ctx;
  const last = f.finalAt ? new Date(f.finalAt) : null;
  const when = f.final
    ? t('最终', 'final')
    : last
      ? t(`截至 ${shortTime(f.asOf, tz)}，最终统计 ${shortTime(last, tz)}`, `as of ${shortTime(f.asOf, tz)}, final count ${shortTime(last, tz)}`)
      : t(`截至 ${shortTime(f.asOf, tz)}`, `as of ${shortTime(f.asOf, tz)}`);
  const stages = counts(ctx, FOLLOW_UP_STAGES.map((s) => [stageName(s, lang), f.stageMoves[s] ?? 0] as const));
  return t(
    `- 7 天跟进（${when}）：触达 ${f.reached}，回复 ${f.replied}，点击 ${f.clicked}，链接打开 ${f.linkClicks}；到达阶段：${stages ?? '无'}`,
    `- 7-day follow-up (${when}): reached ${f.reached}, replied ${f.replied}, clicked ${f.clicked}, link opens ${f.linkClicks}; stages reached: ${stages ?? 'none'}`,
  );
}

/** One run of `show`: its label and status, then its results, exclusions, owners' tasks and follow-up. */
function runBlock(ctx: CampaignCommandContext, r: RunView, tz: string): string[] {
  const { t, lang } = ctx;
  const x = r.results;
  const next = r.status === 'waiting' && r.nextAt ? t(`，下一轮 ${shortTime(r.nextAt, tz)}`, `, next pass ${shortTime(r.nextAt, tz)}`) : '';
  const lines = [`**${runLabel(r, lang, tz)}** · ${word(RUN_STATUS, r.status, lang)}${next}`];
  if (r.status === 'skipped' || r.status === 'missed') return lines;
  const optional = counts(ctx, [
    [t('未确认', 'unconfirmed'), x.unconfirmed],
    [t('已撤回', 'withdrawn'), x.withdrawn],
    [t('延后', 'deferred'), x.deferred],
    [t('无可发内容', 'nothing to send'), x.skipped],
    [t('加入培育', 'enrolled'), x.enrolled],
    [t('未加入培育', 'not enrolled'), x.notEnrolled],
  ]);
  // A run under way counts what it has done so far: its pages settled, and the tasks and reminders sent since.
  const soFar = !x.inProgress ? '' : r.status === 'running' ? t('截至目前（运行中，数字还会增加）：', 'so far (still running): ') : t('截至目前：', 'so far: ');
  lines.push(
    t(
      `- ${soFar}目标 ${x.targeted}，客服 ${x.sent}，群发待确认 ${x.waitingForOwner}，已确认 ${x.confirmed}，提醒 ${x.reminded}，非好友 ${x.notAFriend}，超上限 ${x.overCap}，失败 ${x.failed}，未知 ${x.unknown}${optional ? `，${optional}` : ''}`,
      `- ${soFar}targeted ${x.targeted}, 客服 sent ${x.sent}, waiting for owner ${x.waitingForOwner}, confirmed ${x.confirmed}, reminded ${x.reminded}, not a friend ${x.notAFriend}, over the cap ${x.overCap}, failed ${x.failed}, unknown ${x.unknown}${optional ? `, ${optional}` : ''}`,
    ),
  );
  const excluded = counts(ctx, Object.entries(x.excluded).map(([k, n]) => [excludedName(k, lang), n] as const));
  if (excluded) lines.push(t(`- 排除：${excluded}`, `- excluded: ${excluded}`));
  if (x.owners.length) lines.push(t(`- 各负责人：${ownerList(ctx, x.owners)}`, `- per owner: ${ownerList(ctx, x.owners)}`));
  if (r.followUp) lines.push(followUpLine(ctx, r.followUp, tz));
  return lines;
}

/** Where a campaign stands, in one word: cancelled or removed, else draft, else paused, else active. */
function campaignState(ctx: CampaignCommandContext, c: Pick<CampaignSummary, 'status' | 'draft' | 'paused'>): string {
  const { t, lang } = ctx;
  if (c.status !== 'active') return word(CAMPAIGN_STATUS, c.status, lang);
  return c.draft ? t('草稿', 'draft') : c.paused ? t('已暂停', 'paused') : word(CAMPAIGN_STATUS, 'active', lang);
}

/** Why a pause, resume or launch was refused for the campaign's state, in the answer's language. */
async function stateReason(ctx: CampaignCommandContext, key: string, err: CampaignError): Promise<string> {
  const { t, lang } = ctx;
  const c = await campaignOf(key);
  if (!c) return t('它已经不存在', 'it no longer exists');
  if (c.status !== 'active') return t(`它${word(CAMPAIGN_STATUS, c.status, lang)}`, `it is ${word(CAMPAIGN_STATUS, c.status, lang)}`);
  if (c.campaign.draft) return t('它是草稿：在定义里写 draft: false 才能运行', 'it is a draft: set draft: false to run it');
  if (c.paused) return t(`它已暂停：先恢复（群发 resume ${key}）`, `it is paused: resume it first (campaign resume ${key})`);
  const ran = await endedOneOffRun(c);
  if (ran) {
    const when = ran.finishedAt ? shortTime(ran.finishedAt, ctx.config.OPS_TIMEZONE) : '';
    return t(`它是一次性群发，唯一的一次运行${word(RUN_STATUS, ran.status, lang)}${when ? `（${when}）` : ''}，不会再发送，无需暂停`, `it is a one-off campaign whose only run ${ran.status === 'finished' ? 'finished' : 'was cancelled'}${when ? ` at ${when}` : ''}: it sends nothing more, so there is nothing to pause`);
  }
  return err.message;
}

/**
 * `群发` / `campaign` in the ops chat: list, show, dry-run, launch, pause, resume, cancel. Returns the reply
 * (markdown) in the command's language (docs/ops-guide.md, "Running the bot from the ops group"), times in
 * OPS_TIMEZONE; an answer that is not a success (the usage, no such campaign, a refusal) is a CommandError with its
 * outcome, as the audit records it. The chat command (handlers/commands/) only parses the message, says who typed it
 * and whether they are an admin, and posts this reply.
 */
export async function runCampaignCommand(ctx: CampaignCommandContext, input: CampaignCommandInput): Promise<string> {
  const { t, lang } = ctx;
  const usage = t(`用法：群发 ${SUBCOMMAND_USAGE}`, `Usage: campaign ${SUBCOMMAND_USAGE}`);
  const [typed, typedKey] = input.args;
  const sub = typed ? SUBCOMMANDS[foldWidth(typed).toLowerCase()] : undefined;
  // Campaign keys are half-width letters, digits, _ and - (src/content/campaigns.ts): one typed in full-width forms
  // names the same campaign.
  const key = typedKey === undefined ? undefined : foldWidth(typedKey);
  if (!sub) throw new CommandError('invalid_args', usage);
  if (sub !== 'list' && !key) throw new CommandError('invalid_args', t(`用法：群发 ${sub} <key>（群发 list 列出所有群发）`, `Usage: campaign ${sub} <key> (campaign list lists every campaign)`));
  const verb = word(VERB, sub, lang);
  if ((CAMPAIGN_COMMAND.adminOnly as readonly string[]).includes(sub) && !input.isAdmin) throw new CommandError('refused', t(`只有管理员可以${verb}群发：请联系运营群的管理员。`, `Only admins may ${verb} a campaign: ask an admin of the ops group.`));
  const tz = ctx.config.OPS_TIMEZONE;
  const none = () => new CommandError('not_found', t(`没有群发 ${key}。`, `No campaign ${key}.`));
  try {
    switch (sub) {
      case 'list': {
        const all = await campaignList(tz);
        if (!all.length) return t('还没有群发。', 'No campaigns yet.');
        return all
          .map((c) => {
            const state = c.status === 'active' && !c.draft && !c.paused ? (c.nextRunAt ? t(`下次 ${shortTime(c.nextRunAt, tz)}`, `next ${shortTime(c.nextRunAt, tz)}`) : t('没有下次运行', 'no run ahead')) : campaignState(ctx, c);
            const last = c.lastRun ? t(`；上次 ${shortTime(c.lastRun.scheduledFor, tz)} ${word(RUN_STATUS, c.lastRun.status, lang)}`, `; last ${shortTime(c.lastRun.scheduledFor, tz)} ${word(RUN_STATUS, c.lastRun.status, lang)}`) : '';
            return `- **${c.key}** ${c.name}${t('：', ': ')}${state}${last}`;
          })
          .join('\n');
      }
      case 'show': {
        const d = await campaignDetail(key!, RUNS_SHOWN + 1, tz);
        if (!d) throw none();
        const tags = `${d.source === 'file' ? t('模板', 'template') : 'API'} · ${campaignState(ctx, d)}`;
        const when = d.schedule.at
          ? t(`时间：${shortTime(d.schedule.at, tz)}（一次）`, `time: ${shortTime(d.schedule.at, tz)} (once)`)
          : t(`时间：cron \`${d.schedule.cron}\`（${d.schedule.timezone ?? tz}）`, `time: cron \`${d.schedule.cron}\` (${d.schedule.timezone ?? tz})`) + (d.nextRunAt ? t(`，下次 ${shortTime(d.nextRunAt, tz)}`, `, next ${shortTime(d.nextRunAt, tz)}`) : '');
        const lines = [`**${d.key}** ${d.name}${t(`（${tags}）`, ` (${tags})`)}`, when];
        if (!d.runs.length) lines.push(t('还没有运行过。', 'No runs yet.'));
        for (const r of d.runs.slice(0, RUNS_SHOWN)) lines.push(...runBlock(ctx, r, tz));
        if (d.runs.length > RUNS_SHOWN) lines.push(t(`更早的运行见管理后台的群发页面。`, `Earlier runs: the dashboard's campaign page.`));
        return lines.join('\n');
      }
      case 'dry-run': {
        const c = await campaignOf(key!);
        if (!c) throw none();
        const r = await dryRun(ctx, c.campaign);
        const excluded = counts(ctx, Object.entries(r.excluded).map(([k, n]) => [excludedName(k, lang), n] as const));
        const until = r.deferred.until ? t(`（至 ${shortTime(r.deferred.until, tz)}）`, ` (until ${shortTime(r.deferred.until, tz)})`) : '';
        return [
          t(`**${key} 预演**（不会发送）：目标 ${r.targeted} 人`, `**${key} dry run** (nothing is sent): ${r.targeted} targeted`),
          t(
            `途径：客服 ${r.byRoute.kf}，群发 ${r.byRoute.mass}，提醒负责人 ${r.byRoute.owner}${r.byRoute.enroll ? `，加入培育 ${r.byRoute.enroll}` : ''}`,
            `routes: 客服 ${r.byRoute.kf}, mass message ${r.byRoute.mass}, reminder to the owner ${r.byRoute.owner}${r.byRoute.enroll ? `, enrolled ${r.byRoute.enroll}` : ''}`,
          ),
          r.skipped ? t(`无可发内容（没有适合的案例）：${r.skipped}`, `nothing to send (no case study fits): ${r.skipped}`) : '',
          t(`排除：${excluded ?? '无'}`, `excluded: ${excluded ?? 'none'}`),
          t(
            `延后：达到每日上限 ${r.deferred.dailyCap}${r.deferred.quietHours ? `，静默时段 ${r.deferred.quietHours}${until}` : ''}`,
            `deferred: over the daily cap ${r.deferred.dailyCap}${r.deferred.quietHours ? `, quiet hours ${r.deferred.quietHours}${until}` : ''}`,
          ),
          r.owners.length ? t(`负责人需确认：${ownerList(ctx, r.owners)}${r.perLeadContent ? '（内容因人而异，任务会更多）' : ''}`, `owners to confirm: ${ownerList(ctx, r.owners)}${r.perLeadContent ? ' (the content differs per lead: more tasks)' : ''}`) : '',
          r.sample.length ? t(`示例：${r.sample.map((s) => `${s.name ?? s.id}（${word(VIA, s.via, lang)}）`).join('、')}`, `sample: ${r.sample.map((s) => `${s.name ?? s.id} (${word(VIA, s.via, lang)})`).join(', ')}`) : '',
        ]
          .filter(Boolean)
          .join('\n');
      }
      case 'launch': {
        const { run, created } = await launchCampaign(ctx, key!);
        const label = runLabel(run, lang, tz);
        return created
          ? t(`已开始运行 ${key}（${label}），完成后在运营群通报结果。`, `Started ${key} (${label}); the ops group gets its results when it ends.`)
          : t(`${key} 已有这次运行（${label}，${word(RUN_STATUS, run.status, lang)}），不会重复发送。`, `${key} already has this run (${label}, ${word(RUN_STATUS, run.status, lang)}); nothing is sent twice.`);
      }
      case 'pause': {
        const { changed } = await pauseCampaign(ctx, key!, input.actor);
        if (!changed) return t(`${key} 本来就是暂停的。`, `${key} was already paused.`);
        // A draft never runs: what the pause does is keep it from running once it is no longer one.
        if ((await campaignOf(key!))?.campaign.draft) return t(`已暂停 ${key}：它还是草稿，本来就不会运行；去掉 draft 后也保持暂停，直到恢复。`, `Paused ${key}: it is a draft, which never runs; once it is not, it stays paused until resumed.`);
        return t(`已暂停 ${key}：正在进行的发送在下一批之前停下，已发出的不受影响。`, `Paused ${key}: a run under way stops before its next batch; what was sent stays sent.`);
      }
      case 'resume': {
        const { changed, runs } = await resumeCampaign(ctx, key!, input.actor);
        return changed
          ? t(`已恢复 ${key}${runs ? `：${runs} 次运行从停下的地方继续，已发出的不会重发` : ''}。`, `Resumed ${key}${runs ? `: ${runs} run${runs === 1 ? '' : 's'} go on from where they stopped; nothing sent is sent again` : ''}.`)
          : t(`${key} 没有暂停。`, `${key} is not paused.`);
      }
      case 'cancel': {
        const { changed, withdrawn } = await cancelCampaign(ctx, key!, input.actor);
        return changed
          ? t(`已取消 ${key}：不再运行，未发出的不会再发${withdrawn ? `；已撤回 ${withdrawn} 个负责人尚未确认的群发任务` : ''}。`, `Cancelled ${key}: it never runs again and nothing unsent is sent${withdrawn ? `; ${withdrawn} mass-message task${withdrawn === 1 ? '' : 's'} the owners had not confirmed ${withdrawn === 1 ? 'was' : 'were'} withdrawn` : ''}.`)
          : t(`${key} 早已取消。`, `${key} was already cancelled.`);
      }
    }
  } catch (err) {
    if (!(err instanceof CampaignError)) throw err;
    if (err.code === 'not_found') throw none();
    const why = err.code === 'state' ? await stateReason(ctx, key!, err) : err.message;
    throw new CommandError('rejected', t(`不能${verb} ${key}：${why}。`, `Cannot ${verb} ${key}: ${why}.`));
  }
  throw new CommandError('invalid_args', usage);
}
