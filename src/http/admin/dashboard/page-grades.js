// Grades: the distribution overall and per channel, and the S/A leads waiting for follow-up.
import { api } from './api.js';
import { t } from './i18n.js';
import { card, chart, GRADE_COLORS, gradeBadge, h, leadLink, openLead, stageBadge, table, when } from './ui.js';

const GRADES = ['S', 'A', 'B', 'C'];

export async function gradesPage() {
  const [board, channels] = await Promise.all([api('/grades'), api('/channels')]);
  const names = new Map(channels.map((c) => [c.key, c.name]));
  const overall = chart({
    type: 'doughnut',
    data: { labels: GRADES, datasets: [{ data: GRADES.map((g) => board.overall[g]), backgroundColor: GRADES.map((g) => GRADE_COLORS[g]) }] },
    options: { plugins: { legend: { position: 'bottom' } } },
  }, true);
  const perChannel = chart({
    type: 'bar',
    data: {
      labels: board.channels.map((c) => names.get(c.channel) ?? c.channel),
      datasets: GRADES.map((g) => ({ label: g, data: board.channels.map((c) => c[g]), backgroundColor: GRADE_COLORS[g] })),
    },
    options: { plugins: { legend: { position: 'bottom' } }, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } },
  }, true);
  const counts = h('p', { class: 'muted', 'data-testid': 'grade-counts' }, GRADES.map((g) => `${g} ${board.overall[g]}`).join(' · '));
  const waiting = table([
    { label: t('col.name'), render: (l) => leadLink(l.id, l.name ?? l.externalUserId) },
    { label: t('col.grade'), render: (l) => gradeBadge(l.grade) },
    { label: t('col.stage'), render: (l) => stageBadge(l.stage) },
    { label: t('col.channel'), render: (l) => names.get(l.channel) ?? l.channel ?? '—' },
    { label: t('col.owner'), render: (l) => l.owners.filter((o) => o.status === 'active').map((o) => o.userId).join(', ') || '—' },
    { label: t('col.lastTouch'), render: (l) => when(l.lastTouchAt) },
  ], board.waiting, (l) => openLead(l.id));
  return h('div', {},
    h('h1', {}, t('grades.title')),
    h('div', { class: 'grid' }, card(t('grades.overall'), overall, counts), card(t('grades.perChannel'), perChannel)),
    card(t('grades.waiting'), h('p', { class: 'note' }, t('grades.waitingNote')), waiting));
}
