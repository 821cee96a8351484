/**
 * A lead's send budget, kept as fences (src/store/delivery-ledger.ts): one fence per unit, with a deterministic id, so
 * taking a unit is one insert that only one sender can win, across sequences, campaigns and processes.
 * - `day|<lead>|<day>|<n>`: the daily cap of customer-facing marketing messages (NURTURE_DAILY_CAP);
 * - `mass|<lead>|<period>|<n>`: WeCom's mass-message quota of the period [D:92135];
 * - `kf|<lead>|<window start>|<n>`: the 5 messages of a 微信客服 window [D:94677];
 * - `case|<lead>|<slug>`: a case study, never sent twice (given back when WeCom did not deliver it: give-back-case.ts).
 * A send takes what it needs together with its attempt fence, in one insert. Where to start looking for a free unit
 * is a hint kept in Redis; when the hint is lost the search starts at 0 and only costs extra inserts. WeCom counts a
 * window's 5 from the customer's message, also what the bot sent after it while answering an earlier one: the 客服
 * messages of the last 48 h are noted in Redis too (`kfSent`), and a window with 5 sent since it opened is used up.
 */
import type { Redis } from 'ioredis';
import type { RedisKeys } from '../../redis/keys.js';
import { LuaScript } from '../../redis/script.js';
import { attemptFenceId, holdersOf, releaseFences, releaseTakenFences, takeFence, takeFences, takeFencesUnordered, type FenceSpec } from '../../store/delivery-ledger.js';
import { eachById } from '../../store/by-id.js';
import { Fence, type FenceKind } from '../../store/models/fence.js';
import type { Via } from '../vocabulary.js';

/** Messages the API may send in one 微信客服 window (48 h after the customer's last message) [D:94677]. */
export const KF_MESSAGES_PER_WINDOW = 5;

/** What one send needs from the lead's budget. */
export interface BudgetRequest {
  /** The lead id. */
  lead: string;
  /** The delivery taking the budget. */
  key: string;
  /** Its attempt number: the attempt fence is taken last, only when the budget is there. */
  attempt: number;
  /** The way it would like to go; it falls back from kf to mass to owner when a quota is used up. */
  via: Exclude<Via, 'welcome'>;
  /** Calendar day and cap of customer-facing marketing messages (cap 0 = none). */
  day: { key: string; cap: number };
  /** The mass-message quota period (cap 0 = the mass route is off). */
  mass: { key: string; cap: number };
  /** Start (ms) of the lead's open 微信客服 window, if any. */
  kfWindow: number | null;
  /** The case study it sends, if any. */
  caseSlug: string | null;
}

export type BudgetResult =
  /** Everything taken: the via it goes by, and the budget fences it holds (the attempt fence aside). */
  | { kind: 'ok'; via: Exclude<Via, 'welcome'>; held: FenceSpec[] }
  /** Someone holds this attempt already (a run died mid-call, or another runner is on it): nothing else is kept. */
  | { kind: 'attempt_held' }
  /** The daily cap is reached today. */
  | { kind: 'day_full' }
  /** The case study went to this lead from elsewhere meanwhile: pick another. */
  | { kind: 'case_taken'; slug: string };

/** takeKfBudget's results: takeBudget's, or the window's units used up (the attempt fence held, nothing else). */
export type KfBudgetResult = BudgetResult | { kind: 'kf_full' };

const HINT_TTL_S = { day: 2 * 86_400, mass: 40 * 86_400, kf: 3 * 86_400 } as const;

/** Counts toward the daily cap: what lands with the customer (a reminder to the owner does not). */
const countsForDay = (via: Via) => via === 'kf' || via === 'mass';

/** How long a 客服 message sent is remembered: a window lasts 48 h [D:94677]. */
const KF_SENT_KEEP_MS = 48 * 3_600_000;

/** Notes a 客服 message about to go (its unit taken) in the lead's sent set, and forgets those past 48 h. */
const NOTE_SENT = new LuaScript(`
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, tonumber(ARGV[1]) - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`);

