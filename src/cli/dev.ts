import 'dotenv/config';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { startBot, type Bot } from '../app/bot.js';
import { loadConfig, type Config } from '../config.js';
import { loadTemplates } from '../content/index.js';
import { syncChannels } from '../domain/channels/sync-channels.js';
import { withTimeout } from '../with-timeout.js';
import { reconcileCampaigns } from '../domain/campaigns/reconcile.js';
import { reconcile } from '../domain/nurture/reconcile.js';
import { seedDemo } from '../dev/demo-data.js';
import { DEV_ADMIN_TOKEN_FILE, DEV_ENV_FILE, DEV_SETTINGS, keptAdminToken, sandboxPort } from '../dev/dev-settings.js';
import { restoreSandbox } from '../dev/restore-sandbox.js';
import { startEmbeddedDatabase, withDatabase } from '../dev/embedded-database.js';
import { CodedError, ErrorCode } from '../errors.js';
import { createLogger } from '../logger.js';
import { RedisKeys } from '../redis/keys.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';
import { readCommandLine } from './command-line.js';
import { EX_CONFIG, exitOnStartupError, isStartupError } from './exit-on-startup-error.js';

/** Where dev keeps its data: the database, and the settings other commands use to reach this run (dev.env). */
const DATA_DIR = '.data';
const DEV_ENV = DEV_ENV_FILE;
/** The sandbox corp's members: a scan of anyone else's code is refused, as WeCom would. */
const MEMBERS = ['zhangsan', 'lisi', 'wangwu'];
/** The sandbox corp's 微信客服 account and its servicers (on duty), so `npm run simulate:say` works at once. */
const KF_ACCOUNT = { openKfid: 'wkDEVKF00000000000000000000001', name: '官方客服', servicers: ['zhangsan', 'lisi'] };

const USAGE = `
Usage: npm run dev [-- --no-demo]

Runs the whole bot on this machine: an embedded database (data in .data/db), the local Redis, and the sandbox WeCom
standing in for qyapi.weixin.qq.com, sending real encrypted callbacks. Ctrl-C stops everything.

The first run on an empty database seeds demo data (about 300 leads over the last two weeks) for the dashboard at
http://127.0.0.1:3000/admin; --no-demo skips it. A database with leads is never seeded.

Environment (or .env): PORT (default 3000), SANDBOX_PORT (default 3100), REDIS_URL, TEMPLATES_DIR, LOG_LEVEL,
MONGODB_URI (a database to use instead of the embedded one), QUEUE_PREFIX (default wecom-dev), ADMIN_TOKEN (default:
one made on the first run, kept in .data/admin-token). The robot (chat commands) is on, with zhangsan as ops admin
and lisi as ops member: npm run simulate:ops -- "统计 7d".

While it runs, ${DEV_ENV} holds its settings. The simulate commands read it by themselves (simulate:scan -- expo2026,
simulate:ops -- 帮助, simulate:say -- 刘女士 "报价多少"); any other command runs against this sandbox and database with
  DOTENV_CONFIG_PATH=${DEV_ENV} npm run <command>     e.g. channels:sync, grades:calibrate
`;

/** What dev started, stopped in reverse order on Ctrl-C and on every start-up error. */
const started: Array<{ what: string; stop: () => Promise<unknown> }> = [];
let stopping = false;

/** Remembers something dev started; started while dev was already stopping (Ctrl-C during start-up), it is stopped. */
async function track(what: string, stop: () => Promise<unknown>): Promise<void> {
  started.push({ what, stop });
  if (stopping) await stopAll();
}

/** How long one thing dev started may take to stop before dev goes on to the next (the database last). */
const STOP_STEP_MS = 10_000;

