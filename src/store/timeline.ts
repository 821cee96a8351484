import { createOnce } from './create-once.js';
import type { LeadRef } from './models/lead.js';
import { TimelineEntry } from './models/timeline.js';

/** Records a step on the lead's timeline exactly once per (source key, type): a re-run records nothing new. */
export async function recordStep(lead: LeadRef, sourceKey: string, type: string, detail: Record<string, unknown> = {}, at = new Date()): Promise<void> {
  await createOnce(TimelineEntry, { _id: `${sourceKey}#${type}`, corpId: lead.corpId, externalUserId: lead.externalUserId, type, at, detail });
}

/** A lead's timeline, oldest first. */
export async function timelineOf(corpId: string, externalUserId: string) {
  return TimelineEntry.find({ corpId, externalUserId }).sort({ at: 1 }).lean();
}