/**
 * The 客服 messages that went to the lead since `windowStart` (ms), in any window: a hint kept in Redis (lost, it
 * counts nothing, and the window's units alone decide, as before). `windowStart` is the customer's message's second,
 * so a message sent in the same second just before it counts too: stricter than WeCom, never looser.
 */
export async function sentSince(redis: Redis, keys: RedisKeys, lead: string, windowStart: number): Promise<number> {
  return redis.zcount(keys.kfSent(lead), windowStart, '+inf').catch(() => 0);
}

/** Takes what `req` needs from the lead's budget and its attempt fence, falling back where a quota is used up. */
export function takeBudget(redis: Redis, keys: RedisKeys, req: BudgetRequest): Promise<BudgetResult> {
  return take(redis, keys, req, false) as Promise<BudgetResult>;
}

/**
 * takeBudget for a send that goes by 客服 or not at all (a 客服 reply): when the window's units are used up it ends as
 * `kf_full`, holding only its attempt fence (so a re-run finds it done), instead of falling back and taking the rest
 * of its budget only to give it back.
 */
export function takeKfBudget(redis: Redis, keys: RedisKeys, req: Omit<BudgetRequest, 'via'>): Promise<KfBudgetResult> {
  return take(redis, keys, { ...req, via: 'kf' }, true);
}