async function stopAll(): Promise<void> {
  for (const s of started.splice(0).reverse()) {
    // The bot waits for its jobs and for Redis: with Redis gone it would never finish, and the database would be left.
    await withTimeout(s.stop(), STOP_STEP_MS, `not stopped within ${STOP_STEP_MS / 1000} s (Redis or the database unreachable?)`).catch((err: Error) =>
      console.error(`could not stop the ${s.what}: ${err.message}`),
    );
  }
}

let shuttingDown: Promise<never> | null = null;

/**
 * Stops whatever was started, then exits: 0 after Ctrl-C, the start-up error's code after a failure. Once: a start-up
 * step that fails because Ctrl-C is closing what it used (e.g. the demo seeding's database client) waits for that
 * shutdown to finish instead of exiting while the database is still being stopped.
 */
function shutdown(err?: unknown): Promise<never> {
  return (shuttingDown ??= stopAndExit(err));
}

async function stopAndExit(err?: unknown): Promise<never> {
  stopping = true;
  if (err === undefined) console.log('Stopping: the bot first (its jobs stop at a safe point), then the database and the sandbox WeCom…');
  await stopAll();
  if (err === undefined) {
    console.log('Stopped.');
    process.exit(0);
  }
  if (isStartupError(err)) exitOnStartupError(err);
  console.error(`npm run dev failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}

/**
 * `npm run dev`: the whole bot on one machine — an embedded MongoDB-wire database (kept in .data/), the local
 * Redis, the sandbox WeCom standing in for qyapi.weixin.qq.com and sending real encrypted callbacks, and the bot
 * in ROLE=all. Prints how to play a customer scanning a channel's QR code.
 */
async function dev(): Promise<void> {
  const { values: flags } = readCommandLine('npm run dev', USAGE, { 'no-demo': { type: 'boolean' } });
  const onSignal = () => void (stopping ? undefined : shutdown());
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  mkdirSync(path.resolve(DATA_DIR), { recursive: true });
  const env: Record<string, string | undefined> = { ...DEV_SETTINGS, ...process.env };
  env.ADMIN_TOKEN ||= await devAdminToken();
  const redisUrl = env.REDIS_URL || 'redis://127.0.0.1:6379';
  const settings = (over: { sandboxUrl: string; mongoUri: string }): Config =>
    loadConfig({ ...env, WECOM_API_BASE: over.sandboxUrl, MONGODB_URI: over.mongoUri, REDIS_URL: redisUrl, QUEUE_PREFIX: env.QUEUE_PREFIX || 'wecom-dev', ROLE: 'all' });

  // First what needs nothing started: the configuration, the templates, Redis.
  const checked = settings({ sandboxUrl: 'http://127.0.0.1', mongoUri: env.MONGODB_URI || 'mongodb://127.0.0.1/wecom_bot_dev' });
  await loadTemplates(checked.TEMPLATES_DIR);
  await checkRedis(redisUrl);

  const sandbox = await startDevSandbox(env);
  await track('sandbox WeCom', () => sandbox.close());
  mkdirSync(path.resolve(DATA_DIR, 'db'), { recursive: true });
  const db = await startEmbeddedDatabase({ dataDir: path.resolve(DATA_DIR, 'db'), env: env as NodeJS.ProcessEnv });
  await track('database', () => db.stop());
  const config = settings({ sandboxUrl: sandbox.url, mongoUri: db.kind === 'external' ? db.uri : withDatabase(db.uri, 'wecom_bot_dev') });

  const logger = createLogger(config.LOG_LEVEL);
  await forgetTokens(config);
  const bot: Bot = await startBot(config, logger);
  await track('bot', () => bot.stop());
  sandbox.state.callback = { url: `http://127.0.0.1:${config.PORT}/wecom/callback`, token: config.WECOM_TOKEN, encodingAesKey: config.WECOM_ENCODING_AES_KEY };
  if (config.WECOM_ROBOT_TOKEN && config.WECOM_ROBOT_ENCODING_AES_KEY) {
    sandbox.state.robot.target = { url: `http://127.0.0.1:${config.PORT}/wecom/robot`, token: config.WECOM_ROBOT_TOKEN, encodingAesKey: config.WECOM_ROBOT_ENCODING_AES_KEY };
  }
  let seeded = false;
  if (!flags['no-demo']) {
    console.log('Seeding demo data for the dashboard (skipped when the database has leads; --no-demo skips it always)…');
    const demo = await seedDemo(bot.ctx, { members: MEMBERS, kf: KF_ACCOUNT });
    seeded = demo.seeded;
    console.log(demo.seeded ? `  ${demo.leads} demo leads seeded` : `  the database has ${demo.leads} leads already: no demo seeded`);
  }
  const restored = await restoreSandbox(bot.ctx, sandbox);
  if (restored) console.log(`  ${restored} customer relationships from the database restored in the sandbox WeCom`);
  // The demo is written without its jobs (nurture steps, campaign polls): made now, not left to the reconciler's
  // next pass, which would take them for jobs Redis lost.
  await reconcile(bot.ctx, { seeded });
  await reconcileCampaigns(bot.ctx, { seeded });
  const synced = await syncChannels(bot.ctx);
  await track(DEV_ENV, () => rm(path.resolve(DEV_ENV), { force: true }));
  await writeDevEnv(config, sandbox, bot);

  const channelLines = bot.ctx.channels
    .all()
    .map((c) => {
      const qr = synced.find((s) => s.key === c.key)?.qrCode;
      return `    ${c.key.padEnd(16)} ${c.name}${qr ? `  (QR: ${qr})` : ''}`;
    })
    .join('\n');
  console.log(`
  WeCom ops bot (dev) is running
    callback receiver  http://127.0.0.1:${config.PORT}/wecom/callback
    dashboard          http://127.0.0.1:${config.PORT}/admin   (${process.env.ADMIN_TOKEN ? 'token: your ADMIN_TOKEN' : `dev token: ${config.ADMIN_TOKEN}, kept in ${DEV_ADMIN_TOKEN_FILE}`})
    robot (commands)   http://127.0.0.1:${config.PORT}/wecom/robot   (admins: ${config.OPS_ADMINS.join(', ') || 'none'}; members: ${config.OPS_USERIDS.join(', ') || 'none'})
    health / metrics   http://127.0.0.1:${config.PORT}/healthz  /metrics
    sandbox WeCom      ${sandbox.url}   (calls: ${sandbox.url}/sandbox/calls, welcomes: ${sandbox.url}/sandbox/welcomes, ops group: ${sandbox.url}/sandbox/webhook)
    sandbox members    ${MEMBERS.join(', ')}
    微信客服 account    ${KF_ACCOUNT.name} (${KF_ACCOUNT.openKfid}), servicers ${KF_ACCOUNT.servicers.join(', ')}; service hours ${config.SERVICE_HOURS.text}
    database           ${withoutPassword(config.MONGODB_URI)}   (${db.kind}${db.kind === 'external' ? '' : `, data in ${path.join(DATA_DIR, 'db')}`})

  Channels (templates in ${config.TEMPLATES_DIR}):
${channelLines}

  Play a customer scanning a channel's QR code (in another terminal):
    npm run simulate:scan -- expo2026 --name 王经理 --user zhangsan

  Play ops staff @mentioning the robot in the ops group:
    npm run simulate:ops -- "统计 7d"

  Play a customer writing to the 微信客服 account:
    npm run simulate:say -- 刘女士 "你好，请问报价多少？"

  Run any command against this sandbox and database (settings in ${DEV_ENV}):
    DOTENV_CONFIG_PATH=${DEV_ENV} npm run channels:sync

  Ctrl-C stops everything.
`);
}

/** The dev dashboard token: the one kept in .data/admin-token, else a new one written there (only you can read it). */
async function devAdminToken(): Promise<string> {
  const kept = await keptAdminToken();
  if (kept) return kept;
  const token = `dev-${randomBytes(12).toString('base64url')}`;
  await writeFile(path.resolve(DEV_ADMIN_TOKEN_FILE), `${token}\n`, { mode: 0o600 });
  return token;
}

/** Redis must be there before anything starts. */
async function checkRedis(redisUrl: string): Promise<void> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
  } catch {
    console.error(`Redis is not reachable at ${withoutPassword(redisUrl)}. Start one (e.g. \`redis-server --daemonize yes\`) or set REDIS_URL.`);
    process.exit(EX_CONFIG);
  } finally {
    redis.disconnect();
  }
}

