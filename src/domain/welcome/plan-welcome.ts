import type { BotContext } from '../../context.js';
import { jobIds } from '../../queues/job-ids.js';
import type { EventJobData } from '../../inbox/event-job.js';

/** WelcomeCodes live 20 s from the event [D:92137]; keep a margin for the send itself. */
export const WELCOME_WINDOW_MS = 20_000;
const WELCOME_MARGIN_MS = 1_000;

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
export function planWelcome(ctx: Pick<BotContext, 'channels' | 'corpId'>, data: EventJobData): { data: WelcomeJob; jobId: string } | null {
  const event = data.event as { ChangeType?: string; State?: string; WelcomeCode?: string; ExternalUserID?: string; UserID?: string; CreateTime?: number };
  if (event.ChangeType !== 'add_external_contact' && event.ChangeType !== 'add_half_external_contact') return null;
  const channel = ctx.channels.resolve(event.State);
  if (!event.WelcomeCode || !channel.welcome || !event.ExternalUserID || !event.UserID) return null;
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
      // The code's 20 s run from WeCom's event, which may be older than our receipt (a retried callback).
      deadline: Math.min(data.receivedAt, Number(event.CreateTime ?? 0) * 1000 + 999) + WELCOME_WINDOW_MS - WELCOME_MARGIN_MS,
    },
  };
}
