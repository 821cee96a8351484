import { CodedError, ConfigError, ErrorCode, TemplateError } from '../errors.js';

/** Exit code for configuration problems (sysexits EX_CONFIG). */
export const EX_CONFIG = 78;

/**
 * For a command that works on a bot's settings (channels:sync, grades:calibrate): where settings it lacks come from,
 * said when the configuration lacks a required variable.
 */
export function settingsHint(err: unknown): string {
  if (!(err instanceof ConfigError) || !err.problems.some((p) => p.endsWith(': is required'))) return '';
  return '\nSet them in the environment or in .env (.env.example lists every setting); against a running `npm run dev`, put DOTENV_CONFIG_PATH=.data/dev.env before the command.';
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
