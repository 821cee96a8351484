import type { BotContext } from '../../context.js';
import { updateOutcome } from '../../store/delivery-ledger.js';
import { Delivery } from '../../store/models/delivery.js';
import { Lead, leadId, type LeadRef } from '../../store/models/lead.js';
import { recordStep } from '../../store/timeline.js';
import { addTouch } from '../../store/touch-log.js';
import type { KfSyncedMessage } from '../../wecom/types.js';
import { exhaustKfWindow } from '../delivery/budget.js';
import { recordResponse, type KfClock } from './clock.js';
import { linkLeadLocked } from './link-lead.js';
import { sendKfWelcome } from './reply.js';
import { clockClosedStep, closeSession, CLOSED_SESSION, openSession, type SessionLeftovers } from './session.js';
import { isTimelineType } from '../../store/timeline-types.js';

type Ctx = BotContext;

/** msg_send_fail's fail_type [D:94670], as the delivery's reason. */
const FAIL_REASONS: Record<number, string> = {
  0: 'unknown',
  1: 'account_deleted',
  2: 'app_closed',
  4: 'window_expired',
  5: 'session_closed',
  6: 'over_5_messages',
  7: 'no_channels_bound',
  8: 'subject_unverified',
  9: 'no_channels_bound_and_subject_unverified',
  10: 'rejected_by_customer',
};

/**
 * A servicer's reply in the WeCom client (origin 5): a person serves the session (state 3, this servicer), the
 * service clock stops and its response time is stored (per conversation). Recorded on the timeline; not a touch.
 */
export async function handleServicerMessage(ctx: Ctx, openKfid: string, m: KfSyncedMessage): Promise<string> {
  const ext = m.external_userid!;
  const ref: LeadRef = { corpId: ctx.corpId, externalUserId: ext };
  const at = new Date(m.send_time * 1000);
  const servicer = m.servicer_userid ?? null;
  return ctx.leads.withLock(ref, async () => {
    const lead = await Lead.findById(leadId(ref.corpId, ext), { kf: 1, grade: 1, firstTouch: 1 }).lean();
    if (!lead) {
      await recordStep(ref, `kf|${openKfid}|${m.msgid}`, 'kf_servicer_replied', { servicer, openKfid, text: (m.text?.content ?? '').slice(0, 300) }, at);
      return 'servicer:no_lead';
    }
    const clock = lead.kf?.clock as KfClock | null | undefined;
    const answers = clock && clock.startedAt <= at;
    const newer = !lead.kf?.lastServicerAt || lead.kf.lastServicerAt < at;
    await ctx.leads.setLocked(ref, {
      ...(newer ? { 'kf.state': 3, 'kf.servicer': servicer, 'kf.lastServicerAt': at } : {}),
      ...(answers ? { 'kf.clock': null } : {}),
    });
    if (answers) await recordResponse(ctx, ref, lead, clock, openKfid, servicer, at);
    await recordStep(ref, `kf|${openKfid}|${m.msgid}`, 'kf_servicer_replied', { servicer, openKfid, text: (m.text?.content ?? '').slice(0, 300), ...(answers ? { responseSeconds: Math.round((at.getTime() - clock.startedAt.getTime()) / 1000) } : {}) }, at);
    return answers ? 'servicer:clock_stopped' : 'servicer:recorded';
  });
}

/**
 * An event (origin 4) [D:94670]: enter_session (the lead, attributed to the link's channel, and the channel's kf
 * welcome within the code's 20 s), msg_send_fail (the delivery becomes failed, with why), session_status_change (our
 * view of the session: a servicer took it, passed it on, ended it), recalls and the rest (recorded).
 */
