/**
 * Every Redis key the bot builds itself, in one place (BullMQ builds its own from the same prefix). The prefix is
 * QUEUE_PREFIX; on Redis Cluster it carries a hash tag (e.g. `{wecom}`) so every key lands in one slot.
 */
export class RedisKeys {
  constructor(readonly prefix: string) {}

  /** The stream where the receiver leaves accepted callbacks for the workers (src/inbox). */
  inbox(): string {
    return `${this.prefix}:inbox`;
  }

  /** The lock that makes one process at a time the writer of a lead. */
  leadLock(corpId: string, externalUserId: string): string {
    return `${this.prefix}:lock:lead:${corpId}:${externalUserId}`;
  }

  /** The cached access token of one secret; `id` is a hash of corp id and secret, never the secret. */
  accessToken(id: string): string {
    return `${this.prefix}:wecom:token:${id}`;
  }

  /** The lock held by the one process refreshing that token. */
  accessTokenRefresh(id: string): string {
    return `${this.accessToken(id)}:refresh`;
  }

  /** The call counter of one API in one fixed window (`window` = the window's index since the epoch). */
  rateWindow(api: string, windowMs: number, window: number): string {
    return `${this.prefix}:wecom:rl:${api}:${windowMs}:${window}`;
  }

  /** The grant times of calls to `api` for one recipient (a member's app messages), for its per-recipient limits. */
  recipientLog(api: string, recipient: string): string {
    return `${this.prefix}:wecom:rl-to:${api}:${recipient}`;
  }

  /** The lock held while missing corp tags are created, so no tag is created twice. */
  corpTagsLock(): string {
    return `${this.prefix}:wecom:corp-tags:lock`;
  }

  /**
   * A digest of WeCom's tag list as the last corp tags check read it: moves when a corp tag was renamed or deleted in
   * WeCom, and each process drops its memo of tag ids then.
   */
  corpTagsGeneration(): string {
    return `${this.prefix}:wecom:corp-tags:generation`;
  }

  /** How many checks of the corp tags were asked for (change_external_tag), and how many a finished check covered. */
  corpTagChecksAsked(): string {
    return `${this.prefix}:wecom:corp-tags:checks-asked`;
  }

  corpTagChecksDone(): string {
    return `${this.prefix}:wecom:corp-tags:checks-done`;
  }

  /**
   * The names of corp tags that checks found gone, until the ops group is told (a hash: `group/name` → its new name,
   * or "" when deleted).
   */
  corpTagsGone(): string {
    return `${this.prefix}:wecom:corp-tags:gone`;
  }

  /** Leads that may have left campaign audiences lately (opted out, lost, a customer, no owner), by when (audience-leavers.ts). */
  audienceLeavers(): string {
    return `${this.prefix}:campaign:audience-leavers`;
  }

  /** Since when audienceLeavers holds every note (ms; gone after Redis lost its data: audience-leavers.ts). */
  audienceLeaversSince(): string {
    return `${this.prefix}:campaign:audience-leavers:since`;
  }

  /** Held while the corp tags are checked: one check at a time. */
  corpTagCheckLock(): string {
    return `${this.prefix}:wecom:corp-tags:check-lock`;
  }

  /** A deletion handled before the add it ends (member + customer): applied when that add comes (ownership.ts). */
  earlyOwnershipEnd(corpId: string, externalUserId: string, userId: string): string {
    return `${this.prefix}:early-end:${corpId}:${externalUserId}:${userId}`;
  }

  /** A customer's externalcontact/get answer, kept briefly so a new contact costs one call. */
  profileCache(corpId: string, externalUserId: string): string {
    return `${this.prefix}:profile:${corpId}:${externalUserId}`;
  }

  /** Calls made (and clearly refused) for one welcome: what 41051 means depends on them. */
  welcomeCalls(dedupeKey: string): string {
    return `${this.prefix}:welcome-calls:${dedupeKey}`;
  }

