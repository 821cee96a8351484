import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { BotContext } from '../../context.js';
import { Delivery } from '../../store/models/delivery.js';
import { Enrollment } from '../../store/models/enrollment.js';
import { pollJobId, stepJob, stepJobId } from '../../queues/index.js';

const BATCH = 1000;

/**
 * Which of `ids` have no runnable job in `queue`: no job hash, or — for a job that should be waiting for a future
 * time — a hash that is in no delayed set (what a partial loss of Redis data leaves behind). Such leftovers are
 * removed so the job can be added again under the same id. One pipeline per batch.
 */
async function missingJobs(redis: Redis, queue: Queue, jobs: Array<{ id: string; future: boolean }>): Promise<Set<string>> {
  const pipeline = redis.pipeline();
  for (const j of jobs) pipeline.exists(queue.toKey(j.id)).zscore(queue.toKey('delayed'), j.id);
  const answers = (await pipeline.exec()) ?? [];
  const missing = new Set<string>();
  const leftovers: string[] = [];
  jobs.forEach((j, i) => {
    const hash = answers[2 * i]?.[1] === 1;
    const delayed = answers[2 * i + 1]?.[1] !== null;
    if (!hash) missing.add(j.id);
    else if (j.future && !delayed) {
      missing.add(j.id);
      leftovers.push(j.id);
    }
  });
  if (leftovers.length) await redis.del(...leftovers.map((id) => queue.toKey(id)));
  return missing;
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

  let batch: Array<{ id: string; step: number; dueAt: Date | null; corpId: string; externalUserId: string }> = [];
  const flushSteps = async () => {
    const missing = await missingJobs(ctx.redis, ctx.queues.nurture, batch.map((e) => ({ id: stepJobId(e.id, e.step), future: (e.dueAt?.getTime() ?? 0) > Date.now() + 1_000 })));
    const jobs = batch
      .filter((e) => missing.has(stepJobId(e.id, e.step)))
      .map((e) => stepJob(e, now));
    if (jobs.length) await ctx.queues.nurture.addBulk(jobs);
    steps += jobs.length;
    batch = [];
  };
  for await (const e of Enrollment.find({ status: 'active' }, { step: 1, dueAt: 1, corpId: 1, externalUserId: 1 }).lean().cursor({ batchSize: BATCH })) {
    batch.push({ id: String(e._id), step: e.step, dueAt: e.dueAt ?? null, corpId: e.corpId, externalUserId: e.externalUserId });
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
    const due = d.createdAt.getTime() + schedule[attempt]!;
    if ((await missingJobs(ctx.redis, ctx.queues.massResult, [{ id, future: due > Date.now() + 1_000 }])).size) {
      await ctx.queues.massResult.add('poll', { deliveryKey: d.key, attempt }, { jobId: id, delay: Math.max(0, due - now) });
      polls++;
    }
  }
  if (steps || polls) ctx.log.warn({ steps, polls }, 'reconciler restored scheduled jobs missing from Redis');
  return { steps, polls };
}
