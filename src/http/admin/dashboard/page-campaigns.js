// Campaigns: every campaign with its schedule, next and last run (#/campaigns), and one campaign's runs with their
// results and the 7-day follow-up (#/campaigns/<key>).
import { api } from './api.js';
import { t } from './i18n.js';
import { card, chart, h, num, optional, table, when } from './ui.js';

/** What a run's results are drawn as, in order: delivered, waiting on an owner, then what went wrong. */
const OUTCOMES = [
  ['sent', '#16a34a'], ['confirmed', '#22c55e'], ['waitingForOwner', '#f59e0b'], ['reminded', '#60a5fa'], ['enrolled', '#2563eb'],
  ['deferred', '#a78bfa'], ['withdrawn', '#cbd5e1'], ['notAFriend', '#94a3b8'], ['overCap', '#64748b'], ['failed', '#dc2626'], ['unknown', '#9ca3af'],
];
const runBadge = (s) => h('span', { class: `badge run-${s}` }, t(`run.${s}`));
/**
 * A campaign's state in words. A cancelled (or removed) campaign is that, although it keeps a pause so that its
 * senders stop: only an active campaign shows as paused or as a draft.
 */
const campaignState = (c) => (c.status !== 'active' ? t(`campaign.status.${c.status}`) : c.draft ? t('campaign.draft') : c.paused ? t('campaign.paused') : t('campaign.status.active'));
const schedule = (s) => (s.at ? when(s.at) : s.cron ? `${s.cron}${s.timezone ? ` (${s.timezone})` : ''}` : '—');

export async function campaignsPage({ rest }) {
  if (rest?.length) return campaignPage(rest[0]);
  const campaigns = await optional(api('/campaigns'));
  if (!campaigns) return h('div', {}, h('h1', {}, t('campaigns.title')), card(null, h('p', { class: 'muted' }, t('error.notAvailable'))));
  const list = table([
    { label: t('col.campaign'), render: (c) => h('a', { href: `#/campaigns/${encodeURIComponent(c.key)}` }, c.name) },
    { label: t('col.kind'), render: (c) => t(`campaign.kind.${c.kind}`) },
    { label: t('col.schedule'), render: (c) => schedule(c.schedule) },
    { label: t('col.status'), render: (c) => campaignState(c) },
    { label: t('col.nextRun'), render: (c) => when(c.nextRunAt) },
    { label: t('col.lastRun'), render: (c) => (c.lastRun ? h('span', {}, runBadge(c.lastRun.status), ' ', when(c.lastRun.scheduledFor)) : '—') },
  ], campaigns, (c) => { location.hash = `#/campaigns/${encodeURIComponent(c.key)}`; });
  list.dataset.testid = 'campaign-list';
  return h('div', {}, h('h1', {}, t('campaigns.title')), card(null, h('p', { class: 'note' }, t('campaigns.note')), list));
}

async function campaignPage(key) {
  const c = await api(`/campaigns/${encodeURIComponent(key)}`);
  const runs = [...c.runs].reverse(); // oldest first in the chart
  // Only the outcomes some run had: a column of zeros says nothing.
  const outcomes = OUTCOMES.filter(([k]) => c.runs.some((r) => r.results[k]));
  const graph = chart({
    type: 'bar',
    data: {
      labels: runs.map((r) => when(r.scheduledFor)),
      datasets: outcomes.map(([k, color]) => ({ label: t(`result.${k}`), data: runs.map((r) => r.results[k]), backgroundColor: color })),
    },
    options: { plugins: { legend: { position: 'bottom' } }, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } },
  });
  const follow = (r, k) => (r.followUp ? num(k === 'moves' ? Object.values(r.followUp.stageMoves ?? {}).reduce((a, b) => a + b, 0) : r.followUp[k]) : '—');
  const runTable = table([
    { label: t('col.runAt'), render: (r) => when(r.scheduledFor) },
    { label: t('col.status'), render: (r) => runBadge(r.status) },
    { label: t('col.audience'), num: true, render: (r) => num(r.results.targeted) },
    ...outcomes.map(([k]) => ({ label: t(`result.${k}`), num: true, render: (r) => num(r.results[k]) })),
    { label: t('col.replies'), num: true, render: (r) => follow(r, 'replied') },
    { label: t('col.clicks'), num: true, render: (r) => follow(r, 'clicked') },
    { label: t('col.stageMoves'), num: true, render: (r) => follow(r, 'moves') },
    // Counted a day after and at 7 days (later for leads reached late): whether these numbers are the last.
    { label: t('col.followUp'), render: (r) => (!r.followUp ? '—' : r.followUp.final ? t('follow.final') : t('follow.asOf', { asOf: when(r.followUp.asOf), finalAt: r.followUp.finalAt ? when(r.followUp.finalAt) : '—' })) },
  ], c.runs);
  runTable.dataset.testid = 'campaign-runs';
  const owners = c.runs[0]?.results.owners ?? [];
  return h('div', {},
    h('p', {}, h('a', { href: '#/campaigns' }, t('campaigns.back'))),
    h('h1', {}, c.name, h('span', { class: 'muted' }, `  ${c.key} · ${t(`campaign.kind.${c.kind}`)} · ${schedule(c.schedule)} · `, h('span', { 'data-testid': 'campaign-state' }, campaignState(c)))),
    c.runs.length ? card(t('campaigns.results'), graph) : null,
    card(t('campaigns.runs'), h('p', { class: 'note' }, t('campaigns.runsNote')), runTable),
    owners.length ? card(t('campaigns.owners'), table([
      { label: t('col.owner'), render: (o) => o.owner },
      { label: t('col.tasks'), num: true, render: (o) => num(o.tasks) },
      { label: t('col.customers'), num: true, render: (o) => num(o.customers) },
      { label: t('col.reminders'), num: true, render: (o) => num(o.reminders) },
    ], owners)) : null);
}