  /**
   * The dashboard's index of leads (src/domain/leads/lead-index.ts): `rows` (a hash of list rows), `z:<sort>` (sorted sets),
   * `s:<facet>:<value>` (sets), `search`, `built`, and short-lived query results under `q:`.
   */
  leadIndex(part: string): string {
    return `${this.prefix}:li:${part}`;
  }

  /** The sequences' step statistics the dashboard shows, as last computed (src/domain/reports/sequence-stats-cache.ts). */
  sequenceStats(): string {
    return `${this.prefix}:cache:sequence-stats`;
  }

  /** The lock held while one process counts the sequence statistics again. */
  sequenceStatsLock(): string {
    return `${this.prefix}:lock:sequence-stats`;
  }

  /** The lock held while the service days of a time zone are built (src/domain/kf/service-days.ts). */
  serviceDaysLock(tz: string): string {
    return `${this.prefix}:lock:service-days:${tz}`;
  }

  /** The lock held while one service day's document is written (src/domain/kf/service-days.ts). */
  serviceDayWriteLock(dayId: string): string {
    return `${this.prefix}:lock:service-day:${dayId}`;
  }

  /** The lock held while one lead's timeline document is written. */
  timelineLock(leadId: string): string {
    return `${this.prefix}:lock:timeline:${leadId}`;
  }

  /** The lock held while one funnel rollup (a day and channel) is written. */
  funnelLock(rollupId: string): string {
    return `${this.prefix}:lock:funnel:${rollupId}`;
  }

  /** A hash: each funnel rollup's count of live writes, which tells a rebuild which rollups changed while it read. */
  funnelVersions(): string {
    return `${this.prefix}:funnel:versions`;
  }

  /** The sends of one 消息推送 webhook in the last minute (`id` is a hash of its key). */
  webhookWindow(id: string): string {
    return `${this.prefix}:webhook:${id}:sent`;
  }

  /** Alerts waiting to go out together as one digest. */
  alertDigest(): string {
    return `${this.prefix}:alerts:digest`;
  }

  /** Held while a tick starts a campaign's scheduled run (src/domain/campaigns/schedule.ts, startRun). */
  campaignScheduleLock(key: string): string {
    return `${this.prefix}:campaign:${key}:schedule-lock`;
  }

  /** Held while a launch starts a one-off campaign's run that had ended unsent (skipped or missed). */
  campaignRunLock(runId: string): string {
    return `${this.prefix}:campaign-run:${runId}:lock`;
  }

  /**
   * A hash of a campaign run's mass messages WeCom took whose records are not written yet (group key → what they
   * need: src/domain/campaigns/taken-groups.ts).
   */
  campaignTakenGroups(runId: string): string {
    return `${this.prefix}:campaign-run:${runId}:taken`;
  }

  /**
   * A set of fence ids a campaign run's cycle took for leads it never called and could not give back (the database
   * failed): given back by the run's next execution (src/domain/campaigns/unsent-fences.ts).
   */
  campaignUnsentFences(runId: string): string {
    return `${this.prefix}:campaign-run:${runId}:unsent`;
  }

  /** Held while a chat command creates the channel `key` (its 联系我 code), so one attempt at a time looks and makes. */
  channelCreateLock(key: string): string {
    return `${this.prefix}:channels:create:${key}:lock`;
  }

  /** Held while a digest is posted (one at a time across processes). */
  alertDigestLock(): string {
    return `${this.prefix}:alerts:digest:lock`;
  }

  /** Targets paused by staff (a cache of the pauses in MongoDB, what senders check). */
  pauses(): string {
    return `${this.prefix}:pauses`;
  }

  /** Where the search for a free slot of a lead's send budget starts (a hint; the fences are the truth). */
  budgetHint(slot: string): string {
    return `${this.prefix}:budget-hint:${slot}`;
  }

