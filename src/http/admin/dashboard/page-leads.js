// Leads: filter like a segment (stage, grade, channel, tag, owner), search, sort by last touch, grade, added or score.
import { api, qs } from './api.js';
import { t } from './i18n.js';
import { card, gradeBadge, h, leadLink, num, openLead, stageBadge, table, when } from './ui.js';

const STAGES = ['added', 'engaged', 'qualified', 'opportunity', 'customer', 'lost', 'unsubscribed'];
const GRADES = ['S', 'A', 'B', 'C'];
const FIELDS = ['q', 'stage', 'grade', 'channel', 'tag', 'owner', 'sort'];

export async function leadsPage({ query }) {
  const filter = Object.fromEntries(FIELDS.map((k) => [k, query.get(k) ?? '']));
  const [first, channels] = await Promise.all([api(`/leads${qs({ ...filter, limit: 50 })}`), api('/channels')]);
  const names = new Map(channels.map((c) => [c.key, c.name]));

  const select = (name, options, label) => h('select', { name, 'aria-label': label },
    h('option', { value: '' }, label), options.map(([v, text]) => h('option', { value: v, selected: filter[name] === v }, text)));
  const input = (name, placeholder) => h('input', { name, placeholder, value: filter[name], 'aria-label': placeholder });
  const form = h('form', {
    class: 'row',
    onsubmit: (e) => {
      e.preventDefault();
      const data = Object.fromEntries(new FormData(e.target));
      location.hash = `#/leads${qs(data)}`;
    },
  },
  input('q', t('leads.q')),
  select('stage', STAGES.map((s) => [s, t(`stage.${s}`)]), `${t('col.stage')}: ${t('all')}`),
  select('grade', GRADES.map((g) => [g, g]), `${t('col.grade')}: ${t('all')}`),
  select('channel', channels.map((c) => [c.key, c.name]), `${t('col.channel')}: ${t('all')}`),
  input('tag', t('leads.tag')),
  input('owner', t('leads.owner')),
  h('select', { name: 'sort', 'aria-label': 'sort' }, ['lastTouch', 'grade', 'added', 'score'].map((s) => h('option', { value: s, selected: (filter.sort || 'lastTouch') === s }, t(`leads.sort.${s}`)))),
  h('button', { type: 'submit', class: 'small' }, t('search')),
  h('button', { type: 'button', class: 'ghost small', onclick: () => { location.hash = '#/leads'; } }, t('reset')));

  const cols = [
    { label: t('col.name'), render: (l) => leadLink(l.id, l.name ?? l.externalUserId) },
    { label: t('col.company'), render: (l) => l.corpName ?? '—' },
    { label: t('col.channel'), render: (l) => names.get(l.channel) ?? l.channel ?? '—' },
    { label: t('col.stage'), render: (l) => stageBadge(l.stage) },
    { label: t('col.grade'), render: (l) => gradeBadge(l.grade) },
    { label: t('col.score'), num: true, render: (l) => num(l.score) },
    { label: t('col.owner'), render: (l) => l.owners.filter((o) => o.status === 'active').map((o) => o.userId).join(', ') || '—' },
    { label: t('col.lastTouch'), render: (l) => when(l.lastTouchAt) },
  ];
  const open = (l) => openLead(l.id);
  const items = [...first.items];
  const holder = h('div', { 'data-testid': 'leads-table' }, table(cols, items, open));
  const count = h('span', { class: 'muted' }, t('leads.count', { n: items.length }));
  let next = first.next;
  // A next page that fails to load says so beside the button, which stays there to try again.
  const problem = h('span', { class: 'error', role: 'alert', 'data-testid': 'more-error' });
  const more = h('button', {
    type: 'button',
    class: 'ghost',
    hidden: !next,
    onclick: async () => {
      more.disabled = true;
      problem.textContent = '';
      try {
        const page = await api(`/leads${qs({ ...filter, limit: 50, cursor: next })}`);
        items.push(...page.items);
        next = page.next;
        holder.replaceChildren(table(cols, items, open));
        count.textContent = t('leads.count', { n: items.length });
        more.hidden = !next;
      } catch (err) {
        problem.textContent = t('error.load', { msg: err.message });
      } finally {
        more.disabled = false;
      }
    },
  }, t('more'));

  return h('div', {}, h('h1', {}, t('leads.title')), card(null, form), card(null, holder, h('div', { class: 'row' }, more, count, problem)));
}
