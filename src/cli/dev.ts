import 'dotenv/config';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { startBot } from '../app/bot.js';
import { loadConfig } from '../config.js';
import { syncChannels } from '../domain/channels/sync-channels.js';
import { DEV_SETTINGS, sandboxPort } from '../dev/dev-settings.js';
import { startEmbeddedDatabase, withDatabase, type EmbeddedDatabase } from '../dev/embedded-database.js';
import { EX_CONFIG, exitOnStartupError } from './exit-on-startup-error.js';
import { createLogger } from '../logger.js';
import { startSandbox } from '../sandbox/index.js';

/**
 * `npm run dev`: the whole bot on one machine — an embedded MongoDB-wire database (kept in .data/), the local
 * Redis, the sandbox WeCom standing in for qyapi.weixin.qq.com and sending real encrypted callbacks, and the bot
 * in ROLE=all. Prints how to play a customer scanning a channel's QR code.
 */
async function dev(): Promise<void> {
  const env: Record<string, string | undefined> = { ...DEV_SETTINGS, ...process.env };
  const redisUrl = env.REDIS_URL || 'redis://127.0.0.1:6379';
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  try {
    await redis.connect();
    await redis.ping();
  } catch {
    fail(`Redis is not reachable at ${redisUrl.replace(/\/\/[^@]*@/, '//…@')}. Start one (e.g. \`redis-server --daemonize yes\`) or set REDIS_URL.`);
  } finally {
    redis.disconnect();
  }

  const db = await embeddedDatabase(env);
  const sandbox = await startSandbox({
    port: sandboxPort(env),
    corpId: env.WECOM_CORP_ID!,
    secrets: [env.WECOM_SECRET!],
    members: ['zhangsan', 'lisi', 'wangwu'],
  });
  let config;
  try {
    config = loadConfig({
      ...env,
      WECOM_API_BASE: sandbox.url,
      MONGODB_URI: db.kind === 'external' ? db.uri : withDatabase(db.uri, 'wecom_bot_dev'),
      REDIS_URL: redisUrl,
      QUEUE_PREFIX: env.QUEUE_PREFIX || 'wecom-dev',
      ROLE: 'all',
    });
  } catch (err) {
    exitOnStartupError(err);
  }
  const logger = createLogger(config.LOG_LEVEL);
  let bot;
  try {
    bot = await startBot(config, logger);
  } catch (err) {
    exitOnStartupError(err);
  }
  sandbox.state.callback = { url: `http://127.0.0.1:${config.PORT}/wecom/callback`, token: config.WECOM_TOKEN, encodingAesKey: config.WECOM_ENCODING_AES_KEY };
  const synced = await syncChannels(bot.ctx);

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
    health / metrics   http://127.0.0.1:${config.PORT}/healthz  /metrics
    sandbox WeCom      ${sandbox.url}   (calls: ${sandbox.url}/sandbox/calls, welcomes: ${sandbox.url}/sandbox/welcomes)
    database           ${db.kind} ${db.kind === 'external' ? '' : `(data in ${path.relative(process.cwd(), dataDir()) || '.'})`}

  Channels (templates in ${config.TEMPLATES_DIR}):
${channelLines}

  Play a customer scanning a channel's QR code (in another terminal):
    npm run simulate:scan -- expo2026 --name 王经理 --user zhangsan

  Ctrl-C stops everything.
`);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await bot.stop();
    await sandbox.close();
    await db.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

function dataDir(): string {
  return path.resolve('.data/db');
}

/** The embedded database, its data kept in .data/ between runs. */
async function embeddedDatabase(env: Record<string, string | undefined>): Promise<EmbeddedDatabase> {
  mkdirSync(dataDir(), { recursive: true });
  return startEmbeddedDatabase({ dataDir: dataDir(), env: env as NodeJS.ProcessEnv });
}

function fail(message: string): never {
  console.error(message);
  process.exit(EX_CONFIG);
}

void dev();
