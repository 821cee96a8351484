import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { BotContext } from '../context.js';
import { Delivery } from '../models/delivery.js';
import { Enrollment } from '../models/enrollment.js';
import { pollJobId, stepJobId } from '../queues/index.js';

const BATCH = 1000;

/** Which of `ids` have no job in `queue` (one pipelined EXISTS per id). */
async function missingJobs(redis: Redis, queue: Queue, ids: string[]): Promise<Set<string>> {
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.exists(queue.toKey(id));
  const answers = (await pipeline.exec()) ?? [];
  return new Set(ids.filter((_, i) => answers[i]?.[1] === 0));
}

/**
 * Re-creates every scheduled job MongoDB says should exist but Redis lacks — each active enrollment's current step,
 * each submitted mass message's next poll — so a flushed or replaced Redis loses nothing. Job ids are
 * deterministic, so a job that exists is never doubled. Returns how many jobs were restored.
 */
export async function reconcile(ctx: Pick<BotContext, 'queues' | 'config' | 'log' | 'redis'>): Promise<{ steps: number; polls: number }> {
  let steps = 0;
  let polls = 0;
  const now = Date.now();

  let batch: Array<{ id: string; step: number; dueAt: Date | null }> = [];
  const flushSteps = async () => {
    const missing = await missingJobs(ctx.redis, ctx.queues.nurture, batch.map((e) => stepJobId(e.id, e.step)));
    const jobs = batch
      .filter((e) => missing.has(stepJobId(e.id, e.step)))
      .map((e) => ({ name: 'step', data: { e: e.id, s: e.step }, opts: { jobId: stepJobId(e.id, e.step), delay: Math.max(0, (e.dueAt?.getTime() ?? now) - now) } }));
    if (jobs.length) await ctx.queues.nurture.addBulk(jobs);
    steps += jobs.length;
    batch = [];
  };
  for await (const e of Enrollment.find({ status: 'active' }, { step: 1, dueAt: 1 }).lean().cursor({ batchSize: BATCH })) {
    batch.push({ id: String(e._id), step: e.step, dueAt: e.dueAt ?? null });
    if (batch.length >= BATCH) await flushSteps();
  }
  if (batch.length) await flushSteps();

  const schedule = ctx.config.MASS_RESULT_POLL_SCHEDULE;
  for await (const d of Delivery.find({ status: 'submitted', route: 'mass' }, { key: 1, createdAt: 1 }).lean().cursor({ batchSize: BATCH })) {
    const elapsed = now - d.createdAt.getTime();
    // The next poll due from now; the last one (at once) when they are all past.
    const next = schedule.findIndex((t) => t > elapsed);
    const attempt = next === -1 ? schedule.length - 1 : next;
    const id = pollJobId(d.key, attempt);
    if ((await missingJobs(ctx.redis, ctx.queues.massResult, [id])).size) {
      await ctx.queues.massResult.add('poll', { deliveryKey: d.key, attempt }, { jobId: id, delay: Math.max(0, d.createdAt.getTime() + schedule[attempt]! - now) });
      polls++;
    }
  }
  if (steps || polls) ctx.log.warn({ steps, polls }, 'reconciler restored scheduled jobs missing from Redis');
  return { steps, polls };
}
