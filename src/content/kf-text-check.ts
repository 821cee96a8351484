import path from 'node:path';
import { bytes } from '../text-bytes.js';
import type { Campaign } from './campaigns.js';
import type { CaseStudy } from './cases.js';
import type { ChannelCatalog } from './channels.js';
import { campaignKeyBytes, KF_REPLY_KEY_BYTES, kfTextBytes, kfTextProblem, longestTrackedUrl, nurtureKeyBytes, replyLinkTitle, type LinkLineSpec } from './kf-text.js';
import { LONGEST_NAME, NAME_MAX_CHARS } from './render.js';
import type { Replies, Reply } from './replies.js';
import type { SequenceStep } from './sequences.js';

/** A message's text and the link lines it may go with on the 客服 route: one choice each (one per case study for `auto`). */
interface KfMessage {
  text?: string;
  /** Each way the message's links may turn out (a case study picked for the lead: any of them). */
  choices: Array<{ lines: LinkLineSpec[]; slug?: string }>;
}

/** The choice that makes the longest text. */
function longest(m: KfMessage): { lines: LinkLineSpec[]; slug?: string } {
  return m.choices.reduce((a, b) => (kfTextBytes(m.text, b.lines) > kfTextBytes(m.text, a.lines) ? b : a), m.choices[0] ?? { lines: [] });
}

/** What {{channel}} and {{hours}} are counted as: the longest channel name, the service hours' text (when known). */
interface Fills {
  channel: string;
  hours?: string;
}

/**
 * A text as the send fills it, at its longest: {{name}} as the longest customer name (NAME_MAX_CHARS characters, as
 * a welcome is checked), {{channel}} as the longest channel name of channels.yaml (a lead may come from any of them),
 * {{hours}} as the service hours' text (SERVICE_HOURS described, as a reply says it; as written when not given).
 * `filled` says which were counted so, for the problem's message.
 */
function atLongest(text: string | undefined, fills: Fills): { text: string | undefined; filled: string[] } {
  if (!text) return { text, filled: [] };
  const filled = new Set<string>();
  const out = text.replace(/\{\{\s*(name|channel|hours)\s*\}\}/g, (whole, p: string) => {
    if (p === 'name') {
      filled.add(`{{name}} at its longest, ${NAME_MAX_CHARS} characters`);
      return LONGEST_NAME;
    }
    if (p === 'channel') {
      filled.add(`{{channel}} as "${fills.channel}"`);
      return fills.channel;
    }
    if (fills.hours === undefined) return whole;
    filled.add(`{{hours}} as "${fills.hours}"`);
    return fills.hours;
  });
  return { text: out, filled: [...filled] };
}

/** The problem of one message, as `<field>: <problem>`, or null. */
function problemOf(raw: KfMessage, field: { text: string; link: string }, caseStudy: boolean, fills: Fills): string | null {
  const p = problemAt(raw, field, caseStudy, fills);
  return p && `${p.path}: ${p.message}`;
}

/** The problem of one message (its field, and what is over by how much), or null. */
function problemAt(raw: KfMessage, field: { text: string; link: string }, caseStudy: boolean, fills: Fills): { path: string; message: string } | null {
  const { text, filled } = atLongest(raw.text, fills);
  const m = { ...raw, text };
  const worst = longest(m);
  if (!worst.lines.length) return null;
  const lines = caseStudy ? `the link line of its longest case study (${worst.slug})` : worst.lines.length > 1 ? 'its link lines' : 'its link line';
  const theText = filled.length ? `the text (${filled.join(', ')})` : 'the text';
  const problem = kfTextProblem(m.text, worst.lines, m.text ? `${theText} and ${lines} make` : `${lines} ${worst.lines.length > 1 ? 'make' : 'is'}`);
  return problem ? { path: m.text ? field.text : field.link, message: problem } : null;
}

/** The longest channel name, which {{channel}} is counted as (a lead may come from any channel). */
const longestChannelName = (channels: ChannelCatalog | undefined) => (channels?.all() ?? []).map((c) => c.name).reduce((a, b) => (bytes(b) > bytes(a) ? b : a), '');

/**
 * A campaign's text that would be cut on the 微信客服 route (its text and link line over 2048 bytes), as the field and
 * the problem, or null: for campaign files (kfTextProblems) and campaigns created through the admin API alike.
 */
export function campaignKfProblem(campaign: Pick<Campaign, 'key' | 'content'>, t: { cases: readonly CaseStudy[]; channels?: ChannelCatalog }, publicBaseUrl?: string): { path: string; message: string } | null {
  const c = campaign.content;
  return problemAt(stepMessage(c, t.cases, publicBaseUrl, campaignKeyBytes(campaign.key)), { text: 'content.text', link: `content.${c.link ? 'link' : 'caseStudy'}` }, !c.link && Boolean(c.caseStudy), { channel: longestChannelName(t.channels) });
}

