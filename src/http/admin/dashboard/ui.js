// Small DOM helpers shared by the pages.
import { qs } from './api.js';
import { t, lang } from './i18n.js';

/** Builds an element: h('td', {class: 'num'}, 'text', child, ...). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

/** A table of `rows` (objects) with `cols` [{key, label, num, render}]; `onRow` makes rows clickable. */
export function table(cols, rows, onRow) {
  return h('div', { class: 'table-wrap' },
    h('table', {},
      h('thead', {}, h('tr', {}, cols.map((c) => h('th', { class: c.num ? 'num' : '' }, c.label)))),
      h('tbody', {}, rows.length ? rows.map((r) => h('tr', { class: onRow ? 'click' : '', onclick: onRow ? () => onRow(r) : undefined },
        cols.map((c) => h('td', { class: c.num ? 'num' : '' }, c.render ? c.render(r) : (r[c.key] ?? '—'))))) : h('tr', {}, h('td', { colspan: cols.length, class: 'muted' }, t('none')))),
    ));
}

/** A link to a lead's page, and going there (a table row's click). */
export const leadLink = (id, label) => h('a', { href: `#/leads/${encodeURIComponent(id)}` }, label);
export const openLead = (id) => { location.hash = `#/leads/${encodeURIComponent(id)}`; };

export const gradeBadge = (g) => h('span', { class: `badge grade ${g}` }, g);
export const stageBadge = (s) => h('span', { class: `badge st-${s}` }, t(`stage.${s}`));
export const statusBadge = (s) => h('span', { class: `badge st-${s}` }, t(`status.${s}`));
export const pct = (x) => (x === null || x === undefined ? '—' : `${(x * 100).toFixed(1)}%`);
export const num = (x) => (x === null || x === undefined ? '—' : Number(x).toLocaleString(lang() === 'zh' ? 'zh-CN' : 'en-US'));

/** The ops team's time zone (OPS_TIMEZONE, named by the page): the admin API counts days in it. */
const OPS_TIMEZONE = document.querySelector('meta[name="ops-timezone"]')?.content || undefined;

/**
 * A date and time in OPS_TIMEZONE, short, whatever the browser's zone: every time on the dashboard is shown by this,
 * so a lead's timeline, a campaign's runs and the days the API counts agree.
 */
export function when(d) {
  if (!d) return '—';
  const date = new Date(d);
  if (Number.isNaN(date.getTime())) return '—';
  // `MM-DD HH:mm` in OPS_TIMEZONE whatever the language, as the ops chat writes times (a date read one way in Chinese
  // and the other in English, 12/03 against 03/12, was one day taken for another).
  const p = Object.fromEntries(new Intl.DateTimeFormat('en-CA', { timeZone: OPS_TIMEZONE, hourCycle: 'h23', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' }).formatToParts(date).map((x) => [x.type, x.value]));
  return `${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

/** A card with a title. */
export const card = (title, ...body) => h('section', { class: 'card' }, title ? h('h2', {}, title) : null, ...body);

/** A canvas for a chart, and the chart drawn on it once it is in the page. */
export function chart(config, small = false) {
  const canvas = h('canvas');
  const box = h('div', { class: `chart${small ? ' small' : ''}` }, canvas);
  queueMicrotask(() => {
    if (!window.Chart) return;
    // eslint-disable-next-line no-new
    new window.Chart(canvas, { ...config, options: { responsive: true, maintainAspectRatio: false, ...config.options } });
  });
  return box;
}

export const STAGE_COLORS = { added: '#94a3b8', engaged: '#60a5fa', qualified: '#2563eb', opportunity: '#f59e0b', customer: '#16a34a' };
export const GRADE_COLORS = { S: '#b91c1c', A: '#ea580c', B: '#2563eb', C: '#9ca3af' };

/** A call whose route may not exist in this version: its answer, or null on 404. */
export async function optional(promise) {
  try {
    return await promise;
  } catch (err) {
    if (err.status === 404) return null;
    throw err;
  }
}

/** Seconds as "42 s", "7 min", "3.5 h". */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

const DAY = 86_400_000;
/** The day (YYYY-MM-DD) `n` days after `day`: arithmetic on days, whatever the browser's time zone. */
const addDays = (day, n) => new Date(Date.parse(day) + n * DAY).toISOString().slice(0, 10);
/** Today in OPS_TIMEZONE (en-CA formats a date as YYYY-MM-DD). */
export const today = () => new Intl.DateTimeFormat('en-CA', { timeZone: OPS_TIMEZONE, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());

/** The period a page shows (?from&to, default the last `days` days) and a form to change it (#/<page>?from&to). */
export function period(page, query, days) {
  const to = query.get('to') ?? today();
  const from = query.get('from') ?? addDays(to, -(days - 1));
  const go = (a, b) => { location.hash = `#/${page}${qs({ from: a, to: b })}`; };
  const fromInput = h('input', { type: 'date', name: 'from', value: from });
  const toInput = h('input', { type: 'date', name: 'to', value: to });
  const presets = [7, 30, 90].map((n) => h('button', { type: 'button', class: 'ghost small', onclick: () => go(addDays(today(), -(n - 1)), today()) }, t(`period.${n}`)));
  // A period that ends before it begins is said so here, in the page's language, and not asked for: the API refuses
  // it, and the page would give way to that error, picker and all.
  const check = () => toInput.setCustomValidity(fromInput.value && toInput.value && fromInput.value > toInput.value ? t('period.reversed') : '');
  fromInput.addEventListener('input', check);
  toInput.addEventListener('input', check);
  check(); // a reversed period in the address is marked at once
  const picker = h('form', {
    class: 'row',
    onsubmit: (e) => {
      e.preventDefault();
      check();
      if (e.target.reportValidity()) go(fromInput.value, toInput.value);
    },
  },
    ...presets, h('span', { class: 'muted' }, t('period.from')), fromInput, h('span', { class: 'muted' }, t('period.to')), toInput,
    h('button', { type: 'submit', class: 'small' }, t('period.apply')));
  return { from, to, picker };
}

/**
 * A page with a period whose data failed to load: its title and its picker (so the period can be fixed here), and the
 * error beside them. A 401 is left to the login form.
 */
export function periodFailed(title, picker, err) {
  if (err?.status === 401) throw err;
  return h('div', {},
    h('h1', {}, title),
    card(null, picker, h('div', { class: 'error', role: 'alert', 'data-testid': 'load-error' }, t('error.load', { msg: err?.message ?? String(err) }))));
}

/** Headline figures: [[key, value, label]] as a row of tiles (data-kpi = key). */
export const kpis = (items, testid) => h('div', { class: 'kpis', 'data-testid': testid },
  items.map(([k, v, label]) => h('div', { class: 'kpi', 'data-kpi': k }, h('b', {}, v), h('span', {}, label))));