/** The sandbox WeCom on SANDBOX_PORT; a port in use is one clear error, like the bot's own. */
async function startDevSandbox(env: Record<string, string | undefined>): Promise<Sandbox> {
  const port = sandboxPort(env as NodeJS.ProcessEnv);
  try {
    const secrets = [...new Set([env.WECOM_SECRET!, env.WECOM_KF_SECRET || env.WECOM_SECRET!])];
    return await startSandbox({ port, corpId: env.WECOM_CORP_ID!, secrets, members: MEMBERS, kfAccounts: [KF_ACCOUNT] });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    throw new CodedError(ErrorCode.PortInUse, `port ${port} (the sandbox WeCom) is already in use (another npm run dev?); set SANDBOX_PORT to a free one, e.g. SANDBOX_PORT=${port + 1}`);
  }
}

/**
 * Writes the settings of this run (sandbox corp, sandbox URL, database, Redis, templates, the bot's port and admin
 * token) to .data/dev.env, so any command reaches them with DOTENV_CONFIG_PATH=.data/dev.env; removed when dev stops.
 */
async function writeDevEnv(config: Config, sandbox: Sandbox, bot: Bot): Promise<void> {
  const vars: Record<string, string | number> = {
    WECOM_CORP_ID: config.WECOM_CORP_ID,
    WECOM_TOKEN: config.WECOM_TOKEN,
    WECOM_ENCODING_AES_KEY: config.WECOM_ENCODING_AES_KEY,
    WECOM_SECRET: config.WECOM_SECRET,
    WECOM_AGENT_ID: config.WECOM_AGENT_ID,
    WECOM_API_BASE: sandbox.url,
    SANDBOX_PORT: new URL(sandbox.url).port,
    MONGODB_URI: config.MONGODB_URI,
    REDIS_URL: config.REDIS_URL,
    QUEUE_PREFIX: config.QUEUE_PREFIX,
    TEMPLATES_DIR: path.resolve(config.TEMPLATES_DIR),
    // The bot itself: simulate:scan asks its admin API which channels it knows and what it recorded for a scan.
    PORT: bot.url ? new URL(bot.url).port : config.PORT,
    ...(config.ADMIN_TOKEN ? { ADMIN_TOKEN: config.ADMIN_TOKEN } : {}),
  };
  const lines = Object.entries(vars).map(([k, v]) => `${k}=${/^[\w./:@%+,{}-]*$/.test(String(v)) ? v : JSON.stringify(String(v))}`);
  const text = `# The settings of the running \`npm run dev\` (removed when it stops). Use them with:\n#   DOTENV_CONFIG_PATH=${DEV_ENV} npm run <command>\n${lines.join('\n')}\n`;
  await writeFile(path.resolve(DEV_ENV), text, { mode: 0o600 });
}

function withoutPassword(uri: string): string {
  return uri.replace(/\/\/[^@/]*@/, '//…@');
}

dev().catch((err: unknown) => shutdown(err));

/**
 * The sandbox WeCom is new on each start, so an access token cached in Redis by an earlier run is one it never issued
 * (each first call would earn 40014 and a refresh): forgotten before the bot starts.
 */
async function forgetTokens(config: Config): Promise<void> {
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    const match = new RedisKeys(config.QUEUE_PREFIX).accessToken('*');
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
      cursor = next;
      if (found.length) await redis.del(...found);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
