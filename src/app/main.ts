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
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing active jobs');
    await bot.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

void main();
