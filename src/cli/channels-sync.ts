import 'dotenv/config';
import { closeContext, createContext } from '../app/bot.js';
import { loadConfig } from '../config.js';
import { ConfigError, TemplateError } from '../errors.js';
import { exitOnStartupError } from './exit-on-startup-error.js';
import { createLogger } from '../logger.js';
import { syncChannels } from '../domain/channels/sync-channels.js';

/** `npm run channels:sync`: creates or updates every channel's 联系我 QR code and prints where to find it. */
try {
  const config = loadConfig();
  const ctx = await createContext(config, createLogger(config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL));
  try {
    for (const r of await syncChannels(ctx)) {
      console.log(`${r.action.padEnd(8)} ${r.key}${r.qrCode ? `  config_id=${r.configId}  qr_code=${r.qrCode}` : ''}${r.reason ? `  (${r.reason})` : ''}`);
    }
  } finally {
    await closeContext(ctx);
  }
} catch (err) {
  if (err instanceof ConfigError || err instanceof TemplateError) exitOnStartupError(err);
  console.error(`channels:sync failed: ${(err as Error).message}`);
  process.exit(1);
}
