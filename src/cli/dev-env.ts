import { existsSync } from 'node:fs';
import path from 'node:path';
import dotenv from 'dotenv';
import { DEV_ENV_FILE } from '../dev/dev-settings.js';

/**
 * The environment of a dev-only command (the simulate scripts), imported first in place of `dotenv/config`: while
 * `npm run dev` runs, its settings (.data/dev.env: the sandbox's and the bot's ports, the admin token) and then .env,
 * as dev itself read it, so the commands the dev banner prints reach this run whatever ports it uses. An explicit
 * DOTENV_CONFIG_PATH wins, and without .data/dev.env it is `dotenv/config` as before (.env only).
 */
if (!process.env.DOTENV_CONFIG_PATH && existsSync(path.resolve(DEV_ENV_FILE))) {
  dotenv.config({ path: [path.resolve(DEV_ENV_FILE), path.resolve('.env')] });
} else {
  await import('dotenv/config');
}
