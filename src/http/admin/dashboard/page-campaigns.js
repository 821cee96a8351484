// Campaigns: their runs and results.
import { api } from './api.js';
import { t } from './i18n.js';
import { card, h, optional } from './ui.js';

export async function campaignsPage() {
  const campaigns = await optional(api('/campaigns'));
  if (!campaigns) return h('div', {}, h('h1', {}, t('campaigns.title')), card(null, h('p', { class: 'muted' }, t('error.notAvailable'))));
  return h('div', {}, h('h1', {}, t('campaigns.title')), card(null, h('pre', {}, JSON.stringify(campaigns, null, 2))));
}
