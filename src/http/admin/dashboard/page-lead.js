// One lead: profile, score reasons, actions (stage, grade, tags, pause), timeline, nurture and deliveries.
import { api } from './api.js';
import { labelOf, roleLabel, t, timelineLabel, viaLabel } from './i18n.js';
import { card, gradeBadge, h, num, stageBadge, statusBadge, table, when } from './ui.js';

const STAGES = ['added', 'engaged', 'qualified', 'opportunity', 'customer', 'lost', 'unsubscribed'];
const ACTOR = 'dashboard.actor';

export async function leadPage({ rest }) {
  const id = rest.join('/');
  const [lead, pauses, channels] = await Promise.all([api(`/leads/${encodeURIComponent(id)}`), api('/pauses'), api('/channels')]);
  // The channel by its name, as the leads list shows it, with its key.
  const channel = channels.find((c) => c.key === lead.channel);
  const paused = pauses.some((p) => p.kind === 'lead' && p.target === lead.id);
  const reload = () => window.dispatchEvent(new HashChangeEvent('hashchange'));

  const facts = h('dl', { class: 'facts' },
    h('dt', {}, t('col.stage')), h('dd', { 'data-testid': 'lead-stage' }, stageBadge(lead.stage)),
    h('dt', {}, t('col.grade')), h('dd', {}, gradeBadge(lead.grade), lead.gradePinned ? h('span', { class: 'muted' }, ` (${t('tl.grade_pinned')})`) : '', h('span', { class: 'muted' }, `  ${t('col.score')} ${num(lead.score)}`)),
    h('dt', {}, t('col.company')), h('dd', {}, lead.corpName ?? '—'),
    h('dt', {}, t('lead.channel')), h('dd', { 'data-testid': 'lead-channel' }, channel && channel.name !== channel.key ? `${channel.name} (${channel.key})` : (lead.channel ?? '—')),
    h('dt', {}, t('lead.owners')), h('dd', {}, lead.owners.map((o) => `${o.userId}${o.remark ? ` (${o.remark})` : ''}${o.status === 'active' ? '' : ` [${o.status}]`}`).join(', ') || '—'),
    h('dt', {}, t('lead.industry')), h('dd', {}, lead.industry ?? '—'),
    h('dt', {}, t('lead.role')), h('dd', { 'data-testid': 'lead-role' }, lead.role ? roleLabel(lead.role) : '—'),
    h('dt', {}, t('col.tags')), h('dd', {}, lead.tags.map((x) => h('span', { class: 'badge' }, `${x.group}/${x.name}`)).flatMap((b) => [b, ' '])),
    h('dt', {}, t('col.addedAt')), h('dd', {}, when(lead.addedAt)),
    h('dt', {}, t('lead.reached')), h('dd', {}, Object.entries(lead.reached).map(([s, at]) => `${t(`stage.${s}`)} ${when(at)}`).join(' · ') || '—'));

  const reasons = table([{ label: t('lead.score'), render: (r) => labelOf(r.label, r.reason) }, { label: t('col.score'), num: true, render: (r) => (r.points > 0 ? `+${r.points}` : r.points) }], lead.scoreReasons);
  reasons.dataset.testid = 'score-reasons';

  // Actions: each posts to the admin API and redraws the page; an error stays next to the form.
  const actor = h('input', { name: 'actor', placeholder: t('action.actor'), value: localStorage.getItem(ACTOR) ?? '', 'aria-label': t('action.actor') });
  const message = h('div', { role: 'status', class: 'note', 'data-testid': 'action-message' });
  const act = (fn) => async (e) => {
    e.preventDefault();
    message.textContent = '';
    message.className = 'note';
    const who = actor.value.trim();
    if (who) localStorage.setItem(ACTOR, who);
    try {
      await fn(who || undefined, e.target);
      reload();
    } catch (err) {
      message.className = 'error';
      message.textContent = err.message;
    }
  };
  const stageForm = h('form', { class: 'row', 'data-testid': 'stage-form', onsubmit: act((who, f) => api(`/leads/${encodeURIComponent(lead.id)}/stage`, { stage: f.stage.value, reason: f.reason.value, actor: who })) },
    h('select', { name: 'stage', 'aria-label': t('action.stage') }, STAGES.map((s) => h('option', { value: s, selected: s === lead.stage }, t(`stage.${s}`)))),
    h('input', { name: 'reason', placeholder: t('action.reason'), 'aria-label': t('action.reason'), required: true }),
    h('button', { type: 'submit', class: 'small' }, t('action.stage')));
  const gradeForm = h('form', { class: 'row', onsubmit: act((who, f) => api(`/leads/${encodeURIComponent(lead.id)}/grade`, { grade: f.grade.value, actor: who })) },
    h('select', { name: 'grade', 'aria-label': t('action.grade') }, h('option', { value: 'auto' }, t('action.gradeAuto')), ['S', 'A', 'B', 'C'].map((g) => h('option', { value: g, selected: lead.gradePinned && g === lead.grade }, g))),
    h('button', { type: 'submit', class: 'small' }, t('action.grade')));
  const split = (s) => s.split(/[,，]/).map((x) => x.trim()).filter(Boolean);
  const tagForm = h('form', { class: 'row', onsubmit: act((who, f) => api(`/leads/${encodeURIComponent(lead.id)}/tags`, { add: split(f.add.value), remove: split(f.remove.value), actor: who })) },
    h('input', { name: 'add', placeholder: t('action.tagsAdd'), 'aria-label': t('action.tagsAdd') }),
    h('input', { name: 'remove', placeholder: t('action.tagsRemove'), 'aria-label': t('action.tagsRemove') }),
    h('button', { type: 'submit', class: 'small' }, t('action.tags')));
  const pauseForm = h('form', { class: 'row', onsubmit: act((who) => api('/pauses', { kind: 'lead', target: lead.id, resume: paused, actor: who })) },
    paused ? h('span', { class: 'badge st-unknown' }, t('action.paused')) : null,
    h('button', { type: 'submit', class: 'small ghost' }, paused ? t('action.resume') : t('action.pause')));
  const actions = h('div', { class: 'actions' }, actor, stageForm, gradeForm, tagForm, pauseForm, message);

  const timeline = h('ol', { class: 'timeline', 'data-testid': 'timeline' }, [...lead.timeline].reverse().map((e) =>
    h('li', { 'data-type': e.type }, h('time', {}, when(e.at)), h('div', {},
      h('div', { class: 'what' }, timelineLabel(e.type), !e.label && e.type === 'stage_changed' ? `: ${t(`stage.${e.detail.from}`)} → ${t(`stage.${e.detail.to}`)}` : ''),
      // The detail in words when the API gives them; else its fields, internal ids left out, subdued.
      e.label ? h('div', { class: 'detail' }, labelOf(e.label)) : h('div', { class: 'detail muted' }, describe(e.detail))))));

  const enrollments = table([
    { label: t('col.sequence'), key: 'sequence' },
    { label: t('col.status'), render: (e) => statusBadge(e.status) },
    { label: t('col.stepsDone'), num: true, render: (e) => e.history.length },
    { label: t('col.owner'), key: 'owner' },
    { label: t('col.when'), render: (e) => when(e.endedAt ?? e.dueAt) },
    { label: t('col.what'), render: (e) => labelOf(e.stopReasonLabel, e.stopReason ?? '') },
  ], lead.enrollments);
  enrollments.dataset.testid = 'enrollments';
  const deliveries = table([
    { label: t('col.when'), render: (d) => when(d.at) },
    { label: t('col.what'), render: (d) => labelOf(d.label, `${d.kind}${d.step !== null ? ` #${d.step + 1}` : ''}${d.caseSlug ? ` (${d.caseSlug})` : ''}`) },
    { label: t('col.via'), render: (d) => (d.via ? viaLabel(d.via) : '—') },
    { label: t('col.status'), render: (d) => statusBadge(d.status) },
    { label: t('col.clicks'), num: true, render: (d) => num(d.clicks) },
    { label: '', render: (d) => labelOf(d.reasonLabel, d.reason ?? '') },
  ], lead.deliveries);

  return h('div', {},
    h('p', {}, h('a', { href: '#/leads' }, t('lead.back'))),
    h('h1', { 'data-testid': 'lead-name' }, lead.name ?? lead.externalUserId, ' ', gradeBadge(lead.grade)),
    h('div', { class: 'grid' }, card(t('lead.profile'), facts), card(t('lead.score'), reasons)),
    card(t('lead.actions'), actions),
    card(t('lead.timeline'), timeline),
    card(t('lead.enrollments'), enrollments),
    card(t('lead.deliveries'), deliveries));
}

/** Fields of a timeline entry that only the bot reads: a 客服 account, a run, a message id, … */
const INTERNAL = new Set(['openKfid', 'newSession', 'msgid', 'failMsgid', 'run', 'group', 'delivery', 'welcomeCode', 'state', 'attempts', 'scene', 'sceneParam']);

/** A timeline entry's detail (one the API has no words for) as short `key: value` pairs, internal ids left out. */
function describe(detail) {
  return Object.entries(detail ?? {})
    .filter(([k, v]) => !INTERNAL.has(k) && v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`)
    .join(' · ');
}
