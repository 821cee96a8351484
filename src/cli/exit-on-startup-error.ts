import { CodedError, ConfigError, ErrorCode, TemplateError } from '../errors.js';

/** Exit code for configuration problems (sysexits EX_CONFIG). */
export const EX_CONFIG = 78;

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