async function take(redis: Redis, keys: RedisKeys, req: BudgetRequest, kfOnly: boolean): Promise<KfBudgetResult> {
  const base = {
    day: `day|${req.lead}|${req.day.key}`,
    mass: `mass|${req.lead}|${req.mass.key}`,
    kf: req.kfWindow === null ? null : `kf|${req.lead}|${req.kfWindow}`,
  };
  const hintKeys = [base.day, base.mass, base.kf ?? base.mass].map((b) => keys.budgetHint(b));
  const hints = (await redis.mget(...hintKeys)).map((h) => Math.max(0, Number(h) || 0));
  // A 客服-only send whose window the hint says is used up (its last unit taken, none given back since) stops here.
  if (kfOnly && base.kf && hints[2]! >= KF_MESSAGES_PER_WINDOW) return kfFull(redis, req, hintKeys[2]!, false);
  // Units are searched from the hint up to the cap, then from 0 up to the hint (a unit given back below it).
  const order = (hint: number, cap: number) => {
    const from = hint < cap ? hint : 0;
    return [...Array.from({ length: cap - from }, (_, i) => from + i), ...Array.from({ length: from }, (_, i) => i)];
  };
  const tries = { day: order(hints[0]!, req.day.cap), mass: order(hints[1]!, req.mass.cap), kf: order(base.kf ? hints[2]! : 0, KF_MESSAGES_PER_WINDOW) };
  const at = { day: 0, mass: 0, kf: 0 };
  const unit = (kind: 'day' | 'mass' | 'kf') => tries[kind][at[kind]]!;
  let via = req.via;
  if (via === 'kf' && req.kfWindow === null) via = 'mass';
  // WeCom counts the 5 from the customer's message, also what went out after it in the window before (sent while the
  // bot had not seen it yet): a window with 5 sent since it opened is used up, whatever its own units say.
  if (via === 'kf' && (await sentSince(redis, keys, req.lead, req.kfWindow!)) >= KF_MESSAGES_PER_WINDOW) {
    if (kfOnly) return kfFull(redis, req, hintKeys[2]!, true);
    via = req.mass.cap > 0 ? 'mass' : 'owner';
  }
  if (via === 'mass' && req.mass.cap <= 0) via = 'owner';
  // Units this delivery holds: taken by this call, or found held by an earlier run of it. Only the ones taken here
  // are given back when this call ends without sending (the earlier run's may stand for a send that happened).
  const held: FenceSpec[] = [];
  const takenHere = new Set<string>();
  const giveBack = () => releaseFences(held.filter((f) => takenHere.has(f.id)).map((f) => f.id), req.key);
  const has = (kind: FenceKind) => held.some((f) => f.kind === kind);
  const spec = (kind: FenceKind, id: string): FenceSpec => ({ id, kind, for: req.key });
  const drop = async (kind: FenceKind) => {
    const gone = held.filter((f) => f.kind === kind);
    if (!gone.length) return;
    await releaseFences(gone.map((f) => f.id), req.key);
    held.splice(0, held.length, ...held.filter((f) => f.kind !== kind));
  };

  // Each pass takes what it wants or moves past one held unit (or finds one its own): every unit of every kind it may
  // try, and a few more, bound the passes however large the caps are configured.
  const passes = tries.day.length + tries.mass.length + tries.kf.length + 10;
  for (let guard = 0; guard < passes; guard++) {
    const want: FenceSpec[] = [];
    if (countsForDay(via) && req.day.cap > 0 && !has('day')) want.push(spec('day', `${base.day}|${unit('day')}`));
    if (via === 'mass' && !has('mass')) want.push(spec('mass', `${base.mass}|${unit('mass')}`));
    if (via === 'kf' && !has('kf')) want.push(spec('kf', `${base.kf}|${unit('kf')}`));
    if (req.caseSlug && !has('case')) want.push(spec('case', `case|${req.lead}|${req.caseSlug}`));
    want.push(spec('attempt', attemptFenceId(req.key, req.attempt)));
    const { taken, blocked } = await takeFences(want);
    for (const f of taken) {
      if (f.kind === 'attempt') continue;
      held.push(f);
      takenHere.add(f.id);
    }
    if (!blocked) {
      // Plain SETs, not a MULTI: the hints are independent, and a pipeline object per call (which copies every script
      // BullMQ defines on the connection) cost 2 % of a busy worker's CPU. A hint lost costs a later search a few
      // inserts, so a failed write is not the send's failure.
      const kfUnit = held.find((f) => f.kind === 'kf' && takenHere.has(f.id));
      await Promise.all([
        kfUnit ? NOTE_SENT.run(redis, [keys.kfSent(req.lead)], [Date.now(), KF_SENT_KEEP_MS, req.key]).catch(() => null) : null,
        ...held
          .filter((f) => f.kind === 'day' || f.kind === 'mass' || f.kind === 'kf')
          .map((f) => {
            const cut = f.id.lastIndexOf('|');
            return redis.set(keys.budgetHint(f.id.slice(0, cut)), Number(f.id.slice(cut + 1)) + 1, 'EX', HINT_TTL_S[f.kind as 'day' | 'mass' | 'kf']).catch(() => null);
          }),
      ]);
      return { kind: 'ok', via, held };
    }
    if (blocked.kind === 'attempt') {
      await giveBack();
      return { kind: 'attempt_held' };
    }
    // A unit held by this very delivery was taken by an earlier run of it: it is ours.
    if ((await holdersOf([blocked.id])).get(blocked.id) === req.key) {
      held.push(blocked);
      continue;
    }
    if (blocked.kind === 'case') {
      await giveBack();
      return { kind: 'case_taken', slug: req.caseSlug! };
    }
    if (blocked.kind === 'day') {
      if (++at.day >= tries.day.length) {
        await giveBack();
        return { kind: 'day_full' };
      }
    } else if (blocked.kind === 'mass') {
      if (++at.mass >= tries.mass.length) {
        via = 'owner';
        await drop('day');
      }
    } else if (blocked.kind === 'kf') {
      if (++at.kf >= tries.kf.length) {
        if (kfOnly) {
          await giveBack();
          return kfFull(redis, req, hintKeys[2]!, true);
        }
        via = req.mass.cap > 0 ? 'mass' : 'owner';
        if (via === 'owner') await drop('day');
      }
    }
  }
  throw new Error(`no free budget unit found for ${req.key} after ${passes} tries`);
}

/**
 * takeBudget for many sends at once (a campaign's batch): each send's first choice of units (where the hints say the
 * free ones start) and its attempt are taken in one unordered insert for the whole batch. A send that got all of
 * them is done; one that found any held gives back what it took and goes through takeBudget alone, which searches
 * further, falls back, or reports the attempt held. A 客服 send goes through takeBudget alone from the start: only it
 * counts what went out since the customer's message before the window's own units (sentSince) and notes the send
 * for the next ones [D:94677]. Same outcome per send as takeBudget, far fewer round trips.
 */
