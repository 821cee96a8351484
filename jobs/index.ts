import type { AnyJobKind } from '../src/queues/define-job.js';
import { campaignFollowUpJob } from './campaign-follow-up.js';
import { campaignRunJob } from './campaign-run.js';
import { campaignTickJob } from './campaign-tick.js';
import { handleEventJob } from './handle-event.js';
import { kfClockJob } from './kf-clock.js';
import { kfHandoffJob } from './kf-handoff.js';
import { kfInboundJob } from './kf-inbound.js';
import { kfSyncJob } from './kf-sync.js';
import { nurtureStepJob } from './nurture-step.js';
import { opsCommandJob } from './ops-command.js';
import { opsReportJob } from './ops-report.js';
import { opsAlertDigestJob, opsAlertJob } from './ops-alert.js';
import { pollMassResultJob } from './poll-mass-result.js';
import { recordOutcomeJob } from './record-outcome.js';
import { rescoreJob } from './rescore.js';
import { staffNoticeJob } from './staff-notice.js';
import { corpTagsJob } from './corp-tags.js';
import { commandAuditJob } from './command-audit.js';
import { sendWelcomeJob } from './send-welcome.js';
import { syncContactJob } from './sync-contact.js';

/** Every job kind: the queues the bot creates and the workers it starts come from this list. */
export const JOB_KINDS: readonly AnyJobKind[] = [] = [handleEventJob, sendWelcomeJob, recordOutcomeJob, syncContactJob, nurtureStepJob, pollMassResultJob, staffNoticeJob, rescoreJob, opsAlertJob, opsAlertDigestJob, opsCommandJob, commandAuditJob, opsReportJob, campaignTickJob, campaignRunJob, campaignFollowUpJob, kfSyncJob, kfInboundJob, kfClockJob, kfHandoffJob, corpTagsJob];
