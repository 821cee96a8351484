// Queues: Bull Board, served by the bot at /admin/queues behind the same token (the session cookie set at sign-in).
import { t } from './i18n.js';
import { card, h } from './ui.js';

export async function queuesPage() {
  return h('div', {},
    h('h1', {}, t('queues.title')),
    card(null, h('p', {}, t('queues.note')), h('a', { href: '/admin/queues', target: '_blank', rel: 'noopener' }, h('button', { type: 'button' }, t('queues.open')))));
}
