import mongoose, { Schema, type InferSchemaType } from 'mongoose';

/**
 * running; waiting (for its next pass or the end of quiet hours); paused (its campaign is paused); finished;
 * cancelled (its campaign was cancelled: what was not sent by then never is); skipped (due while its campaign was
 * paused); missed (its time passed while no worker ran, by more than the grace).
 */
export const RUN_STATUSES = ['running', 'waiting', 'paused', 'finished', 'cancelled', 'skipped', 'missed'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
/** Statuses a run never leaves. */
export const ENDED_RUN_STATUSES: ReadonlySet<RunStatus> = new Set(['finished', 'cancelled', 'skipped', 'missed']);

const runSchema = new Schema(
  {
    /** `<campaign key>|<slot>`: `at` for a one-off campaign, else the scheduled time (UTC, to the second). */
    _id: { type: String, required: true },
    campaignKey: { type: String, required: true },
    /** schedule (its cron or at) or launch (run now, by staff). */
    trigger: { type: String, enum: ['schedule', 'launch'], required: true },
    scheduledFor: { type: Date, required: true },
    /** The campaign's definition when the run was created: a later edit does not change a run under way. */
    definition: { type: Schema.Types.Mixed, required: true },
    status: { type: String, enum: RUN_STATUSES, required: true },
    reason: { type: String, default: null },
    /** 0: the audience pass; n: the n-th pass over the leads a cap held back. */
    pass: { type: Number, default: 0 },
    /** The last lead (or deferral) id whose outcome is settled in this pass: a resumed run starts after it. */
    checkpoint: { type: String, default: null },
    /** This pass only records the leads a cap held back as over the cap: the run's window ends before it could send. */
    expiring: { type: Boolean, default: false },
    /** When a waiting run goes on. */
    nextAt: { type: Date, default: null },
    /** Leads held back by a cap are tried until then; after it they count as over the cap. */
    windowEndsAt: { type: Date, required: true },
    startedAt: { type: Date, default: null },
    finishedAt: { type: Date, default: null },
    /** The process running it and when it last said so (a second runner waits while this is fresh). */
    runner: { type: String, default: null },
    heartbeatAt: { type: Date, default: null },
    /**
     * Counted by the run as each page of its audience is settled (written with the checkpoint, so a resumed run
     * counts nothing twice): targeted, excluded.<reason>, routes.<via>, outcomes.<via>_<status>, deferred,
     * enrolled, notEnrolled; `waiting` is set at the end of each pass.
     */
    counters: { type: Schema.Types.Mixed, default: () => ({}) },
    /** Replies, clicks and stage moves in the 7 days after (src/domain/campaigns/follow-up.ts). */
    followUp: { type: Schema.Types.Mixed, default: null },
  },
  { timestamps: true, versionKey: false, minimize: false },
);
runSchema.index({ campaignKey: 1, scheduledFor: -1 });
runSchema.index({ status: 1 });

export type CampaignRunFields = InferSchemaType<typeof runSchema>;
/** One run of a campaign: (campaign, scheduled time), created once; the run job is its only writer. */
export const CampaignRun = mongoose.model('CampaignRun', runSchema, 'campaign_runs');
