// The dashboard: a login form, then one page per hash route (#/funnel, #/leads, #/leads/<id>, ...), all drawn from
// the admin API. Plain browser modules, no build step.
import { signIn, signOut, token } from './api.js';
import { lang, setLang, t } from './i18n.js';
import { funnelPage } from './page-funnel.js';
import { leadPage } from './page-lead.js';
import { leadsPage } from './page-leads.js';
import { gradesPage } from './page-grades.js';
import { sequencesPage } from './page-sequences.js';
import { campaignsPage } from './page-campaigns.js';
import { servicePage } from './page-service.js';
import { queuesPage } from './page-queues.js';
import { h } from './ui.js';

const PAGES = [
  { key: 'funnel', render: funnelPage },
  { key: 'leads', render: leadsPage },
  { key: 'grades', render: gradesPage },
  { key: 'sequences', render: sequencesPage },
  { key: 'campaigns', render: campaignsPage },
  { key: 'service', render: servicePage },
  { key: 'queues', render: queuesPage },
];

const view = document.getElementById('view');
const nav = document.getElementById('nav');
const brand = document.getElementById('brand');
const langButton = document.getElementById('lang');
const logoutButton = document.getElementById('logout');

/** The route in the hash: its page key and the rest (#/leads/<id> → ['leads', '<id>']); query after '?'. */
function route() {
  const [path, query] = location.hash.replace(/^#\/?/, '').split('?');
  const [page, ...rest] = (path || 'funnel').split('/').map(decodeURIComponent);
  return { page, rest, query: new URLSearchParams(query ?? '') };
}

function drawChrome(current) {
  // The product's name in the page's language (企业微信运营助手, as the ops chat knows its robot: 运营助手).
  document.title = `${t('app.title')} - ${t('app.brand')}`;
  brand.textContent = t('app.brand');
  langButton.textContent = lang() === 'zh' ? 'EN' : '中文';
  logoutButton.textContent = t('logout');
  logoutButton.hidden = !token();
  nav.replaceChildren(...(token() ? PAGES.map((p) => h('a', { href: `#/${p.key}`, class: p.key === current ? 'on' : '' }, t(`nav.${p.key}`))) : []));
}

function loginForm() {
  const input = h('input', { type: 'password', name: 'token', autocomplete: 'current-password', placeholder: t('login.token'), required: true });
  const error = h('div', { class: 'error', role: 'alert' });
  const form = h('form', {
    class: 'card login',
    onsubmit: async (e) => {
      e.preventDefault();
      error.textContent = '';
      if (await signIn(input.value.trim())) show();
      else error.textContent = t('login.wrong');
    },
  }, h('h1', {}, t('login.title')), h('label', {}, t('login.token'), input), h('button', { type: 'submit' }, t('login.submit')), error, h('p', { class: 'note' }, t('login.note')));
  queueMicrotask(() => input.focus());
  return form;
}

let drawing = 0;
/** Draws the page the hash names (or the login form); a newer navigation wins over a slower one. */
async function show() {
  const mine = ++drawing;
  const r = route();
  drawChrome(r.page === 'leads' && r.rest.length ? 'leads' : r.page);
  if (!token()) {
    view.replaceChildren(loginForm());
    return;
  }
  const page = r.page === 'leads' && r.rest.length ? { render: leadPage } : PAGES.find((p) => p.key === r.page) ?? PAGES[0];
  view.replaceChildren(h('p', { class: 'muted' }, t('loading')));
  try {
    const node = await page.render(r);
    if (mine === drawing) view.replaceChildren(node);
  } catch (err) {
    if (mine === drawing && token()) view.replaceChildren(h('div', { class: 'card error', role: 'alert' }, t('error.load', { msg: err.message })));
  }
}

langButton.addEventListener('click', () => {
  setLang(lang() === 'zh' ? 'en' : 'zh');
  show();
});
logoutButton.addEventListener('click', async () => {
  await signOut();
  show();
});
window.addEventListener('hashchange', show);
window.addEventListener('signed-out', show);
setLang(lang());
show();