/** A message with a link or a case study, as a sequence step or a campaign sends it by kf/send_msg (sendVia). */
function stepMessage(s: { text?: string; link?: { title: string; url: string }; caseStudy?: 'auto' }, cases: readonly CaseStudy[], base: string | undefined, keyBytes: number): KfMessage {
  if (s.link) return { text: s.text, choices: [{ lines: [{ title: s.link.title, urlBytes: longestTrackedUrl(base, s.link.url, keyBytes) }] }] };
  if (s.caseStudy) return { text: s.text, choices: cases.map((c) => ({ slug: c.slug, lines: [{ title: c.title, urlBytes: longestTrackedUrl(base, c.url, keyBytes, c.slug) }] })) };
  return { text: s.text, choices: [] };
}

/** A reply as src/domain/kf/reply.ts (buildReply) folds it into one text: its link, then its case study's line. */
function replyMessage(r: Reply, cases: readonly CaseStudy[], base: string | undefined): KfMessage {
  if (r.menu) return { choices: [] }; // with a menu, links are menu items, not lines of the text
  const link = r.link ? [{ title: replyLinkTitle(r.link.title), urlBytes: longestTrackedUrl(base, r.link.url, KF_REPLY_KEY_BYTES) }] : [];
  const choices = r.caseStudy
    ? cases.map((c) => ({ slug: c.slug, lines: [...link, { title: replyLinkTitle(`${c.title}：${c.summary}`), urlBytes: longestTrackedUrl(base, c.url, KF_REPLY_KEY_BYTES, c.slug) }] }))
    : [{ lines: link }];
  return { text: r.text, choices };
}

/**
 * Texts that would be cut on the 微信客服 route, where a message's link goes in its text (src/content/kf-text.ts):
 * sequence steps, replies (replies.yaml and channels' kf welcomes) and campaigns, each named by file and field.
 * `publicBaseUrl`: the bot's base for tracked links (PUBLIC_BASE_URL), counted when longer than the bound;
 * `hours`: the text {{hours}} is filled with (SERVICE_HOURS as a reply describes it).
 */
export function kfTextProblems(
  dir: string,
  t: {
    /** Sequences, and the valid steps of sequence files with problems (the others undefined, at their places). */
    sequences: Iterable<{ key: string; steps: ReadonlyArray<SequenceStep | undefined> }>;
    cases: readonly CaseStudy[];
    replies: Replies;
    channels?: ChannelCatalog;
    campaigns: Iterable<{ campaign: Pick<Campaign, 'key' | 'content'>; file: string }>;
  },
  publicBaseUrl?: string,
  hours?: string,
): string[] {
  const problems: string[] = [];
  // The send fills {{channel}} with the lead's channel: counted as the longest name there is.
  const fills: Fills = { channel: longestChannelName(t.channels), hours };
  for (const s of t.sequences) {
    s.steps.forEach((step, i) => {
      if (!step) return;
      const p = problemOf(stepMessage(step, t.cases, publicBaseUrl, nurtureKeyBytes(s.key, i)), { text: `steps.${i}.text`, link: `steps.${i}.${step.link ? 'link' : 'caseStudy'}` }, !step.link && Boolean(step.caseStudy), fills);
      if (p) problems.push(`${path.join(dir, 'sequences', `${s.key}.yaml`)}: ${p}`);
    });
  }
  const replies = [
    ...t.replies.intents.map((i) => ({ where: `intent ${i.key}: reply`, reply: i.reply })),
    { where: 'fallback.inHours.reply', reply: t.replies.fallback.inHours.reply },
    { where: 'fallback.outOfHours.reply', reply: t.replies.fallback.outOfHours.reply },
  ];
  for (const { where, reply } of replies) {
    if (!reply) continue;
    const p = problemOf(replyMessage(reply, t.cases, publicBaseUrl), { text: `${where}.text`, link: `${where}.${reply.link ? 'link' : 'caseStudy'}` }, !reply.link && Boolean(reply.caseStudy), fills);
    if (p) problems.push(`${path.join(dir, 'replies.yaml')}: ${p}`);
  }
  for (const c of t.channels?.all() ?? []) {
    const welcome = c.kf?.welcome;
    if (!welcome) continue;
    const p = problemOf(replyMessage(welcome, t.cases, publicBaseUrl), { text: 'kf.welcome.text', link: 'kf.welcome.link' }, false, fills);
    if (p) problems.push(`${path.join(dir, 'channels.yaml')}: channel ${c.key}: ${p}`);
  }
  for (const { campaign, file } of t.campaigns) {
    const p = campaignKfProblem(campaign, t, publicBaseUrl);
    if (p) problems.push(`${file}: ${p.path}: ${p.message}`);
  }
  return problems;
}
