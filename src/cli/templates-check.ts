import 'dotenv/config';
import { TemplateError } from '../errors.js';
import { loadTemplates } from '../content/index.js';
import { DEFAULT_SERVICE_HOURS, describeServiceHours, parseServiceHours } from '../domain/kf/service-hours.js';
import { readCommandLine } from './command-line.js';

/** `npm run templates:check`: validates what ops staff edit, with the same rules start-up applies. */
readCommandLine(
  'npm run templates:check',
  `
Usage: npm run templates:check

Checks the templates ops staff edit (channels.yaml, sequences/, cases/, scoring.yaml, replies.yaml, campaigns/) with the rules start-up applies, and lists
every problem with its file, channel and field. Exit 0 when they are valid, 1 otherwise.

Environment: TEMPLATES_DIR (default ./templates); PUBLIC_BASE_URL (tracked links' base, counted in 微信客服 texts when
longer than 64 bytes); SERVICE_HOURS (what {{hours}} in a reply is counted as).
`,
  {},
);
const dir = process.env.TEMPLATES_DIR || './templates';
try {
  // {{hours}} is counted as the bot fills it: SERVICE_HOURS (its default when unset) described as a reply says it.
  const hours = parseServiceHours(process.env.SERVICE_HOURS || DEFAULT_SERVICE_HOURS);
  const serviceHoursText = typeof hours === 'string' ? undefined : describeServiceHours(hours);
  const { channels, sequences, cases, campaigns } = await loadTemplates(dir, { publicBaseUrl: process.env.PUBLIC_BASE_URL || undefined, serviceHoursText });
  for (const c of channels.all()) {
    const tags = c.tags.map((t) => `${t.group}/${t.name}`).join(', ') || '-';
    console.log(`ok  channel ${c.key} (${c.name}) tags: ${tags}; welcome: ${c.welcome ? 'yes' : 'none'}; sequence: ${c.sequence ?? '-'}; customers: ${channels.serviceSequenceOf(c.key) ?? '-'}`);
  }
  for (const s of sequences.values()) console.log(`ok  sequence ${s.key} (${s.name}): ${s.kind === 'service' ? 'service (for customers), ' : ''}${s.steps.length} steps`);
  for (const c of cases) console.log(`ok  case ${c.slug} (${c.industries.join(', ')}): ${c.title}`);
  for (const { campaign: c } of campaigns.values()) {
    const what = c.content.sequence ? `enroll in ${c.content.sequence}` : [c.content.text && 'text', c.content.link && 'link', c.content.caseStudy && 'case study'].filter(Boolean).join(' + ');
    const when = c.schedule.at ? `at ${c.schedule.at}` : `cron "${c.schedule.cron}" (${c.schedule.timezone ?? 'Asia/Shanghai'})`;
    console.log(`ok  campaign ${c.key} (${c.name}): ${what}; ${when}${c.draft ? ' (draft: never runs)' : ''}`);
  }
  console.log(`${dir}: templates are valid`);
} catch (err) {
  if (!(err instanceof TemplateError)) throw err;
  console.error(err.message);
  process.exit(1);
}
