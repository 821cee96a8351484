import { ConfigError, TemplateError } from '../errors.js';

/** Exit code for configuration problems (sysexits EX_CONFIG). */
export const EX_CONFIG = 78;

/**
 * For command entry points: a ConfigError or TemplateError is printed as the one clear message it already is and
 * the process exits with EX_CONFIG; anything else is rethrown.
 */
export function exitOnStartupError(err: unknown, hint = ''): never {
  if (err instanceof ConfigError || err instanceof TemplateError) {
    console.error(`${err.message}${hint}`);
    process.exit(EX_CONFIG);
  }
  throw err;
}
