import type { ChannelCatalog } from '../../content/channels.js';
import { ChannelRecord } from '../../store/models/channel-record.js';
import { funnel } from '../funnel/funnel.js';

/** Every channel as ops see it: where it is defined, its settings, its 联系我 code, and its funnel since it started. */
export async function channelOverview(channels: ChannelCatalog) {
  const [records, all] = await Promise.all([ChannelRecord.find({}).lean(), funnel({ from: '0000-01-01', to: '9999-12-31' })]);
  return channels.all().map((c) => {
    const rec = records.find((r) => r.key === c.key);
    const f = all.channels.find((x) => x.channel === c.key);
    return {
      key: c.key,
      name: c.name,
      source: channels.isTemplate(c.key) ? ('templates' as const) : ('command' as const),
      tags: c.tags,
      welcome: Boolean(c.welcome),
      sequence: c.sequence ?? null,
      owners: c.owners,
      cost: c.cost ?? null,
      qrCode: rec?.qrCode ?? null,
      configId: rec?.configId ?? null,
      syncedAt: rec?.syncedAt ?? null,
      // The 微信客服 link a customer enters by (its scene attributes them to the channel [D:94665]); its URL once synced.
      kf: c.kf ? { scene: c.kf.scene ?? c.key, openKfid: rec?.kfOpenKfid ?? null, url: rec?.kfUrl ?? null } : null,
      counts: {
        added: f?.added ?? 0,
        engaged: f?.engaged ?? 0,
        qualified: f?.qualified ?? 0,
        opportunity: f?.opportunity ?? 0,
        customer: f?.customer ?? 0,
        lost: f?.lost ?? 0,
        unsubscribed: f?.unsubscribed ?? 0,
        grades: f?.grades ?? { S: 0, A: 0, B: 0, C: 0 },
      },
    };
  });
}
