import type { Worker } from 'bullmq';
import type { BotContext } from '../context.js';

/** How often the welcome queue is looked at. */
const LOOK_EVERY_MS = 200;
/** The `events` jobs a process runs at once while welcomes wait or run. */
const YIELDED_CONCURRENCY = 2;

/**
 * Welcomes first: a WelcomeCode lives 20 s from the event [D:92137], so while welcome jobs wait or run (in any
 * process), this process's `events` worker takes at most YIELDED_CONCURRENCY jobs at a time, and a burst of new
 * contacts is welcomed before its other work (leads, tags, sequences) takes the cores. Jobs already running go on;
 * the full concurrency comes back once the welcome queue is empty. Returns the stop.
 */
export function welcomeFirst(ctx: Pick<BotContext, 'queues' | 'log'>, workers: readonly Worker[]): () => Promise<void> {
  const events = workers.find((w) => w.name === 'events');
  if (!events) return async () => undefined;
  const full = events.concurrency;
  const welcomes = ctx.queues.get('welcome');
  let looking = false;
  const timer = setInterval(() => {
    if (looking) return;
    looking = true;
    welcomes
      .getJobCounts('waiting', 'active', 'prioritized')
      .then((c) => {
        events.concurrency = (c.waiting ?? 0) + (c.active ?? 0) + (c.prioritized ?? 0) > 0 ? Math.min(full, YIELDED_CONCURRENCY) : full;
      })
      // Redis unreachable: the worker keeps its last setting, and the workers themselves report the outage.
      .catch(() => undefined)
      .finally(() => (looking = false));
  }, LOOK_EVERY_MS);
  timer.unref();
  return async () => {
    clearInterval(timer);
    events.concurrency = full;
  };
}
