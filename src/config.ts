import { z } from 'zod';
import { isCronPattern } from './cron-pattern.js';
import { ConfigError } from './errors.js';
import { parseDelay } from './settings/delay.js';
import { massQuotaRule } from './settings/mass-quota-rule.js';
import { DEFAULT_SERVICE_HOURS, parseServiceHours } from './settings/service-hours.js';
import { DEFAULT_TIMEZONE } from './domain/vocabulary.js';

/** The time zone every *_TIMEZONE setting defaults to. */
export { DEFAULT_TIMEZONE };

const SECRET_KEYS = new Set(['WECOM_TOKEN', 'WECOM_ENCODING_AES_KEY', 'WECOM_SECRET', 'MONGODB_URI', 'REDIS_URL', 'LINK_SECRET', 'ADMIN_TOKEN', 'WECOM_OPS_WEBHOOK_KEY', 'WECOM_ROBOT_TOKEN', 'WECOM_ROBOT_ENCODING_AES_KEY', 'WECOM_KF_SECRET']);

const int = (def: number, min = 0) =>
  z.coerce.number({ invalid_type_error: 'must be a whole number' }).int('must be a whole number').min(min).default(def);
/** A TCP port: 0-65535 (0 = any free port). */
const port = (def: number) => z.coerce.number({ invalid_type_error: 'must be a port number (0-65535)' }).int('must be a port number (0-65535)').min(0, 'must be a port number (0-65535)').max(65_535, 'must be a port number (0-65535)').default(def);

const WINDOW_MS = { s: 1000, m: 60_000, h: 3_600_000 } as const;

/**
 * Per-API rate limits: `api=N/s`, `api=N/m` or `api=N/h`, comma separated; an API may have several windows
 * (e.g. `default=150/s,default=140000/h`). Replaces the built-in windows of the APIs it names.
 */
const rateLimits = z
  .string()
  .default('')
  .transform((raw, ctx) => {
    const out: Record<string, Array<{ limit: number; windowMs: number }>> = {};
    for (const part of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
      const m = /^([\w/.-]+)=(\d+)\/(s|m|h)$/.exec(part);
      if (!m) {
        ctx.addIssue({ code: 'custom', message: `"${part}" is not api=N/s, api=N/m or api=N/h` });
        continue;
      }
      (out[m[1]!] ??= []).push({ limit: Number(m[2]), windowMs: WINDOW_MS[m[3] as keyof typeof WINDOW_MS] });
    }
    return out;
  });

/**
 * App messages per member: `N/s`, `N/m` or `N/h`, comma separated, every one applying (default `25/m,900/h`, a little
 * under WeCom's 30 a minute and 1,000 an hour per member, whose excess WeCom silently drops [D:90236]); `none` = no
 * limit.
 */
const memberMessageLimits = z
  .string()
  .default('25/m,900/h')
  .transform((raw, ctx) => {
    if (raw.trim() === 'none') return [];
    const parts = raw.split(',').map((s) => s.trim()).filter(Boolean);
    if (!parts.length) ctx.addIssue({ code: 'custom', message: 'is empty: give limits such as 25/m,900/h, or none' });
    const out: Array<{ limit: number; windowMs: number }> = [];
    for (const part of parts) {
      const m = /^(\d+)\/(s|m|h)$/.exec(part);
      if (!m || Number(m[1]) < 1) ctx.addIssue({ code: 'custom', message: `"${part}" is not N/s, N/m or N/h with N ≥ 1 (or set none)` });
      else out.push({ limit: Number(m[1]), windowMs: WINDOW_MS[m[2] as keyof typeof WINDOW_MS] });
    }
    return out;
  });

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** A comma-separated list of WeCom userids (full-width commas too), compared case-insensitively. */
const userIdList = z
  .string()
  .default('')
  .transform((raw, ctx) => {
    const ids = raw.split(/[,，\s]+/).map((s) => s.trim().toLowerCase()).filter(Boolean);
    for (const id of ids) if (!/^[\w.@-]{1,64}$/.test(id)) ctx.addIssue({ code: 'custom', message: `"${id}" is not a WeCom userid (comma-separated userids, e.g. zhangsan,lisi)` });
    return [...new Set(ids)];
  });