export async function takeBudgetMany(redis: Redis, keys: RedisKeys, reqs: readonly BudgetRequest[], concurrency = 8): Promise<BudgetResult[]> {
  if (!reqs.length) return [];
  // A 客服 send goes alone (below), so only the day's and the mass quota's hints are read here.
  const bases = reqs.map((req) => ({ day: `day|${req.lead}|${req.day.key}`, mass: `mass|${req.lead}|${req.mass.key}` }));
  const hints = (await redis.mget(...bases.flatMap((b) => [b.day, b.mass].map((x) => keys.budgetHint(x))))).map((h) => Math.max(0, Number(h) || 0));
  const first = (hint: number, cap: number) => (hint < cap ? hint : 0);
  const plans = reqs.map((req, i) => {
    const b = bases[i]!;
    let via = req.via;
    if (via === 'kf' && req.kfWindow === null) via = 'mass';
    if (via === 'mass' && req.mass.cap <= 0) via = 'owner';
    if (via === 'kf') return { via, want: [] as FenceSpec[], alone: true };
    const spec = (kind: FenceKind, id: string): FenceSpec => ({ id, kind, for: req.key });
    const want: FenceSpec[] = [];
    if (countsForDay(via) && req.day.cap > 0) want.push(spec('day', `${b.day}|${first(hints[2 * i]!, req.day.cap)}`));
    if (via === 'mass') want.push(spec('mass', `${b.mass}|${first(hints[2 * i + 1]!, req.mass.cap)}`));
    if (req.caseSlug) want.push(spec('case', `case|${req.lead}|${req.caseSlug}`));
    want.push(spec('attempt', attemptFenceId(req.key, req.attempt)));
    return { via, want, alone: false };
  });
  const blocked = await takeFencesUnordered(plans.flatMap((p) => p.want));
  const results: Array<BudgetResult | null> = [];
  const giveBack: string[] = [];
  const slow: number[] = [];
  const tx = redis.multi();
  plans.forEach((p, i) => {
    if (p.alone || p.want.some((f) => blocked.has(f.id))) {
      giveBack.push(...p.want.filter((f) => !blocked.has(f.id)).map((f) => f.id));
      slow.push(i);
      results.push(null);
      return;
    }
    const held = p.want.filter((f) => f.kind !== 'attempt');
    for (const f of held) {
      if (f.kind === 'day' || f.kind === 'mass' || f.kind === 'kf') {
        const at = f.id.lastIndexOf('|');
        tx.set(keys.budgetHint(f.id.slice(0, at)), Number(f.id.slice(at + 1)) + 1, 'EX', HINT_TTL_S[f.kind]);
      }
    }
    results.push({ kind: 'ok', via: p.via, held });
  });
  await Promise.all([releaseTakenFences(giveBack), tx.exec()]);
  // The rest one by one (a few at a time): units in use, a fallback, or an attempt taken by an earlier run.
  for (let at = 0; at < slow.length; at += concurrency) {
    await Promise.all(slow.slice(at, at + concurrency).map(async (i) => {
      results[i] = await takeBudget(redis, keys, reqs[i]!);
    }));
  }
  return results as BudgetResult[];
}

/**
 * A 客服-only send finds its window used up: it takes its attempt fence alone (so a re-run finds it done). `searched`:
 * every unit was found held just now, so the hint is set to the cap and later 客服-only sends stop without a search
 * until a unit is given back (releaseBudget lowers the hint). Senders that can fall back search as always.
 */
async function kfFull(redis: Redis, req: BudgetRequest, hintKey: string, searched: boolean): Promise<KfBudgetResult> {
  if (searched) await redis.set(hintKey, KF_MESSAGES_PER_WINDOW, 'EX', HINT_TTL_S.kf).catch(() => null);
  return (await takeFence({ id: attemptFenceId(req.key, req.attempt), kind: 'attempt', for: req.key })) ? { kind: 'kf_full' } : { kind: 'attempt_held' };
}

