// Funnel per channel for a period: the leads added in it and how far they got, a chart and a table with conversion,
// median first response and cost per lead.
import { api, qs } from './api.js';
import { t } from './i18n.js';
import { card, chart, duration, h, num, optional, pct, STAGE_COLORS, table } from './ui.js';

const STAGES = ['added', 'engaged', 'qualified', 'opportunity', 'customer'];
const DAY = 86_400_000;
const isoDay = (ms) => new Date(ms).toISOString().slice(0, 10);

export async function funnelPage({ query }) {
  const to = query.get('to') ?? isoDay(Date.now());
  const from = query.get('from') ?? isoDay(Date.parse(to) - 29 * DAY);
  const [f, channels, service] = await Promise.all([api(`/funnel${qs({ from, to })}`), api('/channels'), optional(api(`/service${qs({ from, to })}`))]);
  const byKey = new Map(channels.map((c) => [c.key, c]));
  const responses = new Map((service?.channels ?? []).map((c) => [c.channel, c.firstResponseMedianSeconds]));
  const name = (key) => byKey.get(key)?.name ?? key;

  const go = (a, b) => { location.hash = `#/funnel${qs({ from: a, to: b })}`; };
  const fromInput = h('input', { type: 'date', name: 'from', value: from });
  const toInput = h('input', { type: 'date', name: 'to', value: to });
  const periods = [7, 30, 90].map((n) => h('button', { type: 'button', class: 'ghost small', onclick: () => go(isoDay(Date.now() - (n - 1) * DAY), isoDay(Date.now())) }, t(`period.${n}`)));
  const picker = h('form', { class: 'row', onsubmit: (e) => { e.preventDefault(); go(fromInput.value, toInput.value); } },
    ...periods, h('span', { class: 'muted' }, t('period.from')), fromInput, h('span', { class: 'muted' }, t('period.to')), toInput,
    h('button', { type: 'submit', class: 'small' }, t('period.apply')));

  const total = f.total;
  const kpis = h('div', { class: 'kpis', 'data-testid': 'kpis' },
    [['added', total.added], ['qualified', total.qualified], ['customer', total.customer], ['lost', total.lost]].map(([k, v]) =>
      h('div', { class: 'kpi', 'data-kpi': k }, h('b', {}, num(v)), h('span', {}, t(`kpi.${k}`)))));

  const rows = f.channels.map((c) => {
    const cost = byKey.get(c.channel)?.cost ?? null;
    return { ...c, name: name(c.channel), cost, cpl: cost !== null && c.added ? cost / c.added : null, firstResponse: responses.get(c.channel) ?? null };
  });
  const graph = chart({
    type: 'bar',
    data: {
      labels: rows.map((r) => r.name),
      datasets: STAGES.map((s) => ({ label: t(`stage.${s}`), data: rows.map((r) => r[s]), backgroundColor: STAGE_COLORS[s] })),
    },
    options: { plugins: { legend: { position: 'bottom' } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
  const money = (x) => (x === null ? '—' : x.toLocaleString(undefined, { maximumFractionDigits: 2 }));
  const list = table([
    { label: t('col.channel'), render: (r) => r.name },
    { label: t('col.added'), num: true, render: (r) => num(r.added) },
    { label: t('col.toQualified'), num: true, render: (r) => pct(r.conversion.added_qualified) },
    { label: t('col.toCustomer'), num: true, render: (r) => pct(r.conversion.added_customer) },
    { label: t('col.lost'), num: true, render: (r) => num(r.lost) },
    { label: t('col.unsubscribed'), num: true, render: (r) => num(r.unsubscribed) },
    { label: t('col.firstResponse'), num: true, render: (r) => duration(r.firstResponse) },
    { label: t('col.cost'), num: true, render: (r) => money(r.cost) },
    { label: t('col.cpl'), num: true, render: (r) => money(r.cpl) },
  ], rows, (r) => { location.hash = `#/leads${qs({ channel: r.channel })}`; });
  list.dataset.testid = 'funnel-table';

  return h('div', {},
    h('h1', {}, t('funnel.title'), h('span', { class: 'muted' }, `  ${f.from} – ${f.to}`)),
    card(null, picker),
    kpis,
    card(t('funnel.chart'), graph),
    card(t('funnel.table'), list));
}
