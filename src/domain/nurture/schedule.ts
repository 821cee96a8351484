import type { BotContext } from '../../context.js';
import { jobIds } from '../../queues/job-ids.js';
import { leadId } from '../../store/models/lead.js';

/** Data of a nurture step job: run step `s` of enrollment `e` of lead `l`. Kept tiny: one delayed job per lead. */
export interface NurtureStepData {
  e: string;
  s: number;
  /** The lead id, whose lock the step takes without reading the enrollment first. */
  l?: string;
}

/** What an enrollment's current step job needs. */
export interface ScheduledStep {
  id?: string;
  step: number;
  dueAt?: Date | null;
  corpId: string;
  externalUserId: string;
}

/** The job of an enrollment's current step, due at `dueAt` (now when null), with its deterministic id. */
export function stepJob(e: ScheduledStep, now = Date.now()) {
  if (!e.id) throw new Error('stepJob: the enrollment has no id');
  return {
    data: { e: e.id, s: e.step, l: leadId(e.corpId, e.externalUserId) } satisfies NurtureStepData,
    opts: { jobId: jobIds.nurtureStep(e.id, e.step), delay: Math.max(0, (e.dueAt?.getTime() ?? now) - now) },
  };
}

/** Adds the job of an enrollment's current step (a no-op when it is there already: the id is deterministic). */
export async function scheduleStep(ctx: Pick<BotContext, 'queues'>, e: ScheduledStep): Promise<void> {
  const job = stepJob(e);
  await ctx.queues.add('nurture', job.data, job.opts);
}
