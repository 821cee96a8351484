import { createHash } from 'node:crypto';
import type { BotContext } from '../../context.js';
import type { Campaign } from '../../content/campaigns.js';
import { render } from '../../content/render.js';
import { pauseMember } from '../pause/pauses.js';
import { pickCase } from '../nurture/pick-case.js';
import { kfWindowStart, massSender, preferredVia, type MessageContent } from '../delivery/via.js';
import type { Grade } from '../vocabulary.js';
import type { AudienceLead } from './segment.js';

/** Why a lead of the segment gets nothing from a run. */
export const EXCLUSION_REASONS = ['unsubscribed', 'lost', 'customer', 'paused', 'noOwner'] as const;
export type ExclusionReason = (typeof EXCLUSION_REASONS)[number];

/** What a run does with one lead of its segment. */
export type LeadPlan =
  | { kind: 'excluded'; reason: ExclusionReason }
  | { kind: 'enroll'; owner: string }
  /** Targeted, but there is nothing to send it: `caseStudy: auto` and no case study fits the lead. */
  | { kind: 'skip'; reason: 'no_case_left'; item: SendItem }
  | { kind: 'send'; item: SendItem };

/** A lead a run sends to: everything the send needs, and nothing more (pending items wait in memory). */
export interface SendItem {
  leadId: string;
  corpId: string;
  externalUserId: string;
  name: string | null;
  channelName: string | null;
  /** The channel's key (its pause stops the lead's send). */
  channelKey: string | null;
  industry: string | null;
  role: string | null;
  grade: string;
  /** The owner reminded (owner route) and the sender of last resort. */
  owner: string;
  /** Who gets the mass-message task: the member who last interacted [D:92135]. */
  sender: string;
  /** The lead's last interaction was with another member than the sender (or none is known). */
  retarget: boolean;
  /** The way it would like to go: its open 客服 window, else a mass message. */
  via: 'kf' | 'mass';
  kf: { openKfid: string; windowStart: number } | null;
  /** The case study it is planned to get (caseStudy: auto): the best one, before its fence says whether it is free. */
  caseSlug: string | null;
  /** Same signature, same rendered content: such leads of one sender share one mass message. */
  signature: string;
}

/** The member who owns the lead for a campaign: the active owner who last interacted with it, else the first active. */
export function ownerOf(lead: Pick<AudienceLead, 'owners' | 'lastInteraction'>): string | null {
  const active = lead.owners.filter((o) => o.status === 'active');
  const last = lead.lastInteraction?.userId;
  return (last && active.find((o) => o.userId === last)?.userId) || active[0]?.userId || null;
}

/**
 * Decides what a run does with one lead of its segment: excluded (opted out, lost, an existing customer for
 * marketing content, paused by staff, no active owner), enrolled (sequence content), skipped (`caseStudy: auto` and
 * no case study of its industry or a general one: nothing to send), or sent to, by which way first and to which
 * group. `paused` is the set of paused targets (pausedTargets()).
 */
export function planLead(ctx: Pick<BotContext, 'channels' | 'cases'>, c: Campaign, lead: AudienceLead, paused: ReadonlySet<string>, now: number): LeadPlan {
  if (lead.unsubscribedAt || lead.stage === 'unsubscribed') return { kind: 'excluded', reason: 'unsubscribed' };
  if (lead.stage === 'lost') return { kind: 'excluded', reason: 'lost' };
  if (lead.stage === 'customer' && c.kind === 'marketing') return { kind: 'excluded', reason: 'customer' };
  const channel = lead.firstTouch?.channelKey ?? null;
  if (paused.has(pauseMember({ kind: 'lead', target: lead._id })) || (channel && paused.has(pauseMember({ kind: 'channel', target: channel })))) {
    return { kind: 'excluded', reason: 'paused' };
  }
  const owner = ownerOf(lead);
  if (!owner) return { kind: 'excluded', reason: 'noOwner' };
  if (c.content.sequence) return { kind: 'enroll', owner };
  const sender = massSender(lead, owner);
  // The 客服 window only while WeCom takes API sends in the session (not queued, served by a person, or ended).
  const windowStart = preferredVia(lead, now) === 'kf' ? kfWindowStart(lead, now) : null;
  const caseSlug = c.content.caseStudy ? (pickCase(ctx.cases, lead, new Set())?.slug ?? null) : null;
  const item: SendItem = {
    leadId: lead._id,
    corpId: lead.corpId,
    externalUserId: lead.externalUserId,
    name: lead.name ?? null,
    channelName: channel ? (ctx.channels.get(channel)?.name ?? channel) : null,
    channelKey: channel,
    industry: lead.industry ?? null,
    role: lead.role ?? null,
    grade: lead.grade ?? 'C',
    owner,
    sender,
    retarget: lead.lastInteraction?.userId !== sender,
    via: windowStart !== null ? 'kf' : 'mass',
    kf: windowStart !== null ? { openKfid: lead.kf!.openKfid!, windowStart } : null,
    caseSlug,
    signature: '',
  };
  item.signature = contentSignature(c, item);
  // A case-study message without a case is only its lead-in text: the lead gets nothing, as when its case went
  // elsewhere before the send (src/domain/campaigns/send.ts), and uses no cap or quota.
  if (c.content.caseStudy && !caseSlug) return { kind: 'skip', reason: 'no_case_left', item };
  return { kind: 'send', item };
}

/** The text a lead gets: the campaign's text with its placeholders filled for this lead. */
export function renderText(c: Campaign, item: Pick<SendItem, 'name' | 'channelName'>): string | null {
  return c.content.text ? render(c.content.text, { name: item.name, channel: item.channelName }) : null;
}

/** The link a lead gets before tracking: the campaign's link, or its case study's. */
export function rawLink(ctx: Pick<BotContext, 'cases'>, c: Campaign, caseSlug: string | null): MessageContent['link'] {
  if (caseSlug) {
    const found = ctx.cases.find((x) => x.slug === caseSlug);
    if (found) return { title: found.title, url: found.url, desc: found.summary, ...(found.picurl ? { picurl: found.picurl } : {}) };
  }
  return c.content.link ?? null;
}

/**
 * What makes two leads' messages the same: the rendered text and the case study (the link of a text/link campaign is
 * the same for all). `{{name}}`, `{{channel}}` and `caseStudy: auto` split the groups; nothing else does.
 */
export function contentSignature(c: Campaign, item: Pick<SendItem, 'name' | 'channelName' | 'caseSlug'>): string {
  return createHash('sha1').update(`${renderText(c, item) ?? ''}\u0000${item.caseSlug ?? ''}`).digest('base64url').slice(0, 16);
}

/** The daily cap of customer-facing marketing messages for a lead of this grade (0 = none; service content: none). */
export function dailyCapFor(ctx: Pick<BotContext, 'config' | 'scoring'>, c: Campaign, grade: string): number {
  if (c.kind === 'service') return 0;
  return ctx.scoring.perGrade[grade as Grade]?.nurtureDailyCap ?? ctx.config.NURTURE_DAILY_CAP;
}
