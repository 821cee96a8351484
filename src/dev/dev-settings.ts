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
