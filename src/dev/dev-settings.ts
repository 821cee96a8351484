import { readFile } from 'node:fs/promises';
import path from 'node:path';

/** Settings `npm run dev` uses for the sandbox corp; any of them can be overridden from the environment or .env. */
export const DEV_SETTINGS = {
  WECOM_CORP_ID: 'wwsandbox0000dev1',
  WECOM_TOKEN: 'sandboxtoken',
  WECOM_ENCODING_AES_KEY: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
  WECOM_SECRET: 'sandbox-app-secret',
  WECOM_AGENT_ID: '1000002',
  PORT: '3000',
  SANDBOX_PORT: '3100',
  // The robot (chat commands) and the ops group's webhook, so `npm run simulate:ops` and alerts work in dev.
  WECOM_ROBOT_TOKEN: 'sandboxrobot',
  WECOM_ROBOT_ENCODING_AES_KEY: 'ROBOTabcdefghijklmnopqrstuvwxyz0123456789AB',
  WECOM_OPS_WEBHOOK_KEY: 'sandbox-ops-webhook',
  OPS_ADMINS: 'zhangsan',
  OPS_USERIDS: 'lisi',
} as const;

/** Where the dev sandbox WeCom listens (used by `npm run simulate:scan` too). */
export function sandboxPort(env: NodeJS.ProcessEnv = process.env): number {
  return Number(env.SANDBOX_PORT || DEV_SETTINGS.SANDBOX_PORT);
}

/** The settings of the running `npm run dev` (ports, database, admin token), written at its start, removed when it stops. */
export const DEV_ENV_FILE = path.join('.data', 'dev.env');

/** Where `npm run dev` keeps the dashboard's token it made on its first run (used unless ADMIN_TOKEN is set). */
export const DEV_ADMIN_TOKEN_FILE = path.join('.data', 'admin-token');

/** The token kept in .data/admin-token by an earlier `npm run dev`, if there is a usable one. */
export async function keptAdminToken(): Promise<string | null> {
  const kept = (await readFile(path.resolve(DEV_ADMIN_TOKEN_FILE), 'utf8').catch(() => '')).trim();
  return kept.length >= 16 ? kept : null;
}

/**
 * How a dev command reaches the running dev bot's admin API: its PORT on loopback (as the dev banner prints it) and
 * its token, ADMIN_TOKEN or else the one `npm run dev` keeps (both are in .data/dev.env while dev runs).
 */
export async function devBotAdmin(env: NodeJS.ProcessEnv = process.env): Promise<{ url: string; token: string | null }> {
  return { url: `http://127.0.0.1:${Number(env.PORT || DEV_SETTINGS.PORT)}`, token: env.ADMIN_TOKEN || (await keptAdminToken()) };
}
