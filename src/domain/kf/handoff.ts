import type { BotContext } from '../../context.js';
import { WecomApiError } from '../../errors.js';
import type { LeadFields } from '../../store/models/lead.js';

type Ctx = Pick<BotContext, 'wecom' | 'redis' | 'keys' | 'channels' | 'log'>;

/** Where a hand-off left the session: a servicer (3), the queue (2), or nowhere (the session cannot be moved). */
export type HandoffResult = { state: 3; servicer: string } | { state: 2 } | { state: null; reason: string };

/**
 * Hands a session to a person with kf/service_state/trans [D:94669]: the lead's owner (for a lead no member has, its
 * channel's owners) if they are a servicer of the account on duty; else the next servicer on duty, in turn (shared by
 * every process); else the queue (state 2). A servicer WeCom refuses (95014: not on duty or not activated) is skipped.
 * A session a person already serves stays as it is; an ended one (4) cannot be moved by the API. The customer is told
 * before, by the caller: once a person serves the session the API cannot message the customer (95018).
 */
export async function handOff(ctx: Ctx, lead: Pick<LeadFields, 'externalUserId' | 'owners' | 'lastInteraction' | 'firstTouch'>, openKfid: string): Promise<HandoffResult> {
  const ext = lead.externalUserId;
  const now = await ctx.wecom.kfServiceStateGet(openKfid, ext);
  if (now.service_state === 3 && now.servicer_userid) return { state: 3, servicer: now.servicer_userid };
  if (now.service_state === 4) return { state: null, reason: 'session_ended' };
  const onDuty = (await ctx.wecom.kfServicerList(openKfid)).servicer_list.filter((s) => s.userid && s.status === 0).map((s) => s.userid!);
  const activeOwners = lead.owners.filter((o) => o.status === 'active').map((o) => o.userId);
  const last = lead.lastInteraction?.userId;
  // A lead no member has (a 微信客服 customer who is no one's contact) counts its channel's owners as its own; a lead
  // whose owners are off duty goes to the servicers in turn, not to its channel's owners.
  const owners = activeOwners.length ? [...(last && activeOwners.includes(last) ? [last] : []), ...activeOwners] : (ctx.channels.get(lead.firstTouch?.channelKey ?? '')?.owners ?? []);
  const owner = owners.find((o) => onDuty.includes(o));
  const turn = onDuty.length ? (await ctx.redis.incr(ctx.keys.kfTurn(openKfid))) % onDuty.length : 0;
  const inTurn = [...onDuty.slice(turn), ...onDuty.slice(0, turn)].filter((u) => u !== owner);
  // From the queue (2) only a servicer may be assigned; from 0/1 either.
  for (const servicer of [...(owner ? [owner] : []), ...inTurn]) {
    try {
      await ctx.wecom.kfServiceStateTrans({ open_kfid: openKfid, external_userid: ext, service_state: 3, servicer_userid: servicer });
      return { state: 3, servicer };
    } catch (err) {
      if (!(err instanceof WecomApiError) || err.errcode !== 95014) throw err;
      ctx.log.warn({ openKfid, servicer }, 'kf hand-off: servicer not on duty (95014); trying the next');
    }
  }
  if (now.service_state === 2) return { state: 2 };
  await ctx.wecom.kfServiceStateTrans({ open_kfid: openKfid, external_userid: ext, service_state: 2 });
  return { state: 2 };
}