/**
 * Gives back the budget fences a delivery held (its send failed, or was refused before anything went out). A 客服
 * window's unit given back moves the window's hint down to it, so the next send finds it (and a window the hint said
 * was used up is searched again).
 */
export async function releaseBudget(ctx: { redis: Redis; keys: RedisKeys }, key: string, held: readonly FenceSpec[]): Promise<void> {
  await releaseFences(held.map((f) => f.id), key);
  const units = held.filter((f) => f.kind === 'kf');
  await Promise.all(
    units.flatMap((f) => {
      // `kf|<lead>|<window>|<n>` (a lead id holds no bar).
      const [, lead, window, n] = f.id.split('|');
      return [
        ctx.redis.set(ctx.keys.budgetHint(`kf|${lead}|${window}`), Number(n), 'EX', HINT_TTL_S.kf).catch(() => null),
        ctx.redis.zrem(ctx.keys.kfSent(lead!), key).catch(() => null),
      ];
    }),
  );
}

/**
 * WeCom said the customer's mass-message quota is used up for the period (status 3): every unit of it is taken, so
 * no later send tries the mass route again before the period ends.
 */
export async function exhaustMassQuota(lead: string, period: { key: string; cap: number }, holder: string): Promise<void> {
  const fences = Array.from({ length: period.cap }, (_, n): FenceSpec => ({ id: `mass|${lead}|${period.key}|${n}`, kind: 'mass', for: holder }));
  // One at a time: ordered inserts stop at the first unit already taken, and each missing one must be filled.
  for (const f of fences) await takeFences([f]);
}

/**
 * exhaustMassQuota for many leads at once (WeCom answered status 3 for them in one mass message's results): every
 * unit of each one's period, in one unordered insert.
 */
export async function exhaustMassQuotaMany(leads: ReadonlyArray<{ lead: string; holder: string }>, period: { key: string; cap: number }): Promise<void> {
  const fences = leads.flatMap(({ lead, holder }) => Array.from({ length: period.cap }, (_, n): FenceSpec => ({ id: `mass|${lead}|${period.key}|${n}`, kind: 'mass', for: holder })));
  for (let i = 0; i < fences.length; i += 5000) await takeFencesUnordered(fences.slice(i, i + 5000));
}

/**
 * Mass messages that never reached their customer (not a friend of the sender any more, or withdrawn before the owner
 * sent them) give back their unit of the customer's mass-message quota: WeCom counts what a customer received
 * [D:92135], so the unit kept would make later sends fall back to reminders before WeCom would refuse them. A unit is
 * found by its id (`mass|<lead>|<period>|<n>`, n below the cap) and deleted only while this delivery holds it.
 */
export async function giveBackMassQuota(leads: ReadonlyArray<{ lead: string; holder: string }>, period: { key: string; cap: number }): Promise<void> {
  await eachById(leads, async ({ lead, holder }) => {
    for (let n = 0; n < period.cap; n++) {
      if ((await Fence.deleteOne({ _id: `mass|${lead}|${period.key}|${n}`, for: holder })).deletedCount) return;
    }
  });
}

/**
 * WeCom refused a 客服 send (nothing went out): the budget it held is given back and, when WeCom said the window's
 * messages are used up (95001), every unit of the window is then taken. In that order: taken first, the unit given
 * back after would be free again in a spent window, and the next 客服 send to the lead would be refused the same way.
 */
export async function releaseRefusedKf(ctx: { redis: Redis; keys: RedisKeys }, key: string, held: readonly FenceSpec[], refused: { errcode: number; lead: string; windowStart: number }): Promise<void> {
  await releaseBudget(ctx, key, held);
  if (refused.errcode === 95001) await exhaustKfWindow(refused.lead, refused.windowStart, key);
}

/** The window's messages are used up, as WeCom just said (95001): the rest of the window is taken. */
export async function exhaustKfWindow(lead: string, windowStart: number, holder: string): Promise<void> {
  for (let n = 0; n < KF_MESSAGES_PER_WINDOW; n++) await takeFences([{ id: `kf|${lead}|${windowStart}|${n}`, kind: 'kf', for: holder }]);
}
