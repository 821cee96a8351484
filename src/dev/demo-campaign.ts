import { parseCampaign } from '../content/campaigns.js';
import { campaignDeliveryKey } from '../domain/campaigns/send-record.js';
import { INDUSTRY_GROUP } from '../domain/leads/profile.js';
import { DAY, HOUR, type DemoLead, type DemoRandom, type DemoTimeline } from './demo-kinds.js';

export const DEMO_CAMPAIGN = 'demo-case-roundup';

/**
 * The demo's finished campaign (docs/setup.md, "Demo data"): a one-off mass message, five days ago, to the
 * manufacturing leads still in the funnel, grouped into one task per owner as a real run does; each owner confirmed
 * most of it, WeCom delivered it, and the 7-day follow-up counted who replied, clicked or moved on. Written as the run
 * would have left it (campaign, run, groups, deliveries, timeline steps); returns the documents to insert.
 */
export function demoCampaign(d: { leads: DemoLead[]; timelines: Map<string, DemoTimeline>; r: DemoRandom; now: number }) {
  const { leads, timelines, r, now } = d;
  // 10:00 Beijing time, five days ago.
  const at = new Date(Math.floor((now - 5 * DAY) / DAY) * DAY + 2 * HOUR);
  const definition = {
    key: DEMO_CAMPAIGN,
    name: '11 月制造业案例合集',
    kind: 'marketing',
    segment: { tags: { all: [`${INDUSTRY_GROUP}/制造业`] } },
    content: {
      text: '您好，整理了三家制造业客户上线后的做法和数据，供您参考。',
      link: { title: '制造业案例合集', url: 'https://example.com/cases/manufacturing', desc: '排产、质量追溯、设备联网' },
    },
    schedule: { at: at.toISOString() },
    ownerNote: '本月案例合集，文案已审核，请在群发助手中确认发送。',
  };
  const parsed = parseCampaign(definition);
  if (!parsed.value) throw new Error(`demo campaign is not valid: ${parsed.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
  const runId = `${DEMO_CAMPAIGN}|at`;
  const segment = leads.filter((l) => l.firstTouch.at < at && l.tags.some((t) => t.group === INDUSTRY_GROUP && t.name === '制造业'));
  const excluded: Record<string, number> = {};
  const byOwner = new Map<string, DemoLead[]>();
  for (const l of segment) {
    const reason = l.stage === 'unsubscribed' ? 'unsubscribed' : l.stage === 'lost' ? 'lost' : l.stage === 'customer' ? 'customer' : null;
    if (reason) {
      excluded[reason] = (excluded[reason] ?? 0) + 1;
      continue;
    }
    const owner = l.owners.find((o) => o.status === 'active')?.userId ?? l.firstTouch.userId;
    byOwner.set(owner, [...(byOwner.get(owner) ?? []), l]);
  }
  const groups: Array<Record<string, unknown>> = [];
  const deliveries: Array<Record<string, unknown>> = [];
  const tally = { sent: 0, notAFriend: 0, capped: 0, unconfirmed: 0 };
  let targeted = 0;
  let n = 0;
  let reached = 0;
  let replied = 0;
  let clicked = 0;
  const stageMoves: Record<string, number> = { engaged: 0, qualified: 0, opportunity: 0, customer: 0, lost: 0, unsubscribed: 0 };
  for (const [owner, list] of byOwner) {
    const groupKey = `cg|${runId}|${n++}`;
    const g = { sent: 0, notAFriend: 0, capped: 0, unsent: 0, unconfirmed: 0 };
    const confirmedAt = new Date(at.getTime() + r.between(0.5, 5) * HOUR);
    let clicks = 0;
    for (const l of list) {
      targeted++;
      const fate = r.chance(0.9) ? 'sent' : r.chance(0.5) ? 'notAFriend' : 'capped';
      g[fate]++;
      const key = campaignDeliveryKey(runId, l._id);
      const status = fate === 'sent' ? 'sent' : fate === 'notAFriend' ? 'failed' : 'capped';
      deliveries.push({ _id: key, key, kind: 'campaign', corpId: l.corpId, externalUserId: l.externalUserId, userId: owner, status, via: 'mass', attempts: 1, sentAt: fate === 'sent' ? confirmedAt : null, group: groupKey, reason: fate === 'notAFriend' ? 'not_a_contact_of_sender' : fate === 'capped' ? 'mass_quota' : null });
      const timeline = timelines.get(l._id)!;
      timeline.entries.push({ id: `${key}#campaign_submitted`, type: 'campaign_submitted', at, detail: { campaign: DEMO_CAMPAIGN, run: runId, via: 'mass', group: groupKey } });
      if (fate !== 'sent') continue;
      timeline.entries.push({ id: `${key}#campaign_sent`, type: 'campaign_sent', at: confirmedAt, detail: { campaign: DEMO_CAMPAIGN, run: runId, via: 'mass', group: groupKey } });
      reached++;
      if (r.chance(0.25)) {
        const c = new Date(confirmedAt.getTime() + r.between(0.2, 30) * HOUR);
        clicks++;
        clicked++;
        l.touches.push({ eventKey: `demo-campaign-click-${l.externalUserId}`, kind: 'click', channelKey: l.firstTouch.channelKey, userId: null, at: c, ref: null });
        if (c > l.lastTouchAt) l.lastTouchAt = c;
        timeline.entries.push({ id: `${groupKey}|${l.externalUserId}|click#link_clicked`, type: 'link_clicked', at: c, detail: { delivery: groupKey, url: definition.content.link.url } });
      }
      const inWeek = (x: Date | undefined) => Boolean(x && x > confirmedAt && x.getTime() <= confirmedAt.getTime() + 7 * DAY);
      if (l.touches.some((x) => (x.kind === 'reply' || x.kind === 'kf_conversation') && inWeek(x.at as Date))) replied++;
      for (const s of ['engaged', 'qualified', 'opportunity', 'customer'] as const) if (inWeek(l.reached[s])) stageMoves[s]!++;
    }
    for (const k of ['sent', 'notAFriend', 'capped', 'unconfirmed'] as const) tally[k] += g[k];
    groups.push({ _id: groupKey, runId, campaignKey: DEMO_CAMPAIGN, corpId: list[0]!.corpId, via: 'mass', sender: owner, size: list.length, refused: 0, msgid: `demo-msg-${n}`, deliveryKeyPrefix: `campaign|${runId}|`, status: 'settled', tally: g, content: null, clicks, lastClickAt: null, settledAt: new Date(at.getTime() + DAY), createdAt: at, updatedAt: new Date(at.getTime() + DAY) });
  }
  const finishedAt = new Date(at.getTime() + 2 * 60_000);
  const run = {
    _id: runId,
    campaignKey: DEMO_CAMPAIGN,
    trigger: 'schedule',
    scheduledFor: at,
    definition,
    status: 'finished',
    reason: null,
    pass: 0,
    windowEndsAt: new Date(at.getTime() + 3 * DAY),
    startedAt: at,
    finishedAt,
    counters: { targeted, excluded, routes: { mass: targeted }, outcomes: { mass_submitted: targeted }, deferred: 0, enrolled: 0, notEnrolled: 0, waiting: 0 },
    // The first day's count, as the bot stores it: the final one is due 7 days after the run.
    followUp: { asOf: new Date(at.getTime() + DAY), final: false, finalAt: new Date(finishedAt.getTime() + 7 * DAY), reached, replied, clicked, linkClicks: clicked, stageMoves },
    createdAt: at,
    updatedAt: finishedAt,
  };
  const campaign = { _id: DEMO_CAMPAIGN, name: definition.name, source: 'api', definition, status: 'active', createdBy: 'demo', createdAt: new Date(at.getTime() - 2 * DAY), updatedAt: new Date(at.getTime() - 2 * DAY) };
  return { campaign, run, groups, deliveries };
}
