// Service: customers waiting now, breaches, response times per servicer.
import { api } from './api.js';
import { t } from './i18n.js';
import { card, h, optional } from './ui.js';

export async function servicePage() {
  const service = await optional(api('/service'));
  if (!service) return h('div', {}, h('h1', {}, t('service.title')), card(null, h('p', { class: 'muted' }, t('error.notAvailable'))));
  return h('div', {}, h('h1', {}, t('service.title')), card(null, h('pre', {}, JSON.stringify(service, null, 2))));
}
