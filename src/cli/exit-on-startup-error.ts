import { existsSync } from 'node:fs';
import path from 'node:path';
import { CodedError, ConfigError, ErrorCode, TemplateError } from '../errors.js';

/** Exit code for configuration problems (sysexits EX_CONFIG). */
export const EX_CONFIG = 78;

/**
 * For a command that works on a bot's settings (channels:sync, grades:calibrate): where settings it lacks come from,
 * said when the configuration lacks a required variable.
 */
export function settingsHint(err: unknown, env: NodeJS.ProcessEnv = process.env): string {
  if (!(err instanceof ConfigError) || !err.problems.some((p) => p.endsWith(': is required'))) return '';
  // Where they were looked for (dotenv/config reads DOTENV_CONFIG_PATH, else .env here), and whether it is there.
  const file = path.resolve(env.DOTENV_CONFIG_PATH || '.env');
  const read = existsSync(file) ? `${file} was read` : `${env.DOTENV_CONFIG_PATH ? 'DOTENV_CONFIG_PATH names' : 'there is no'} ${file}${env.DOTENV_CONFIG_PATH ? ', which does not exist' : ''}`;
  return `\nSettings come from the environment and from a .env file (${read}; .env.example lists every setting); against a running \`npm run dev\`, put DOTENV_CONFIG_PATH=.data/dev.env before the command, in the folder dev runs in.`;
}

/** True for the errors start-up reports as one clear message: configuration, templates, a port in use. */
export function isStartupError(err: unknown): err is CodedError {
  return err instanceof ConfigError || err instanceof TemplateError || (err instanceof CodedError && err.code === ErrorCode.PortInUse);
}

/**
 * For command entry points: a start-up error (configuration, templates, a port in use) is printed as the one clear
 * message it already is and the process exits with EX_CONFIG; anything else is rethrown.
 */
export function exitOnStartupError(err: unknown, hint = ''): never {
  if (isStartupError(err)) {
    console.error(`${err.message}${hint}`);
    process.exit(EX_CONFIG);
  }
  throw err;
}
