import type { BotContext } from '../../context.js';
import { jobIds } from '../../queues/job-ids.js';
import type { EventJobData } from '../../inbox/event-job.js';
import { withTimeout } from '../../with-timeout.js';

/** WelcomeCodes live 20 s from the event [D:92137]; keep a margin for the send itself. */
export const WELCOME_WINDOW_MS = 20_000;
const WELCOME_MARGIN_MS = 1_000;
/**
 * How far the event's CreateTime (WeCom's clock) and our receipt (our clock) may lie apart and still be read as the
 * event's age. WeCom retries a callback not answered within 5 s [D:90930], so a first delivery comes within about
 * that; a larger gap is a retry of a lost delivery or a clock off by more than that, which cannot be told apart.
 */
export const CLOCK_TOLERANCE_MS = 5_000;
/** A clock gap past the tolerance is logged at most this often per process. */
const SKEW_LOG_EVERY_MS = 60_000;
let lastSkewLog = 0;

/** A welcome to send: who, with which code, and until when. */
export interface WelcomeJob {
  corpId: string;
  externalUserId: string;
  userId: string;
  channelKey: string;
  welcomeCode: string;
  /** The add event's dedupe key. */
  dedupeKey: string;
  /** When the callback was accepted (ms epoch). */
  receivedAt: number;
  /** ms epoch after which the WelcomeCode is dead and nothing may be sent. */
  deadline: number;
}

/**
 * The welcome of a callback, or null when it gets none: a new contact with a WelcomeCode whose channel has a welcome.
 * The inbox ingest creates it together with the event's own job, so the 20 s window never waits behind other events.
 */
export function planWelcome(ctx: Pick<BotContext, 'channels' | 'corpId' | 'log'>, data: EventJobData): { data: WelcomeJob; jobId: string } | null {
  const event = data.event as { ChangeType?: string; State?: string; WelcomeCode?: string; ExternalUserID?: string; UserID?: string; CreateTime?: number };
  if (event.ChangeType !== 'add_external_contact' && event.ChangeType !== 'add_half_external_contact') return null;
  const channel = ctx.channels.resolve(event.State);
  if (!event.WelcomeCode || !channel.welcome || !event.ExternalUserID || !event.UserID) return null;
  const { deadline, gapMs, trusted } = welcomeDeadline(data.receivedAt, Number(event.CreateTime ?? 0));
  if (!trusted && Date.now() - lastSkewLog >= SKEW_LOG_EVERY_MS) {
    lastSkewLog = Date.now();
    ctx.log.warn({ gapSeconds: Math.round(gapMs / 1000) }, 'an add event\'s CreateTime is far from our clock (a retried callback, or a clock off); the welcome window is counted from our receipt');
  }
  return {
    jobId: jobIds.welcome(data.dedupeKey),
    data: {
      corpId: ctx.corpId,
      externalUserId: event.ExternalUserID,
      userId: event.UserID,
      channelKey: channel.key,
      welcomeCode: event.WelcomeCode,
      dedupeKey: data.dedupeKey,
      receivedAt: data.receivedAt,
      deadline,
    },
  };
}

/** How long the inbox waits for the lookup of channels created by command before it plans a welcome. */
export const WELCOME_LOOKUP_MS = 1_000;

/**
 * Looks up the channels created by command before the welcome of `data` is planned, when that can change the plan
 * (welcomeNeedsLookup), for at most WELCOME_LOOKUP_MS: a database that does not answer fails the inbox's pass at once,
 * as one that refuses would, rather than after the driver's 10 s, and the pass read again finds the state looked up
 * (at most every 10 s per state) and plans with the channels it knows.
 */
export async function lookUpChannelsForWelcome(ctx: Pick<BotContext, 'channels'>, data: EventJobData): Promise<void> {
  if (!welcomeNeedsLookup(ctx, data)) return;
  await withTimeout(ctx.channels.ensure((data.event as { State?: string }).State), WELCOME_LOOKUP_MS, 'the channels created by command could not be looked up in time');
}

/**
 * Whether the channels created by command must be looked up (ChannelCatalog.ensure, a database read) before the welcome
 * of a callback is planned: only for an add with a WelcomeCode whose state this process does not know, when the channel
 * an unknown state falls back to (organic) has a welcome. A channel created by command has no welcome of its own
 * (src/domain/channels/stored-channels.ts), so in every other case the lookup cannot change the plan, and the inbox
 * would hold every welcome behind it on the database, which the 20 s window must not wait on (a database that does
 * not answer takes the driver's 10 s to fail, and the pass is tried three times).
 */
export function welcomeNeedsLookup(ctx: Pick<BotContext, 'channels'>, data: EventJobData): boolean {
  const event = data.event as { ChangeType?: string; State?: string; WelcomeCode?: string };
  if (event.ChangeType !== 'add_external_contact' && event.ChangeType !== 'add_half_external_contact') return false;
  if (!event.WelcomeCode || !event.State || ctx.channels.get(event.State)) return false;
  return Boolean(ctx.channels.resolve(null).welcome);
}

/**
 * When a welcome must have gone: 20 s (less the margin) from the event. Our receipt is measured on our clock, the
 * event's CreateTime on WeCom's, so the two are compared only when they agree within CLOCK_TOLERANCE_MS: then the
 * event may be older than our receipt (a delivery that took a while) and its CreateTime (rounded up: it has whole
 * seconds) shortens the window. Otherwise the window counts from our receipt alone: a clock ahead of WeCom's would
 * make every event look too old to welcome, and one behind would make it look newer than our receipt. Guessing
 * "skewed clock" for what was a late retry costs at most a call WeCom refuses (a dead code sends nothing); guessing
 * "late retry" for a skewed clock would lose every welcome.
 */
export function welcomeDeadline(receivedAt: number, createTimeSeconds: number): { deadline: number; gapMs: number; trusted: boolean } {
  const eventAt = createTimeSeconds * 1000 + 999;
  const gapMs = receivedAt - eventAt;
  const trusted = Math.abs(gapMs) <= CLOCK_TOLERANCE_MS;
  return { deadline: (trusted ? Math.min(receivedAt, eventAt) : receivedAt) + WELCOME_WINDOW_MS - WELCOME_MARGIN_MS, gapMs, trusted };
}
