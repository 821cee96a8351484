import type { BotContext } from '../context.js';
import { conversationId, replyTargetSeconds } from '../domain/kf/clock.js';
import { addServiceSeconds, serviceSecondsBetween } from '../domain/kf/service-hours.js';
import { type DemoLead, type DemoRandom, type DemoTimeline } from './demo-kinds.js';

const QUESTIONS = ['你们支持私有化部署吗？', '价格大概多少', '有制造业的案例吗', '能安排一次演示吗', '转人工', '试用账号怎么开通'];
const ANSWERS = ['您好，我是客服小张，马上为您查一下。', '可以的，我把方案发您。', '稍等，我请销售同事联系您。'];
/** Customers waiting for a person when the demo starts. */
const WAITING = 6;

/**
 * The demo's 微信客服 (docs/setup.md, "Demo data"): customers who wrote in got a person's first answer after a while
 * (response records, as the service clock stores them), and a few wait for one now (a running clock on the lead,
 * whose alerts the bot sends to the sandbox when they fall due). Mutates the leads and timelines it is given and
 * returns the response records to insert.
 */
export function demoService(
  ctx: Pick<BotContext, 'corpId' | 'config' | 'scoring'>,
  d: { leads: DemoLead[]; timelines: Map<string, DemoTimeline>; r: DemoRandom; now: number; openKfid: string; servicers: string[] },
): Array<Record<string, unknown>> {
  const { leads, timelines, r, now, openKfid, servicers } = d;
  // Counted within the service hours, as the bot counts them (src/domain/kf/clock.ts).
  const { SERVICE_HOURS: hours, SERVICE_TIMEZONE: tz } = ctx.config;
  const due = (from: number, seconds: number) => new Date(addServiceSeconds(from, seconds, hours, tz));
  const levelOf = (from: number, to: number, target: number) => {
    const served = serviceSecondsBetween(from, to, hours, tz);
    return served > 2 * target ? 2 : served > target ? 1 : 0;
  };
  const responses: Array<Record<string, unknown>> = [];
  const open = leads.filter((l) => !['lost', 'unsubscribed'].includes(l.stage));
  const waiting = new Set(open.filter((l) => l.stage === 'engaged' || l.stage === 'qualified').slice(-WAITING).map((l) => l._id));
  for (const l of leads) {
    const timeline = timelines.get(l._id)!;
    const conversation = conversationId(l.corpId, openKfid, l.externalUserId);
    const target = replyTargetSeconds(ctx, l.grade);
    if (waiting.has(l._id)) {
      // Waiting now, for 0.3 to 2.5 times the target on the wall clock: past it (or twice it) only if that much of
      // the wait fell within the service hours.
      const since = new Date(now - r.between(0.3, 2.5) * target * 1000);
      const text = r.pick(QUESTIONS);
      const msgid = `demo-kf-${l.externalUserId}`;
      l.kf = {
        openKfid,
        lastInboundAt: since,
        sentSinceInbound: 0,
        state: 2,
        servicer: null,
        clock: {
          id: `${conversation}|${msgid}`,
          msgid,
          excerpt: text,
          startedAt: since,
          targetSeconds: target,
          firstDue: due(since.getTime(), target),
          secondDue: due(since.getTime(), 2 * target),
          level: levelOf(since.getTime(), now, target),
        },
      };
      l.touches.push({ eventKey: msgid, kind: 'kf_conversation', channelKey: l.firstTouch.channelKey, userId: null, at: since, ref: openKfid });
      l.lastTouchAt = since;
      timeline.entries.push({ id: `kf|${openKfid}|${msgid}#kf_message`, type: 'kf_message', at: since, detail: { text, openKfid } });
      continue;
    }
    const wrote = l.touches.find((x) => x.kind === 'reply')?.at as Date | undefined;
    if (!wrote || !r.chance(0.8)) continue;
    // Answered: most within their grade's target, some late.
    const seconds = Math.round(r.chance(0.75) ? r.between(20, target) : r.between(target, 3 * target));
    const repliedAt = new Date(Math.min(now - 60_000, wrote.getTime() + seconds * 1000));
    if (repliedAt <= wrote) continue;
    const servicer = r.pick(servicers);
    const msgid = `demo-kf-${l.externalUserId}`;
    const took = Math.round((repliedAt.getTime() - wrote.getTime()) / 1000);
    responses.push({
      _id: `${conversation}|${msgid}`,
      conversation,
      corpId: l.corpId,
      openKfid,
      externalUserId: l.externalUserId,
      channelKey: l.firstTouch.channelKey,
      servicer,
      grade: l.grade ?? null,
      startedAt: wrote,
      repliedAt,
      seconds: took,
      serviceSeconds: serviceSecondsBetween(wrote.getTime(), repliedAt.getTime(), hours, tz),
      targetSeconds: target,
      level: levelOf(wrote.getTime(), repliedAt.getTime(), target),
    });
    l.kf = { openKfid, lastInboundAt: wrote, sentSinceInbound: 1, state: 3, servicer, lastServicerAt: repliedAt, clock: null };
    timeline.entries.push({ id: `kf|${openKfid}|${msgid}-reply#kf_servicer_replied`, type: 'kf_servicer_replied', at: repliedAt, detail: { servicer, openKfid, text: r.pick(ANSWERS), responseSeconds: took } });
  }
  return responses;
}
