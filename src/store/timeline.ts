import { createOnce, insertManyOnce } from './create-once.js';
import type { LeadRef } from './models/lead.js';
import { TimelineEntry } from './models/timeline.js';

/** Records a step on the lead's timeline exactly once per (source key, type): a re-run records nothing new. */
export async function recordStep(lead: LeadRef, sourceKey: string, type: string, detail: Record<string, unknown> = {}, at = new Date()): Promise<void> {
  await createOnce(TimelineEntry, { _id: `${sourceKey}#${type}`, corpId: lead.corpId, externalUserId: lead.externalUserId, type, at, detail });
}

/** One step to record with recordSteps. */
export interface TimelineStep {
  lead: LeadRef;
  sourceKey: string;
  type: string;
  detail?: Record<string, unknown>;
  at?: Date;
}

/** Records many steps in one insert, each once per (source key, type), as recordStep does one. */
export async function recordSteps(steps: readonly TimelineStep[]): Promise<void> {
  const now = new Date();
  await insertManyOnce(
    TimelineEntry.collection,
    steps.map((s) => ({ _id: `${s.sourceKey}#${s.type}`, corpId: s.lead.corpId, externalUserId: s.lead.externalUserId, type: s.type, at: s.at ?? now, detail: s.detail ?? {} })),
  );
}

/** A lead's timeline, oldest first. */
export async function timelineOf(corpId: string, externalUserId: string) {
  return TimelineEntry.find({ corpId, externalUserId }).sort({ at: 1 }).lean();
}
