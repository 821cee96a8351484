/**
 * The sandbox WeCom's state: a small core (clock, calls, faults, rate windows, callback delivery) and one area per
 * WeCom API area, each with its data, its APIs and the platform's rules (src/sandbox/areas/). API methods take
 * WeCom's JSON shapes and return the reply fields, throwing SandboxApiError for an errcode; the server adds
 * `errcode: 0, errmsg: 'ok'`.
 */
import { massQuotaRule } from '../settings/mass-quota-rule.js';
import type { ApiRoute, SandboxArea } from './area.js';
import { AppMessagesArea, type MemberMessageLimit } from './areas/app-messages.js';
import { ContactWaysArea } from './areas/contact-ways.js';
import { ContactsArea } from './areas/contacts.js';
import { KfArea } from './areas/kf.js';
import type { KfAccountOptions } from './areas/kf-model.js';
import { MassMessagesArea } from './areas/mass-messages.js';
import { RobotArea } from './areas/robot.js';
import { TagsArea } from './areas/tags.js';
import { TokenArea } from './areas/token.js';
import { WebhookArea } from './areas/webhook.js';
import { WelcomeArea } from './areas/welcome.js';
import { SandboxCore, type SandboxCallbackTarget, type SandboxCoreOptions } from './core.js';

/** Options of the in-memory WeCom; see SandboxOptions in server.ts for the HTTP ones. */
export interface SandboxStateOptions extends SandboxCoreOptions {
  /** corpsecrets accepted by gettoken (one token per secret). */
  secrets: string[];
  /** default 7200 [D:91039]. */
  tokenTtlSeconds?: number;
  /** default 20000: a WelcomeCode is valid 20 s, once [D:92137]. */
  welcomeCodeTtlMs?: number;
  /** userids of the corp's members (message/send, 联系我 codes, scans); absent = every userid is a member. */
  members?: string[];
  /**
   * App messages per member: WeCom delivers at most 30 a minute and 1,000 an hour and silently drops the rest
   * [D:90236] (the default); [] = no limit.
   */
  memberMessageLimits?: MemberMessageLimit[];
  /** The corp's 微信客服 accounts (open_kfids, or accounts with a name and servicers); absent = any non-empty open_kfid. */
  kfAccounts?: Array<string | KfAccountOptions>;
  /** The mass-message quota per customer: days/month (default), N/month, N/week or N/day [D:92135]. */
  massQuota?: string;
  /** Keys of the groups' 消息推送 webhooks; absent = any key. */
  webhookKeys?: string[];
  /** Where the 智能机器人's callbacks go (the bot's /wecom/robot); settable later as `state.robot.target`. */
  robot?: SandboxCallbackTarget;
}

/** The in-memory WeCom corp. */
export class SandboxState extends SandboxCore {
  readonly tokens: TokenArea;
  readonly welcome: WelcomeArea;
  readonly contacts: ContactsArea;
  readonly tags: TagsArea;
  readonly contactWays: ContactWaysArea;
  readonly mass: MassMessagesArea;
  readonly appMessages: AppMessagesArea;
  readonly kf: KfArea;
  readonly webhook: WebhookArea;
  readonly robot: RobotArea;
  /** userids of the corp's members, when the corp was given a list. */
  readonly members: ReadonlySet<string> | undefined;
  private readonly areas: SandboxArea[];

  constructor(opts: SandboxStateOptions) {
    super(opts);
    this.members = opts.members ? new Set(opts.members) : undefined;
    this.tokens = new TokenArea(this, [...opts.secrets], (opts.tokenTtlSeconds ?? 7200) * 1000);
    this.welcome = new WelcomeArea(this, opts.welcomeCodeTtlMs ?? 20_000);
    this.contacts = new ContactsArea(this, this.welcome, () => this.tags);
    this.tags = new TagsArea(this, this.contacts);
    this.contactWays = new ContactWaysArea(this, this.members);
    this.mass = new MassMessagesArea(this, this.contacts, massQuotaRule.parse(opts.massQuota));
    this.appMessages = new AppMessagesArea(this, this.members, opts.memberMessageLimits);
    this.kf = new KfArea(this, opts.kfAccounts);
    this.webhook = new WebhookArea(this, opts.webhookKeys ? new Set(opts.webhookKeys) : undefined);
    this.robot = new RobotArea(this);
    this.robot.target = opts.robot;
    this.areas = [this.tokens, this.welcome, this.contacts, this.tags, this.contactWays, this.mass, this.appMessages, this.kf, this.webhook, this.robot];
  }

  /** Every API the sandbox answers, keyed by the path after /cgi-bin/. */
  routes(): Record<string, ApiRoute> {
    const all: Record<string, ApiRoute> = {};
    for (const area of this.areas) {
      for (const [api, route] of Object.entries(area.routes)) {
        if (all[api]) throw new Error(`sandbox: two areas answer ${api}`);
        all[api] = route;
      }
    }
    return all;
  }

  /**
   * Clears calls, faults, rate windows and what was sent (welcomes, app, mass and kf messages, robot answers). With `all`, also the
   * data: tokens, customers, relationships, welcome codes, tags, contact ways and kf sessions (a brand-new corp).
   */
  reset(opts: { all?: boolean } = {}): void {
    this.resetCore();
    for (const area of this.areas) area.reset(opts.all === true);
  }
}
