import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Redis } from 'ioredis';
import mongoose from 'mongoose';
import { inject } from 'vitest';
import { startBot, type Bot } from '../../src/app/bot.js';
import { loadConfig, type Config } from '../../src/config.js';
import { withDatabase } from '../../src/dev/embedded-database.js';
import { createLogger } from '../../src/logger.js';
import { buildContactEventXml, startSandbox, type Sandbox, type SandboxOptions } from '../../src/sandbox/index.js';
import { buildEncryptedCallback, toQueryString } from '../../src/wecom/callback/crypto.js';
import { corpEnv, CREDS, deleteMatching, TEST_CORP } from '../fixtures/test-corp.js';

export { CREDS, TEST_CORP };

export const TEMPLATES_DIR = path.resolve('test/fixtures/templates');

/** A unique name per test file: its database and its Redis key prefix. */
export function uniqueName(label: string): string {
  return `t_${label.replace(/\W/g, '_')}_${randomBytes(3).toString('hex')}`;
}

/** The environment a test bot runs with (everything a deployment sets, pointed at the sandbox). */
export function testEnv(name: string, sandboxUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return corpEnv(
    { sandboxUrl, mongoUri: withDatabase(inject('mongoServerUri'), name), prefix: name, templatesDir: TEMPLATES_DIR },
    { LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent', JOB_LOCK_MS: '3000', ...extra },
  );
}

export interface TestBot {
  bot: Bot;
  sandbox: Sandbox;
  config: Config;
  env: Record<string, string>;
  url: string;
  /** POSTs an encrypted callback of `xml` through the HTTP receiver. */
  post(xml: string, opts?: { timestamp?: number }): Promise<Response>;
  /** A customer scans the channel's code: the sandbox creates the contact and a WelcomeCode; we get the event XML. */
  newContact(opts: { state?: string; userId?: string; name?: string; createTime?: number }): {
    externalUserId: string;
    welcomeCode: string;
    xml: string;
  };
  stop(): Promise<void>;
}

/** Starts the sandbox WeCom and the whole bot (web + workers) on a fresh database and queue prefix. */
export async function startTestBot(label: string, opts: { env?: Record<string, string>; sandbox?: Partial<SandboxOptions>; role?: string } = {}): Promise<TestBot> {
  const name = uniqueName(label);
  const sandbox = await startSandbox({ corpId: TEST_CORP.corpId, secrets: [TEST_CORP.secret], ...opts.sandbox });
  const env = testEnv(name, sandbox.url, { ...(opts.role ? { ROLE: opts.role } : {}), ...opts.env });
  const config = loadConfig(env);
  const bot = await startBot(config, createLogger(config.LOG_LEVEL));
  const url = bot.url ?? '';
  return {
    bot,
    sandbox,
    config,
    env,
    url,
    post: (xml, o = {}) => postCallback(url, xml, o),
    newContact({ state, userId = 'zhangsan', name: customer = '王经理', createTime }) {
      const { externalUserId, welcomeCode } = sandbox.state.contacts.addCustomer({ name: customer, userId, state });
      const xml = buildContactEventXml({
        toUserName: TEST_CORP.corpId,
        createTime: createTime ?? Math.floor(Date.now() / 1000),
        changeType: 'add_external_contact',
        userId,
        externalUserId,
        state,
        welcomeCode,
      });
      return { externalUserId, welcomeCode, xml };
    },
    async stop() {
      await mongoose.connection.db?.dropDatabase().catch(() => undefined);
      await bot.stop();
      await sandbox.close();
      await deleteKeys(config.REDIS_URL, name);
    },
  };
}

/** Encrypts `xml` as WeCom does and POSTs it to the receiver at `baseUrl`. */
export async function postCallback(baseUrl: string, xml: string, opts: { timestamp?: number } = {}): Promise<Response> {
  const { query, body } = buildEncryptedCallback(CREDS, xml, { timestamp: opts.timestamp });
  return fetch(`${baseUrl}/wecom/callback?${toQueryString(query)}`, { method: 'POST', body, headers: { 'content-type': 'text/xml' } });
}

/** Deletes every Redis key under `prefix`. */
export async function deleteKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl);
  await deleteMatching(redis, `${prefix}:*`);
  redis.disconnect();
}