  /**
   * Case studies a lead's fences were found to hold (a set; a hint for 客服 replies, so a pricing question does not try
   * each case sent before again; the fences are the truth).
   */
  casesTaken(leadId: string): string {
    return `${this.prefix}:budget-hint:cases|${leadId}`;
  }

  /**
   * The 客服 messages sent to a lead in the last 48 h (a sorted set: delivery key → when its unit was taken). WeCom
   * counts a window's 5 from the customer's message [D:94677], including what the bot sent after it while still
   * answering an earlier one.
   */
  kfSent(leadId: string): string {
    return `${this.prefix}:budget-hint:kf-sent|${leadId}`;
  }

  /**
   * That staff were told of a lead's 客服 intent on an OPS_TIMEZONE day (a hint: lost, the notice's and the alert's
   * own keys still tell them once).
   */
  kfTold(leadId: string, intent: string, day: string): string {
    return `${this.prefix}:kf-told|${leadId}|${intent}|${day}`;
  }

  /** The passive reply given to one robot message (its msgid): a repeated delivery gets the same one. */
  robotReply(msgid: string): string {
    return `${this.prefix}:robot:reply:${msgid}`;
  }

  /** The lock held by the one sync of a 微信客服 account at a time (kf/sync_msg must not overlap per account). */
  kfSyncLock(openKfid: string): string {
    return `${this.prefix}:kf:${openKfid}:sync-lock`;
  }

  /** A counter of the account's callbacks: each asks for a sync that starts after it. */
  kfSyncRequested(openKfid: string): string {
    return `${this.prefix}:kf:${openKfid}:sync-requested`;
  }

  /** Set while a sync job of the account waits to start (its request number): later callbacks add no job of their own. */
  kfSyncQueued(openKfid: string): string {
    return `${this.prefix}:kf:${openKfid}:sync-queued`;
  }

  /** The highest request a finished sync of the account covered. */
  kfSyncDone(openKfid: string): string {
    return `${this.prefix}:kf:${openKfid}:sync-done`;
  }

  /** When a service clock's deadline asked for a sync of its account (ms), once (clock.ts fireClock). */
  kfClockSync(clockId: string, level: number): string {
    return `${this.prefix}:kf:clock-sync:${clockId}:${level}`;
  }

  /** When a service clock's deadline last asked for a sync of the account (ms; clock.ts fireClock). */
  kfClockSyncAt(openKfid: string): string {
    return `${this.prefix}:kf:${openKfid}:clock-sync-at`;
  }

  /**
   * The account's customers whose messages wait set aside after a failure (a hash: customer → the `kf-inbound` job that
   * handles them), and a field saying the hash was built from MongoDB's `pending` messages since Redis last lost it
   * (src/domain/kf/set-aside.ts).
   */
  kfSetAside(openKfid: string): string {
    return `${this.prefix}:kf:${openKfid}:set-aside`;
  }

  /** One customer's set-aside messages, in order: a list of batches (each a JSON array of messages). */
  kfSetAsideQueue(openKfid: string, externalUserId: string): string {
    return `${this.prefix}:kf:${openKfid}:set-aside:${externalUserId}`;
  }

  /** Set for an hour after a process deleted the 客服 messages past their retention (one deletion an hour, shared). */
  kfPruned(): string {
    return `${this.prefix}:kf:pruned`;
  }

  /** The account's newest callback token (valid 10 min [D:94670]). */
  kfToken(openKfid: string): string {
    return `${this.prefix}:kf:${openKfid}:token`;
  }

  /** The bot's replies to one customer in the last minute (KF_REPLIES_PER_MINUTE). */
  kfReplies(leadId: string): string {
    return `${this.prefix}:kf:replies:${leadId}`;
  }

  /** Where the turn of an account's servicers stands (hand-offs go round). */
  kfTurn(openKfid: string): string {
    return `${this.prefix}:kf:${openKfid}:turn`;
  }
}
