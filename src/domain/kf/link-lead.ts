import type { BotContext } from '../../context.js';
import type { PendingChange } from '../../store/lead-repository.js';
import type { LeadDoc, LeadRef } from '../../store/models/lead.js';
import { recordStep } from '../../store/timeline.js';

type Ctx = Pick<BotContext, 'channels' | 'wecom' | 'leads' | 'log' | 'corpId'>;

/**
 * The lead of a 微信客服 customer, for a caller that holds the lead's lock. A customer who is already a contact has a
 * lead under the same external_userid (WeCom gives one corp's apps the same ids [D:95159]); otherwise the lead is
 * made from kf/customer/batchget (nickname, and the link's scene / scene_param of the last 48 h) and attributed to the
 * channel whose kf link it entered by (else organic). `entered` is enter_session's own scene, when that is the event.
 */
export async function linkLeadLocked(ctx: Ctx, openKfid: string, externalUserId: string, at: Date, mutate: (doc: LeadDoc) => void, entered?: { scene?: string; sceneParam?: string }): Promise<LeadDoc> {
  const change = await openLeadLocked(ctx, openKfid, externalUserId, at, mutate, entered);
  return change.saved ? change.doc : change.save();
}

/**
 * linkLeadLocked with the change of a known lead left unsaved (LeadRepository.prepareLocked): the caller saves it, with
 * what it learns meanwhile, and writes nothing else of the lead before. A new lead is made and saved at once.
 */
export async function openLeadLocked(ctx: Ctx, openKfid: string, externalUserId: string, at: Date, mutate: (doc: LeadDoc) => void, entered?: { scene?: string; sceneParam?: string }): Promise<PendingChange> {
  const ref: LeadRef = { corpId: ctx.corpId, externalUserId };
  const known = await ctx.leads.prepareLocked(ref, mutate);
  if (known) return known;
  let nickname: string | undefined;
  let scene = entered?.scene;
  let sceneParam = entered?.sceneParam;
  try {
    const c = (await ctx.wecom.kfCustomerBatchget([externalUserId])).customer_list[0];
    nickname = c?.nickname;
    scene ||= c?.enter_session_context?.scene;
    sceneParam ||= c?.enter_session_context?.scene_param;
  } catch (err) {
    // The lead is still made (attributed to organic unless enter_session said more); the name comes later.
    ctx.log.warn({ externalUserId, err: (err as Error).message }, 'kf/customer/batchget failed; lead made without it');
  }
  const channel = ctx.channels.resolveKf(scene, sceneParam);
  const doc = await ctx.leads.mutateLocked(ref, { channelKey: channel.key, userId: `kf:${openKfid}`, at }, (d) => {
    if (!d.name && nickname) d.name = nickname;
    d.reached ??= {};
    d.reached.added ??= at;
    mutate(d);
  });
  await recordStep(ref, `kf-arrival|${openKfid}|${externalUserId}`, 'kf_arrived', { channel: channel.key, scene: scene ?? null, sceneParam: sceneParam ?? null, openKfid }, at);
  return { doc: doc!, saved: true, save: () => Promise.reject(new Error('a new lead is saved when it is made')) };
}
