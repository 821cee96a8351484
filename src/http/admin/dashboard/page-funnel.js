// Funnel per channel for a period: the leads added in it and how far they got, a chart and a table with conversion,
// median first response and cost per lead (the channel's cost over all the leads it brought).
import { api, qs } from './api.js';
import { t } from './i18n.js';
import { card, chart, duration, h, kpis, num, optional, pct, period, periodFailed, STAGE_COLORS, table } from './ui.js';

const STAGES = ['added', 'engaged', 'qualified', 'opportunity', 'customer'];
/** The longest period GET /service answers (one read per day); the funnel takes any. */
const SERVICE_MAX_DAYS = 366;
const DAY = 86_400_000;

export async function funnelPage({ query }) {
  const { from, to, picker } = period('funnel', query, 30);
  // A period longer than that shows its funnel with no first-response times (—), not an error.
  const days = (Date.parse(to) - Date.parse(from)) / DAY + 1;
  let f, channels, service;
  try {
    [f, channels, service] = await Promise.all([
      api(`/funnel${qs({ from, to })}`),
      api('/channels'),
      days <= SERVICE_MAX_DAYS ? optional(api(`/service${qs({ from, to })}`)) : null,
    ]);
  } catch (err) {
    return periodFailed(t('funnel.title'), picker, err);
  }
  const byKey = new Map(channels.map((c) => [c.key, c]));
  const responses = new Map((service?.channels ?? []).map((c) => [c.name, c.medianSeconds]));
  const name = (key) => byKey.get(key)?.name ?? key;

  const total = f.total;
  const figures = kpis([['added', total.added], ['qualified', total.qualified], ['customer', total.customer], ['lost', total.lost]].map(([k, v]) => [k, num(v), t(`kpi.${k}`)]), 'kpis');

  const rows = f.channels.map((c) => {
    // A channel's cost is its spend so far (channels.yaml), not the period's: per lead, it is shared by every lead the
    // channel brought since it started (GET /channels), not by the period's adds alone.
    const channel = byKey.get(c.channel);
    const cost = channel?.cost ?? null;
    const brought = channel?.counts.added ?? 0;
    return { ...c, name: name(c.channel), cost, cpl: cost !== null && brought ? cost / brought : null, firstResponse: responses.get(c.channel) ?? null };
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
    figures,
    card(t('funnel.chart'), graph),
    card(t('funnel.table'), list));
}
