import { stat } from 'node:fs/promises';
import path from 'node:path';
import { TemplateError } from '../errors.js';
import { checkCampaignRefs, loadCampaigns, type Campaign, type CampaignInput } from './campaigns.js';
import { loadCases, type CaseStudy } from './cases.js';
import { ChannelCatalog, checkChannelsFile } from './channels.js';
import { kfTextProblems } from './kf-text-check.js';
import { loadReplies, repliesUseCases, type Replies } from './replies.js';
import { loadScoring, type Scoring } from './scoring.js';
import { loadSequences, type Sequence } from './sequences.js';

/** Everything ops staff edit, validated. */
export interface Templates {
  channels: ChannelCatalog;
  sequences: Map<string, Sequence>;
  cases: CaseStudy[];
  scoring: Scoring;
  /** What the bot answers customers in 微信客服 (replies.yaml). */
  replies: Replies;
  /** Campaigns defined in campaigns/*.yaml, by key: as written (what the store keeps) and parsed. */
  campaigns: Map<string, FileCampaign>;
}

/** A campaign defined in a file. */
export interface FileCampaign {
  input: CampaignInput;
  campaign: Campaign;
  file: string;
}

/**
 * Loads and cross-checks `channels.yaml`, `sequences/*.yaml`, `cases/*.md`, `scoring.yaml`, `replies.yaml` and `campaigns/*.yaml` under
 * `dir`. Throws one
 * TemplateError listing every problem (file, item, field) so ops staff fix them in one go. A sequence's quiet hours
 * without a timezone are in `nurtureTimezone` (NURTURE_TIMEZONE; default Asia/Shanghai). Texts sent by 微信客服 are
 * measured with their link lines, tracked links at their longest on `publicBaseUrl` (PUBLIC_BASE_URL; src/content/kf-text.ts),
 * {{hours}} as `serviceHoursText` (SERVICE_HOURS as a reply describes it).
 */
export async function loadTemplates(dir: string, opts: { nurtureTimezone?: string; publicBaseUrl?: string; serviceHoursText?: string } = {}): Promise<Templates> {
  // A missing channels.yaml means only the organic channel, but a missing folder is a wrong TEMPLATES_DIR.
  const folder = await stat(dir).catch(() => null);
  if (!folder?.isDirectory()) throw new TemplateError([`${dir}: no such folder (TEMPLATES_DIR names the folder of channels.yaml, sequences/ and cases/)`]);
  // Every check that can run does, on what passed its own: a problem in one file (or one channel, intent, step) does
  // not hide the problems of the rest until it is fixed. Something that exists but failed its own check is not
  // reported missing where another file names it (its own problem says what is wrong with it).
  const problems: string[] = [];
  const { catalog: channels, problems: channelProblems, written: channelsWritten } = await checkChannelsFile(dir);
  problems.push(...channelProblems);
  const { sequences, problems: sequenceProblems, invalid: invalidSequences, partial: partialSequences } = await loadSequences(dir, opts.nurtureTimezone);
  const { cases, problems: caseProblems } = await loadCases(dir);
  problems.push(...sequenceProblems, ...caseProblems);
  // No case study may be only because the one there is failed its check.
  const noCases = cases.length === 0 && caseProblems.length === 0;
  // A channel's sequence is for new contacts (marketing); its serviceSequence, and the file's, for customers (service).
  const sequenceProblem = (key: string, want: 'marketing' | 'service') => {
    const s = sequences.get(key);
    if (!s) return invalidSequences.has(key) ? null : `no sequence "${key}" in sequences/ (have: ${[...sequences.keys()].join(', ') || 'none'})`;
    if (s.kind === want) return null;
    return want === 'service'
      ? `"${key}" is a marketing sequence, which ends when a lead becomes a customer: give it kind: service, or name a service sequence`
      : `"${key}" is a service sequence (for customers): name it in serviceSequence, or name a marketing sequence here`;
  };
  const channelsFile = path.join(dir, 'channels.yaml');
  for (const c of channels?.all() ?? []) {
    const marketing = c.sequence && sequenceProblem(c.sequence, 'marketing');
    if (marketing) problems.push(`${channelsFile}: channel ${c.key}: sequence: ${marketing}`);
    const service = c.serviceSequence && sequenceProblem(c.serviceSequence, 'service');
    if (service) problems.push(`${channelsFile}: channel ${c.key}: serviceSequence: ${service}`);
  }
  const fileService = channels?.serviceSequence && sequenceProblem(channels.serviceSequence, 'service');
  if (fileService) problems.push(`${channelsFile}: serviceSequence: ${fileService}`);
  for (const s of sequences.values()) {
    if (s.steps.some((step) => step.caseStudy) && noCases) {
      problems.push(`${path.join(dir, 'sequences', `${s.key}.yaml`)}: steps: caseStudy steps need at least one case in cases/`);
    }
  }
  // Channel keys scoring.yaml may name: those written in channels.yaml, valid or not, and the built-in ones (unknown
  // when channels.yaml is not YAML: not checked then).
  const channelKeys = channelsWritten && new Set([...channelsWritten, ...(channels?.all().map((c) => c.key) ?? [])]);
  const { scoring, problems: scoringProblems } = await loadScoring(dir, channelKeys);
  problems.push(...scoringProblems);
  const { replies, problems: replyProblems, written: intentsWritten } = await loadReplies(dir);
  problems.push(...replyProblems);
  if (repliesUseCases(replies) && noCases) problems.push(`${path.join(dir, 'replies.yaml')}: caseStudy replies need at least one case in cases/`);
  // A click on a kf welcome's menu item names its intent (menu_id): one replies.yaml does not have answers as text.
  for (const c of channels?.all() ?? []) {
    for (const item of c.kf?.welcome?.menu?.items ?? []) {
      if ('intent' in item && intentsWritten && !intentsWritten.has(item.intent)) {
        problems.push(`${path.join(dir, 'channels.yaml')}: channel ${c.key}: kf.welcome.menu.items: no intent "${item.intent}" in replies.yaml`);
      }
    }
  }
  const { campaigns, problems: campaignProblems, partial: partialCampaigns } = await loadCampaigns(dir);
  problems.push(...campaignProblems);
  const invalid = { sequences: invalidSequences, channels: channelsWritten ?? (true as const), cases: !noCases && cases.length === 0 };
  for (const c of campaigns.values()) {
    for (const p of checkCampaignRefs(c.campaign, { sequences, channels: channels ?? new ChannelCatalog([]), cases }, invalid)) problems.push(`${c.file}: ${p.path}: ${p.message}`);
  }
  const kfSequences = [...sequences.values(), ...partialSequences];
  problems.push(...kfTextProblems(dir, { sequences: kfSequences, cases, replies, channels, campaigns: [...campaigns.values(), ...partialCampaigns] }, opts.publicBaseUrl, opts.serviceHoursText));
  if (problems.length || !channels) throw new TemplateError(problems);
  return { channels, sequences, cases, scoring, campaigns, replies };
}
