import 'dotenv/config';
import { readCommandLine } from '../cli/command-line.js';
import { exitOnStartupError, isStartupError } from '../cli/exit-on-startup-error.js';
import { loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { startBot } from './bot.js';

/** `npm start`: validate configuration and templates, then run the roles ROLE asks for until SIGTERM/SIGINT. */
async function main(): Promise<void> {
  readCommandLine(
    'npm start',
    `
Usage: npm start

Runs the bot in the roles ROLE asks for (web, worker or all) until SIGTERM or SIGINT. Everything comes from the
environment or .env; see .env.example for every variable.
`,
    {},
  );
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    exitOnStartupError(err, '\nSee .env.example for every variable.');
  }
  const logger = createLogger(config.LOG_LEVEL);
  let bot;
  try {
    bot = await startBot(config, logger);
  } catch (err) {
    if (isStartupError(err)) exitOnStartupError(err);
    logger.fatal({ err: (err as Error).message }, 'start-up failed');
    process.exit(1);
  }
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without waiting for active jobs');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal, timeoutSeconds: config.SHUTDOWN_TIMEOUT_SECONDS }, 'shutting down: finishing active jobs');
    // Closing waits for active jobs and for Redis: with Redis gone it would never end. Their locks lapse (JOB_LOCK_MS)
    // and another worker takes them over, as after a crash.
    setTimeout(() => {
      logger.error({ timeoutSeconds: config.SHUTDOWN_TIMEOUT_SECONDS }, 'shutdown did not finish in time (Redis or the database unreachable, or a long job): exiting anyway');
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_SECONDS * 1000).unref();
    await bot.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

void main();
