import type { BotContext } from '../../context.js';
import { KfHandled, KfMessage } from '../../store/models/kf.js';

/** One deletion an hour is plenty: a day's messages are a small part of what is kept. */
const PRUNE_EVERY_S = 3_600;
const DAY_MS = 86_400_000;

/**
 * Deletes the 客服 messages' documents past KF_MESSAGE_RETENTION_DAYS: the stored copies (`kf_messages`) sent before
 * then and the handled marks (`kf_handled`) written before then. kf/sync_msg returns the last 3 days only [D:94670], so
 * such a message can never be fetched again, and its documents no longer keep anything from being handled twice;
 * kept, they would grow without end, and with them the reconciler's scan of `kf_messages`. A message still waiting in
 * a `kf-inbound` job of its own (`pending`) is kept until it is handled. At most once an hour across processes (a
 * Redis mark): null when another run did it within the hour. Its queries may scan (periodic work: docs/architecture.md,
 * "Stores").
 */
export async function pruneKfMessages(ctx: Pick<BotContext, 'redis' | 'keys' | 'config' | 'log'>, now = Date.now()): Promise<{ messages: number; marks: number } | null> {
  if ((await ctx.redis.set(ctx.keys.kfPruned(), String(now), 'EX', PRUNE_EVERY_S, 'NX')) === null) return null;
  const before = new Date(now - ctx.config.KF_MESSAGE_RETENTION_DAYS * DAY_MS);
  try {
    // A mark is written after its message was sent: a mark from before the cutoff is of a message sent before it.
    const messages = (await KfMessage.deleteMany({ sendTime: { $lt: before }, pending: { $ne: true } })).deletedCount;
    const marks = (await KfHandled.deleteMany({ at: { $lt: before } })).deletedCount;
    if (messages || marks) ctx.log.info({ messages, marks, before: before.toISOString() }, '客服 messages past their retention deleted');
    return { messages, marks };
  } catch (err) {
    // Not done: the next reconcile tries again rather than an hour later.
    await ctx.redis.del(ctx.keys.kfPruned());
    throw err;
  }
}