/** Variables that were replaced: setting one is a start-up error that says what to use instead. */
const RETIRED: Record<string, string> = {
  MASS_MESSAGE_MONTHLY_CAP: 'replaced by MASS_MESSAGE_CAP, which follows WeCom\'s current rule [D:92135]: days/month (the default), N/month, N/week or N/day, e.g. MASS_MESSAGE_CAP=4/month',
};

/** The environment contract operators and deploy scripts rely on (see .env.example). */
export const envSchema = z.object({
  PORT: port(3000),
  HOST: z.string().default('0.0.0.0'),
  ROLE: z.enum(['web', 'worker', 'all']).default('all'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  WECOM_CORP_ID: z.string().min(1, 'is required'),
  WECOM_TOKEN: z.string().min(1, 'is required').max(32, 'must be at most 32 characters'),
  WECOM_ENCODING_AES_KEY: z
    .string()
    .regex(/^[A-Za-z0-9]{43}$/, 'must be the 43-character EncodingAESKey from the admin console'),
  WECOM_SECRET: z.string().min(1, 'is required'),
  WECOM_AGENT_ID: z
    .string()
    .regex(/^[1-9]\d*$/, 'must be the numeric AgentId of the self-built app (应用管理 → the app → AgentId)')
    .transform(Number),
  WECOM_API_BASE: z.string().url('must be a URL').default('https://qyapi.weixin.qq.com'),
  WECOM_API_TIMEOUT_MS: int(5000, 100),
  WECOM_RATE_LIMITS: rateLimits,
  /** App messages (message/send) per member, whoever sends them: `N/s`, `N/m`, `N/h`, comma separated, or `none`. */
  WECOM_MEMBER_MESSAGE_LIMITS: memberMessageLimits,
  CALLBACK_MAX_SKEW_SECONDS: int(300),
  CALLBACK_BODY_LIMIT_BYTES: int(64 * 1024, 1024),
  MONGODB_URI: z.string().regex(/^mongodb(\+srv)?:\/\//, 'must be a mongodb:// or mongodb+srv:// URI').default('mongodb://127.0.0.1:27017/wecom_bot'),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').default('redis://127.0.0.1:6379'),
  QUEUE_PREFIX: z.string().min(1).default('wecom'),
  TEMPLATES_DIR: z.string().default('./templates'),
  EVENT_CONCURRENCY: int(32, 1),
  WELCOME_CONCURRENCY: int(64, 1),
  /** How long completed event jobs are kept, which is how long a retried callback is recognised as a duplicate. */
  DEDUPE_TTL_SECONDS: int(86_400, 60),
  /** Customer-facing nurture messages per lead per day across all sequences (0 = no cap). */
  NURTURE_DAILY_CAP: int(1),
  /** WeCom's mass-message (群发) quota per customer [D:92135]: days/month (default), N/month, N/week or N/day. */
  MASS_MESSAGE_CAP: massQuotaRule,
  /** Time zone of nurture calendar days and months when a sequence has no quiet hours (WeCom counts in China time). */
  NURTURE_TIMEZONE: z.string().default(DEFAULT_TIMEZONE).refine(isTimeZone, 'is not a known IANA time zone (e.g. Asia/Shanghai)'),
  NURTURE_CONCURRENCY: int(16, 1),
  /** How often the reconciler re-creates scheduled jobs missing from Redis (seconds; 0 = only at start-up). */
  NURTURE_RECONCILE_SECONDS: int(300),
  /** When to ask WeCom whether an owner sent a mass message, counted from its creation. */
  MASS_RESULT_POLL_SCHEDULE: z
    .string()
    .default('1m,5m,30m,2h,6h,24h,72h')
    .transform((raw, ctx) => {
      const out: number[] = [];
      for (const part of raw.split(',').map((s) => s.trim())) {
        const ms = parseDelay(part);
        if (ms === null) ctx.addIssue({ code: 'custom', message: `"${part}" is not a delay like 30s, 5m, 2h, 1d` });
        else out.push(ms);
      }
      return out.sort((a, b) => a - b);
    }),
  /** Public base URL of this service, for tracked links (/r/<token>); default http://127.0.0.1:PORT. */
  PUBLIC_BASE_URL: z.string().url('must be a URL').optional(),
  /** Worker lock: a job whose worker died is picked up again after about this long. */
  JOB_LOCK_MS: int(30_000, 1000),
  /**
   * How long `npm start` waits for active jobs to finish after SIGTERM/SIGINT before it exits anyway (1): a close that
   * waits on an unreachable Redis would otherwise never end. A second signal exits at once.
   */
  SHUTDOWN_TIMEOUT_SECONDS: int(25, 1),
  /**
   * How far a worker process's heap may grow past what it holds before V8 collects it (percent; 0 = V8's own choice,
   * which lets a busy heap grow to about 4 times its live size). docs/architecture.md, "Memory".
   */
  WORKER_HEAP_GROWTH_PERCENT: z.coerce.number().int().min(0).max(300).default(25),
  /**
   * The welcome lane's lock: a welcome whose worker died is taken over after about this long (plus one stall
   * check), while its 20 s WelcomeCode is still valid [D:92137].
   */
  WELCOME_LOCK_MS: int(2_000, 500),
  /**
   * The key of the ops group's 消息推送 webhook (the `key=` of its URL, not the URL) [D:99110]: alerts and reports go
   * there; unset, they are kept but not posted.
   */
  WECOM_OPS_WEBHOOK_KEY: z.string().regex(/^[\w-]{8,64}$/, 'must be the key= part of the webhook URL, not the whole URL').optional(),
  /**
   * Enables the admin API and the dashboard under /admin: every API request needs `Bearer <ADMIN_TOKEN>`. It travels in
   * that HTTP header as one word, so it is printable ASCII without spaces: a token with a space or another character
   * would be refused on every request.
   */
  ADMIN_TOKEN: z
    .string()
    .min(16, 'must be at least 16 characters (use a long random string)')
    .regex(/^[\x21-\x7e]+$/, 'must be ASCII letters, digits and punctuation, without spaces: it is sent as "Authorization: Bearer <ADMIN_TOKEN>"')
    .optional(),
  /** The ops team's time zone: funnel days, the daily rescore and reports. */
  OPS_TIMEZONE: z.string().default(DEFAULT_TIMEZONE).refine(isTimeZone, 'is not a known IANA time zone (e.g. Asia/Shanghai)'),
  /** When scores are recomputed for every lead (intent decays), a cron pattern in OPS_TIMEZONE. */
  RESCORE_CRON: z.string().default('30 3 * * *').refine(isCronPattern, 'is not a cron pattern like "30 3 * * *"'),
  /**
   * When every tag name the bot keeps is checked against WeCom's tag list, a cron pattern in OPS_TIMEZONE: a rename
   * or deletion whose change_external_tag callback never came (WeCom gives a callback up after its retries [D:92130]),
   * or whose check Redis lost, is caught by the next night's. Before RESCORE_CRON, so the rescore sees the new names.
   */
  CORP_TAGS_CHECK_CRON: z.string().default('0 3 * * *').refine(isCronPattern, 'is not a cron pattern like "0 3 * * *"'),
  /**
   * The 智能机器人 (intelligent robot) in API mode: the Token and EncodingAESKey of its callback URL (/wecom/robot)
   * [D:101033]. Both or neither: unset, the robot's route does not exist.
   */
  WECOM_ROBOT_TOKEN: z.string().min(1).max(32, 'must be at most 32 characters').optional(),
  WECOM_ROBOT_ENCODING_AES_KEY: z
    .string()
    .regex(/^[A-Za-z0-9]{43}$/, 'must be the 43-character EncodingAESKey of the robot\'s API mode')
    .optional(),
  /** Userids allowed every chat command. */
  OPS_ADMINS: userIdList,
  /** Userids allowed the read commands and lead-level actions. */
  OPS_USERIDS: userIdList,
  /** How long a chat command may run inside the passive reply before it answers later through response_url (ms). */
  OPS_COMMAND_BUDGET_MS: int(1000, 0),
  /** When the daily report goes to the ops group, a cron pattern in OPS_TIMEZONE. */
  OPS_REPORT_CRON: z.string().default('0 9 * * *').refine(isCronPattern, 'is not a cron pattern like "0 9 * * *"'),
  /**
   * Campaigns' quiet hours when a campaign sets none: `HH:MM-HH:MM` in OPS_TIMEZONE (may wrap midnight), or `none`.
   * Sends due inside them wait for their end.
   */
  CAMPAIGN_QUIET_HOURS: z
    .string()
    .default('21:00-09:00')
    .transform((raw, ctx) => {
      const text = raw.trim();
      if (text === 'none') return null;
      const m = /^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$/.exec(text);
      if (!m) {
        ctx.addIssue({ code: 'custom', message: `"${text}" is not HH:MM-HH:MM (e.g. 21:00-09:00) or none` });
        return z.NEVER;
      }
      return { start: `${m[1]}:${m[2]}`, end: `${m[3]}:${m[4]}` };
    }),
  /**
   * Customers per mass message of a campaign: an owner confirms one task for up to this many customers who get the
   * same content (WeCom takes at most 10,000 external_userid per add_msg_template [D:92135]).
   */
  CAMPAIGN_MASS_BATCH: z.coerce.number().int().min(1).max(10_000).default(10_000),
  /**
   * The secret of the app listed under 微信客服 → 可调用接口的应用 (its own list [D:94670]); the kf/* APIs are called with
   * it. Default: WECOM_SECRET (the same app in both lists).
   */
  WECOM_KF_SECRET: z.string().min(1).optional(),
  /** When people serve customers: `Mon-Fri 09:00-18:00`, parts separated by `,` (docs/ops-guide.md). */
  SERVICE_HOURS: z
    .string()
    .default(DEFAULT_SERVICE_HOURS)
    .transform((raw, ctx) => {
      const parsed = parseServiceHours(raw);
      if (typeof parsed === 'string') {
        ctx.addIssue({ code: 'custom', message: parsed });
        return z.NEVER;
      }
      return parsed;
    }),
  /** The time zone of SERVICE_HOURS. */
  SERVICE_TIMEZONE: z.string().default(DEFAULT_TIMEZONE).refine(isTimeZone, 'is not a known IANA time zone (e.g. Asia/Shanghai)'),
  /** How long a customer may wait for a person's reply, counted within SERVICE_HOURS (a lead's grade may set its own). */
  SERVICE_REPLY_TARGET_SECONDS: int(600, 1),
  /** Bot replies per customer per minute in 微信客服 (the unsubscribe confirmation is never held back). */
  KF_REPLIES_PER_MINUTE: int(3, 1),
  /** 微信客服 customers handled at once by an account's sync, and `kf-inbound` jobs per worker process (default 16). */
  KF_CONCURRENCY: int(16, 1),
  /**
   * Days a 微信客服 message's stored copy and handled mark are kept (default 7). kf/sync_msg returns 3 days of messages
   * [D:94670]: until then a message may be fetched again and its documents keep it from being handled twice.
   */
  KF_MESSAGE_RETENTION_DAYS: z.coerce
    .number()
    .int()
    .min(4, 'must be at least 4: WeCom returns 3 days of 客服 messages, and a message it may return again must stay marked handled')
    .default(7),
  /** How old the dashboard's sequence statistics may be before they are computed again (0: every time). */
  SEQUENCE_STATS_MAX_AGE_SECONDS: int(120, 0),
  /** Key that signs tracked links (/r/<token>); default: derived from WECOM_ENCODING_AES_KEY. */
  LINK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
});

export type Config = z.infer<typeof envSchema>;

/**
 * Validates the environment. Throws one ConfigError listing every problem; values of secret variables are never
 * included (zod messages here describe the rule, not the value).
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(cleaned);
  const retired = Object.entries(RETIRED).filter(([key]) => key in cleaned).map(([key, why]) => `${key}: ${why}`);
  // The robot's two settings come from the same page of the admin console: one without the other is a mistake.
  const robot = ['WECOM_ROBOT_TOKEN', 'WECOM_ROBOT_ENCODING_AES_KEY'] as const;
  const half = robot.filter((k) => k in cleaned).length === 1 ? robot.filter((k) => !(k in cleaned)).map((k) => `${k}: is required when ${robot.find((o) => o !== k)} is set (the robot's API mode gives both)`) : [];
  const extra = [...retired, ...half];
  if (parsed.success && !extra.length) return parsed.data;
  const problems = (parsed.success ? [] : parsed.error.issues).map((issue) => {
    const key = String(issue.path[0] ?? '');
    const message = issue.code === 'invalid_type' && issue.received === 'undefined' ? 'is required' : issue.message;
    return `${key}: ${SECRET_KEYS.has(key) ? message.replace(/"[^"]*"/g, '"…"') : message}`;
  });
  throw new ConfigError([...problems, ...extra]);
}
