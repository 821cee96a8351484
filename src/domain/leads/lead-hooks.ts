import type { BotContext } from '../../context.js';
import { jobIds } from '../../queues/job-ids.js';
import type { LeadHooks } from '../../store/lead-repository.js';
import { leadId, type LeadDoc } from '../../store/models/lead.js';
import { foldLegacy, keepLatest, lastTouchTime, touchesOf } from '../../store/touch-log.js';
import { alertGradeUpgrade, UPGRADE_NEWS_DELAY_MS } from '../alerts/lead-alerts.js';
import { applyFunnelChange } from '../funnel/rollup.js';
import { isUpgrade, roleOf, scoreLead } from '../scoring/score.js';
import type { Grade } from '../vocabulary.js';
import { upgradeWhy } from './upgrade-news.js';
import { changesRow } from './lead-index.js';
import { LEAVING_FIELDS, mayHaveLeft, noteLeaver } from '../campaigns/audience-leavers.js';

/** Touches kept on a lead (the latest): older ones have decayed to nothing in the score. */
export const MAX_TOUCHES = 200;

type Ctx = Pick<BotContext, 'scoring' | 'config' | 'queues' | 'redis' | 'keys' | 'channels' | 'wecom' | 'log' | 'leadIndex'>;

/**
 * What happens around every change of a lead: its role from its tags, its last touch, its score and grade recomputed
 * (a pinned grade wins), an upgrade into S or A told to the owner (once per upgrade) and, once saved, to the ops group,
 * the funnel counters moved, the lead's row in the lead index replaced, and a lead that may have left campaign audiences
 * noted for the runs under way (src/domain/campaigns/audience-leavers.ts).
 */
export function leadHooks(ctx: Ctx): LeadHooks {
  return {
    async beforeSave(doc) {
      // A lead stored before the touch log has its touches folded into it now (src/store/touch-log.ts).
      if (doc.touches) {
        doc.touchLog = foldLegacy(doc.touches, doc.touchLog ?? '');
        doc.touches = undefined;
      }
      const log = keepLatest(doc.touchLog ?? '', MAX_TOUCHES);
      if (log !== doc.touchLog) doc.touchLog = log;
      const touches = touchesOf({ touchLog: log });
      const last = lastTouchTime(touches);
      if (last && (!doc.lastTouchAt || last > doc.lastTouchAt)) doc.lastTouchAt = last;
      doc.role = roleOf(doc.tags, ctx.scoring) ?? null;
      const tagKeys = doc.tags.map((t) => `${t.group}/${t.name}`);
      if (tagKeys.join('\n') !== (doc.tagKeys ?? []).join('\n')) doc.tagKeys = tagKeys;
      const scored = scoreLead({ industry: doc.industry, role: doc.role, corpName: doc.corpName, firstTouch: doc.firstTouch, reached: doc.reached, touches }, ctx.scoring, Date.now());
      doc.score = scored.score;
      doc.scoreReasons = scored.reasons as never;
      doc.scoredAt = new Date();
      const grade: Grade = (doc.gradePin as Grade | null) ?? scored.grade;
      if (grade !== doc.grade) {
        if ((grade === 'S' || grade === 'A') && isUpgrade(doc.grade, grade)) {
          doc.gradeUpgrades = (doc.gradeUpgrades ?? 0) + 1;
          // Queued before the save; the notice checks the lead holds this upgrade, and no later one, before it goes out.
          await queueGradeNotice(ctx, doc, grade);
        }
        doc.grade = grade;
      }
    },
    async afterSave(before, after) {
      await applyFunnelChange(ctx.redis, ctx.keys, ctx.config.OPS_TIMEZONE, before, after);
      // After the save, so only an upgrade that holds is announced (each one once: its number is in the alert's key).
      if ((after.gradeUpgrades ?? 0) > (before?.gradeUpgrades ?? 0) && (after.grade === 'S' || after.grade === 'A')) await alertGradeUpgrade(ctx, after);
      await ctx.leadIndex.put(after);
      if (mayHaveLeft(before, after)) await noteLeaver(ctx, after._id);
    },
    async afterUpdate(lead, fields) {
      if (fields.some(changesRow)) await ctx.leadIndex.refresh(leadId(lead.corpId, lead.externalUserId));
      if (fields.some((f) => LEAVING_FIELDS.has(f.split('.')[0]!))) await noteLeaver(ctx, leadId(lead.corpId, lead.externalUserId));
    },
  };
}

/** Tells the lead's owner (the member who last interacted, else every active owner) that it rose to S or A. */
async function queueGradeNotice(ctx: Ctx, doc: LeadDoc, grade: Grade): Promise<void> {
  const active = doc.owners.filter((o) => o.status === 'active').map((o) => o.userId);
  const last = doc.lastInteraction?.userId;
  const to = last && active.includes(last) ? [last] : active;
  if (!to.length) return;
  const who = [doc.name ?? doc.externalUserId, doc.corpName ? `（${doc.corpName}）` : ''].join('');
  const why = upgradeWhy(doc.scoreReasons);
  const channel = ctx.channels.get(doc.firstTouch?.channelKey ?? '')?.name ?? doc.firstTouch?.channelKey ?? '';
  const text = `【线索升级】${who} 升为 ${grade} 级（得分 ${doc.score}${doc.gradePin ? '，人工定级' : ''}）。${why ? `主要加分：${why}。` : ''}${channel ? `来源渠道：${channel}。` : ''}请尽快跟进。`;
  const n = doc.gradeUpgrades;
  await ctx.queues.add(
    'staff-notice',
    { key: jobIds.gradeNotice(doc._id, n), userIds: to, text, lead: { corpId: doc.corpId, externalUserId: doc.externalUserId }, check: { gradeUpgrades: n, grade, score: doc.score, why }, type: 'grade_upgrade_notice' },
    { jobId: jobIds.gradeNotice(doc._id, n), delay: UPGRADE_NEWS_DELAY_MS },
  );
}