export async function handleKfEvent(ctx: Ctx, openKfid: string, m: KfSyncedMessage, lastAttempt: boolean): Promise<string> {
  const ev = m.event ?? { event_type: 'unknown' };
  const ext = ev.external_userid;
  const at = new Date(m.send_time * 1000);
  const key = `kf|${openKfid}|${m.msgid}`;
  if (!ext) return `event:${ev.event_type}:ignored`;
  const ref: LeadRef = { corpId: ctx.corpId, externalUserId: ext };
  switch (ev.event_type) {
    case 'enter_session':
      return enterSession(ctx, openKfid, m, ref, at);
    case 'msg_send_fail': {
      const d = ev.fail_msgid ? await Delivery.findOne({ msgid: ev.fail_msgid }, { _id: 1, externalUserId: 1, sentAt: 1 }).lean() : null;
      // The send's record may still be on its way through the records queue: try again before giving up.
      if (!d && !lastAttempt) throw new Error(`msg_send_fail for ${ev.fail_msgid}: no delivery recorded yet`);
      const reason = FAIL_REASONS[ev.fail_type ?? 0] ?? `fail_type ${ev.fail_type}`;
      if (d) await updateOutcome(d._id, ['sent', 'unknown', 'pending'], { status: 'failed', reason });
      if (ev.fail_type === 6) {
        // Over the 5 of its window [D:94677]: that window is spent, when it is still the customer's latest. A message
        // of theirs written after the send opened a new one, with 5 of its own, which stays open. (send_time is in
        // whole seconds: a send in the same second as the message may be in either window, and the latest is spent.)
        const last = (await Lead.findById(leadId(ref.corpId, ext), { kf: 1 }).lean())?.kf?.lastInboundAt;
        if (last && !(d?.sentAt && d.sentAt < last)) await exhaustKfWindow(leadId(ref.corpId, ext), last.getTime(), key);
      }
      await recordStep(ref, key, 'kf_send_failed', { delivery: d?._id ?? null, failMsgid: ev.fail_msgid ?? null, failType: ev.fail_type ?? null, reason }, at);
      return d ? `send_failed:${reason}` : 'send_failed:unmatched';
    }
    case 'session_status_change': {
      // Types 1 (picked from the queue), 2 (passed on) and 4 (re-opened) give the session to a person; 3 ends it.
      const ended = ev.change_type === 3;
      const left = await ctx.leads.withLock(ref, async (): Promise<SessionLeftovers | null> => {
        const lead = await Lead.findById(leadId(ref.corpId, ext), { 'kf.clock': 1, 'kf.handoffAt': 1 }).lean();
        if (!lead) return null;
        if (!ended) {
          await ctx.leads.setLocked(ref, { 'kf.state': 3, 'kf.servicer': ev.new_servicer_userid ?? null });
          return null;
        }
        // Ended: what the session left (a clock no one can stop now, a hand-off waiting for the hours) ends with it.
        const left = closeSession((lead.kf ?? {}) as Parameters<typeof closeSession>[0]);
        await ctx.leads.setLocked(ref, CLOSED_SESSION);
        return left;
      });
      const step = left && clockClosedStep(left, 'session_ended');
      if (step) await recordStep(ref, step.sourceKey, step.type, step.detail, at);
      await recordStep(ref, key, 'kf_session_changed', { changeType: ev.change_type ?? null, from: ev.old_servicer_userid ?? null, to: ev.new_servicer_userid ?? null }, at);
      return ended ? 'session:ended' : 'session:person';
    }
    default: {
      // Recalls and a servicer's block switch have types of their own; an event WeCom adds later is kept as kf_other_event.
      const type = `kf_${ev.event_type}`;
      await recordStep(ref, key, isTimelineType(type) ? type : 'kf_other_event', { ...ev }, at);
      return `event:${ev.event_type}`;
    }
  }
}

/** enter_session: the lead (made now if new, attributed to the link's scene) and, with a welcome_code, the welcome. */
async function enterSession(ctx: Ctx, openKfid: string, m: KfSyncedMessage, ref: LeadRef, at: Date): Promise<string> {
  const ev = m.event!;
  const key = `kf|${openKfid}|${m.msgid}`;
  const opened: { left: SessionLeftovers | null } = { left: null };
  const doc = await ctx.leads.withLock(ref, () =>
    linkLeadLocked(
      ctx,
      openKfid,
      ref.externalUserId,
      at,
      (d) => {
        // Entering starts the conversation unless one is open: its first message then does not count it again.
        opened.left = openSession((d.kf ??= {} as never), openKfid, at);
        if (opened.left) addTouch(d, { eventKey: key, kind: 'kf_conversation', channelKey: d.firstTouch?.channelKey, at, ref: ev.scene || null });
      },
      { scene: ev.scene, sceneParam: ev.scene_param },
    ),
  );
  const closed = opened.left && clockClosedStep(opened.left, 'new_session');
  if (closed) await recordStep(ref, closed.sourceKey, closed.type, closed.detail, at);
  const channel = ctx.channels.resolveKf(ev.scene, ev.scene_param);
  await recordStep(ref, key, 'kf_entered', { scene: ev.scene ?? null, sceneParam: ev.scene_param ?? null, channel: channel.key, welcomeCode: Boolean(ev.welcome_code) }, at);
  if (!ev.welcome_code) return 'entered';
  if (!channel.kf?.welcome) {
    await recordStep(ref, key, 'kf_welcome_skipped', { reason: 'channel_has_no_kf_welcome', channel: channel.key });
    return 'entered:no_welcome';
  }
  const lead = { _id: doc._id, corpId: doc.corpId, externalUserId: doc.externalUserId, name: doc.name, industry: doc.industry, role: doc.role, firstTouch: doc.firstTouch };
  // The code lives 20 s from the event [D:95122]; keep a second for the call itself.
  const res = await sendKfWelcome(ctx, { lead, openKfid, key: `kf-welcome|${openKfid}|${m.msgid}`, code: ev.welcome_code, reply: channel.kf.welcome, deadline: m.send_time * 1000 + 19_000 });
  return `welcome:${res}`;
}
