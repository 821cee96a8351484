import { pino, type Logger } from 'pino';

export type { Logger };

/** Creates the JSON logger; secrets and tokens are redacted wherever they might appear. */
export function createLogger(level = 'info', name = 'wecom-bot'): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: ['access_token', '*.access_token', 'corpsecret', '*.corpsecret', 'secret', '*.secret', 'config.WECOM_SECRET', 'config.WECOM_TOKEN', 'config.WECOM_ENCODING_AES_KEY'],
      censor: '[redacted]',
    },
  });
}
