import { Lead, leadId } from '../../src/store/models/lead.js';
import type { Sandbox } from '../../src/sandbox/index.js';
import { TEST_CORP } from '../fixtures/test-corp.js';
import { foldLegacy } from '../../src/store/touch-log.js';

/** A lead to seed: what a campaign filters, routes and groups on. */
export interface LeadSpec {
  name: string;
  owner?: string;
  /** Owners besides `owner` (active). */
  others?: string[];
  /** The member the lead last interacted with (default: the owner). */
  lastWith?: string | null;
  channel?: string;
  stage?: string;
  grade?: string;
  industry?: string | null;
  role?: string | null;
  tags?: string[];
  addedAt?: Date;
  lastTouchAt?: Date | null;
  unsubscribed?: boolean;
  /** An open 微信客服 window (the customer wrote this long ago, in ms). */
  kfAgoMs?: number;
  /** Our view of that 客服 session's state (2 queued, 3 a person serves, 4 ended); none by default. */
  kfState?: number;
  /** The owner has no relationship with the customer in WeCom (a mass message refuses it). */
  notInWecom?: boolean;
  ownerStatus?: 'active' | 'left';
}

let n = 0;

/**
 * Inserts leads as the bot stores them (one insert) and, unless told otherwise, the customers and their owners in the
 * sandbox WeCom, so mass messages accept them. Returns each lead's external user id and lead id, in order.
 */
export async function seedLeads(sandbox: Sandbox, specs: LeadSpec[]): Promise<Array<{ externalUserId: string; id: string; name: string }>> {
  const now = Date.now();
  const out: Array<{ externalUserId: string; id: string; name: string }> = [];
  const docs = specs.map((s) => {
    const owner = s.owner ?? 'zhangsan';
    const externalUserId = `wmseed${String(++n).padStart(6, '0')}${Math.random().toString(36).slice(2, 8)}`;
    if (!s.notInWecom) {
      sandbox.state.contacts.addCustomer({ externalUserId, userId: owner, name: s.name });
      for (const o of s.others ?? []) sandbox.state.contacts.addCustomer({ externalUserId, userId: o, name: s.name });
    }
    if (s.kfAgoMs !== undefined) sandbox.state.kf.customerMessage('wkSeedKf', externalUserId);
    const addedAt = s.addedAt ?? new Date(now - 86_400_000);
    const id = leadId(TEST_CORP.corpId, externalUserId);
    out.push({ externalUserId, id, name: s.name });
    const tags = (s.tags ?? []).map((t) => ({ group: t.split('/')[0]!, name: t.split('/')[1]!, id: `et_${t}` }));
    const stage = s.stage ?? 'added';
    return {
      _id: id,
      corpId: TEST_CORP.corpId,
      externalUserId,
      name: s.name,
      stage,
      reached: { added: addedAt },
      grade: s.grade ?? 'C',
      score: 0,
      industry: s.industry ?? null,
      role: s.role ?? null,
      firstTouch: { channelKey: s.channel ?? 'expo2026', userId: owner, at: addedAt },
      touchLog: foldLegacy([{ eventKey: `seed|${externalUserId}`, kind: 'add', channelKey: s.channel ?? 'expo2026', userId: owner, at: addedAt }], ''),
      owners: [owner, ...(s.others ?? [])].map((userId, i) => ({ userId, channelKey: s.channel ?? 'expo2026', state: null, addedAt, status: i === 0 ? (s.ownerStatus ?? 'active') : 'active', pending: false, tags: [] })),
      tags,
      tagKeys: s.tags ?? [],
      lastTouchAt: s.lastTouchAt === undefined ? addedAt : s.lastTouchAt,
      lastInteraction: { userId: s.lastWith === undefined ? owner : s.lastWith, at: addedAt },
      kf: s.kfAgoMs !== undefined ? { openKfid: 'wkSeedKf', lastInboundAt: new Date(now - s.kfAgoMs), sentSinceInbound: 0, ...(s.kfState !== undefined ? { state: s.kfState } : {}) } : { openKfid: null, lastInboundAt: null, sentSinceInbound: 0 },
      unsubscribedAt: s.unsubscribed || stage === 'unsubscribed' ? new Date(now - 3_600_000) : null,
      lostAt: stage === 'lost' ? new Date(now - 3_600_000) : null,
      createdAt: addedAt,
      updatedAt: addedAt,
      __v: 0,
    };
  });
  await Lead.collection.insertMany(docs as never[]);
  return out;
}
