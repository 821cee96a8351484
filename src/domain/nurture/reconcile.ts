import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { BotContext } from '../../context.js';
import { jobIds } from '../../queues/job-ids.js';
import { Delivery } from '../../store/models/delivery.js';
import { Enrollment } from '../../store/models/enrollment.js';
import { migrateEnrollmentIds } from '../../store/migrate-enrollment-ids.js';
import { restorePauses } from '../pause/pauses.js';
import { stepJob } from './schedule.js';

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
 * deterministic, so a job that exists is never doubled. Enrollments stored under old ids move first
 * (src/store/migrate-enrollment-ids.ts). Returns how many jobs were restored. `seeded`: the data was just written
 * without its jobs (the dev demo), so making them is expected, not a sign of a lost Redis.
 */
export async function reconcile(ctx: Pick<BotContext, 'queues' | 'config' | 'log' | 'redis' | 'keys'>, opts: { seeded?: boolean } = {}): Promise<{ steps: number; polls: number }> {
  await migrateEnrollmentIds(ctx.log);
  // Pauses first: a step job restored below runs at once if due, and must find its lead, sequence or channel paused.
  await restorePauses(ctx);
  let steps = 0;
  let polls = 0;
  const now = Date.now();

  let batch: Array<{ id: string; step: number; dueAt: Date | null; corpId: string; externalUserId: string }> = [];
  const flushSteps = async () => {
    const nurture = ctx.queues.get('nurture');
    const missing = await missingJobs(ctx.redis, nurture, batch.map((e) => ({ id: jobIds.nurtureStep(e.id, e.step), future: (e.dueAt?.getTime() ?? 0) > Date.now() + 1_000 })));
    const jobs = batch
      .filter((e) => missing.has(jobIds.nurtureStep(e.id, e.step)))
      .map((e) => stepJob(e, now));
    await ctx.queues.addBulk('nurture', jobs);
    steps += jobs.length;
    batch = [];
  };
  for await (const e of Enrollment.find({ status: 'active' }, { step: 1, dueAt: 1, corpId: 1, externalUserId: 1 }).lean().cursor({ batchSize: BATCH })) {
    batch.push({ id: String(e._id), step: e.step, dueAt: e.dueAt ?? null, corpId: e.corpId, externalUserId: e.externalUserId });
    if (batch.length >= BATCH) await flushSteps();
  }
  if (batch.length) await flushSteps();

  const schedule = ctx.config.MASS_RESULT_POLL_SCHEDULE;
  const massResult = ctx.queues.get('mass-result');
  const fields = { key: 1, createdAt: 1, msgid: 1, userId: 1, corpId: 1, externalUserId: 1, group: 1 };
  for await (const d of Delivery.find({ status: 'submitted', via: 'mass' }, fields).lean().cursor({ batchSize: BATCH })) {
    // A campaign group's deliveries are polled together, by their group (src/domain/campaigns/reconcile.ts).
    if (!d.msgid || d.group) continue;
    const elapsed = now - d.createdAt.getTime();
    // The next poll due from now; the last one (at once) when they are all past.
    const next = schedule.findIndex((t) => t > elapsed);
    const attempt = next === -1 ? schedule.length - 1 : next;
    const id = jobIds.massPoll(d.key, attempt);
    const due = d.createdAt.getTime() + schedule[attempt]!;
    if ((await missingJobs(ctx.redis, massResult, [{ id, future: due > Date.now() + 1_000 }])).size) {
      const poll = { deliveryKey: d.key, attempt, msgid: d.msgid, userId: d.userId, corpId: d.corpId, externalUserId: d.externalUserId, submittedAt: d.createdAt.getTime() };
      await ctx.queues.add('mass-result', poll, { jobId: id, delay: Math.max(0, due - now) });
      polls++;
    }
  }
  if ((steps || polls) && opts.seeded) ctx.log.info({ steps, polls }, 'scheduled the jobs of the data just seeded');
  else if (steps || polls) ctx.log.warn({ steps, polls }, 'reconciler restored scheduled jobs missing from Redis');
  return { steps, polls };
}
