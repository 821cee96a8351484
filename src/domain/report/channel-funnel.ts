import type { ChannelCatalog } from '../../content/channels.js';
import type { Config } from '../../config.js';
import { findChannel } from '../channels/find-channel.js';
import { CommandError, translator, type Lang } from '../commands/command.js';
import { percent, table } from '../commands/markdown.js';
import { resolvePeriod, type PeriodSpec } from '../commands/period.js';
import { funnel, type FunnelCounts } from '../funnel/funnel.js';

/**
 * The funnel of the leads added in a period, per channel (or one channel), as a markdown table: adds, each stage
 * reached, conversion from added to qualified and to customer, lost, unsubscribed. Read from the funnel rollups.
 */
export async function channelFunnel(ctx: { channels: ChannelCatalog; config: Pick<Config, 'OPS_TIMEZONE'>; lang: Lang }, period: PeriodSpec, channelArg?: string): Promise<string> {
  const t = translator(ctx.lang);
  const channel = channelArg ? findChannel(ctx.channels, channelArg) : undefined;
  if (channelArg && !channel) {
    const known = ctx.channels.all().map((c) => c.key).join(', ');
    throw new CommandError('not_found', t(`没有「${channelArg}」这个渠道。现有渠道：${known}`, `No channel "${channelArg}". Channels: ${known}`));
  }
  const { from, to } = resolvePeriod(period, Date.now(), ctx.config.OPS_TIMEZONE);
  const f = await funnel({ from, to, channel: channel?.key });
  const title = t(`**渠道漏斗 ${from}${from === to ? '' : ` ~ ${to}`}**（按添加日期）`, `**Funnel ${from}${from === to ? '' : ` to ${to}`}** (by day added)`);
  if (!f.channels.length) return `${title}\n${t('这段时间没有新增线索。', 'No leads were added in this period.')}`;
  const name = (key: string) => {
    const c = ctx.channels.get(key);
    return c && c.name !== key ? `${c.name}（${key}）` : key;
  };
  const row = (label: string, c: FunnelCounts) => [label, c.added, c.engaged, c.qualified, c.opportunity, c.customer, percent(c.conversion.added_qualified), percent(c.conversion.added_customer), c.lost, c.unsubscribed];
  const head = ctx.lang === 'zh'
    ? ['渠道', '新增', '互动', '合格', '商机', '成交', '合格率', '成交率', '流失', '退订']
    : ['channel', 'added', 'engaged', 'qualified', 'opportunity', 'customer', 'to qualified', 'to customer', 'lost', 'unsubscribed'];
  const rows = f.channels.map((c) => row(name(c.channel), c));
  if (f.channels.length > 1) rows.push(row(t('**合计**', '**total**'), f.total));
  return `${title}\n${table(head, rows)}`;
}
