// Sequences: per step what was sent, failed, clicked, replied to, and where enrollments stopped.
import { api } from './api.js';
import { t } from './i18n.js';
import { card, h, num, table, when } from './ui.js';

const COLS = ['sent', 'submitted', 'reminded', 'failed', 'unknown', 'skipped', 'clicks', 'replies', 'stops'];

export async function sequencesPage() {
  const sequences = await api('/sequences');
  return h('div', {},
    h('h1', {}, t('sequences.title')),
    sequences.length ? h('p', { class: 'note', 'data-testid': 'sequences-as-of' }, t('sequences.asOf', { when: when(sequences[0].asOf) })) : null,
    sequences.length ? sequences.map((s) => card(`${s.name} (${s.key})`,
      s.kind === 'service' ? h('p', { class: 'note', 'data-testid': 'sequence-service' }, t('sequences.service')) : null,
      h('p', { class: 'muted' }, t('sequences.enrollments', { active: s.enrollments.active ?? 0, completed: s.enrollments.completed ?? 0, stopped: s.enrollments.stopped ?? 0 })),
      table([
        { label: t('col.step'), render: (r) => `${r.index + 1}. ${r.caseStudy ? t('sequences.caseStudy') : r.label}` },
        ...COLS.map((c) => ({ label: t(`col.${c}`), num: true, render: (r) => num(r[c]) })),
      ], s.steps))) : card(null, h('p', { class: 'muted' }, t('none'))));
}
