import 'dotenv/config';
import { closeContext, createContext } from '../app/bot.js';
import { loadConfig } from '../config.js';
import { ConfigError, TemplateError } from '../errors.js';
import { readCommandLine } from './command-line.js';
import { exitOnStartupError, settingsHint } from './exit-on-startup-error.js';
import { createLogger } from '../logger.js';
import { syncChannels } from '../domain/channels/sync-channels.js';

/** `npm run channels:sync`: creates or updates every channel's 联系我 QR code and prints where to find it. */
readCommandLine(
  'npm run channels:sync',
  `
Usage: npm run channels:sync

Creates or updates each channel's 联系我 QR code in WeCom (scene 2, state = the channel key) and prints its
config_id and qr_code URL; channels need \`owners\` in templates/channels.yaml. A channel with \`kf:\` also gets its
微信客服 link (kf/add_contact_way, scene = the channel key unless set), printed as kf_link. Uses the bot's configuration
(environment or .env: WECOM_*, MONGODB_URI, REDIS_URL, TEMPLATES_DIR).

Against the sandbox of a running \`npm run dev\`:  DOTENV_CONFIG_PATH=.data/dev.env npm run channels:sync
`,
  {},
);
try {
  const config = loadConfig();
  const ctx = await createContext(config, createLogger(config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL));
  try {
    const results = await syncChannels(ctx);
    for (const r of results) {
      console.log(`${r.action.padEnd(8)} ${r.key}${r.qrCode ? `  config_id=${r.configId}  qr_code=${r.qrCode}` : ''}${r.kfUrl ? `  kf_link=${r.kfUrl}` : ''}${r.reason ? `  (${r.reason})` : ''}`);
    }
    // A channel WeCom refused is listed with the others; the run still ends as failed.
    if (results.some((r) => r.action === 'failed')) process.exitCode = 1;
  } finally {
    await closeContext(ctx);
  }
} catch (err) {
  if (err instanceof ConfigError || err instanceof TemplateError) exitOnStartupError(err, settingsHint(err));
  console.error(`channels:sync failed: ${(err as Error).message}`);
  process.exit(1);
}
