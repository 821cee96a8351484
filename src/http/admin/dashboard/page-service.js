// Service (微信客服): customers waiting for a person now, first-response times per servicer and channel for a period,
// and the latest answers that came past their target.
import { api, qs } from './api.js';
import { t } from './i18n.js';
import { card, duration, gradeBadge, h, kpis, leadLink, num, openLead, optional, period, periodFailed, table, when } from './ui.js';

const LEVELS = ['ok', 'over', 'overTwice'];
const levelBadge = (level) => h('span', { class: `badge level-${LEVELS[level] ?? 'ok'}` }, t(`service.level.${LEVELS[level] ?? 'ok'}`));

/** A table of response times per group (servicer or channel). */
function responseTable(firstCol, groups, nameOf = (n) => n) {
  return table([
    { label: firstCol, render: (g) => nameOf(g.name) },
    { label: t('col.handled'), num: true, render: (g) => num(g.count) },
    { label: t('col.median'), num: true, render: (g) => duration(g.medianSeconds) },
    { label: t('col.p90'), num: true, render: (g) => duration(g.p90Seconds) },
    { label: t('col.overTarget'), num: true, render: (g) => num(g.overTarget) },
    { label: t('col.overTwice'), num: true, render: (g) => num(g.overTwiceTarget) },
  ], groups);
}

export async function servicePage({ query }) {
  const { from, to, picker } = period('service', query, 7);
  let stats, waiting, channels;
  try {
    [stats, waiting, channels] = await Promise.all([optional(api(`/service${qs({ from, to })}`)), optional(api('/service/waiting')), api('/channels')]);
  } catch (err) {
    return periodFailed(t('service.title'), picker, err);
  }
  if (!stats || !waiting) return h('div', {}, h('h1', {}, t('service.title')), card(null, h('p', { class: 'muted' }, t('error.notAvailable'))));
  const channelName = (key) => channels.find((c) => c.key === key)?.name ?? key;
  // Of every waiting customer, not only the 200 listed.
  const late = waiting.late;

  const figures = kpis([
    ['waiting', num(waiting.total), t('service.kpi.waiting')],
    ['late', num(late), t('service.kpi.late')],
    ['handled', num(stats.total.count), t('service.kpi.handled')],
    ['median', duration(stats.total.medianSeconds), t('service.kpi.median')],
    ['breaches', num(stats.total.overTarget), t('service.kpi.breaches')],
  ], 'service-kpis');

  const waitingTable = table([
    { label: t('col.name'), render: (w) => leadLink(w.id, w.name ?? w.externalUserId) },
    { label: t('col.grade'), render: (w) => gradeBadge(w.grade) },
    { label: t('col.waitingSince'), render: (w) => when(w.since) },
    { label: t('col.waited'), num: true, render: (w) => duration(w.waitedSeconds) },
    { label: t('col.target'), num: true, render: (w) => duration(w.targetSeconds) },
    { label: t('col.status'), render: (w) => levelBadge(w.level) },
    { label: t('col.servicer'), render: (w) => w.servicer ?? '—' },
    { label: t('col.message'), render: (w) => w.excerpt || '—' },
  ], waiting.items, (w) => openLead(w.id));
  waitingTable.dataset.testid = 'service-waiting';

  const breaches = table([
    { label: t('col.name'), render: (b) => leadLink(b.lead, b.name ?? b.lead.split(':').slice(1).join(':')) },
    { label: t('col.servicer'), render: (b) => b.servicer ?? '—' },
    { label: t('col.channel'), render: (b) => (b.channel ? channelName(b.channel) : '—') },
    { label: t('col.waitingSince'), render: (b) => when(b.startedAt) },
    { label: t('col.response'), num: true, render: (b) => duration(b.serviceSeconds) },
    { label: t('col.target'), num: true, render: (b) => duration(b.targetSeconds) },
  ], stats.breaches);
  breaches.dataset.testid = 'service-breaches';

  const servicers = responseTable(t('col.servicer'), stats.servicers);
  servicers.dataset.testid = 'service-servicers';
  return h('div', {},
    h('h1', {}, t('service.title'), h('span', { class: 'muted' }, `  ${stats.from} – ${stats.to}`)),
    figures,
    card(t('service.waiting'), h('p', { class: 'note' }, t('service.waitingNote', { total: waiting.total })), waitingTable),
    card(null, picker),
    h('p', { class: 'note', 'data-testid': 'service-response-note' }, t('service.responseNote')),
    h('div', { class: 'grid' },
      card(t('service.servicers'), servicers),
      card(t('service.channels'), responseTable(t('col.channel'), stats.channels, channelName))),
    card(t('service.breaches'), h('p', { class: 'note' }, t('service.breachesNote')), breaches));
}
