import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * One pino logger for the process. Authorization headers and secret fields are redacted here, so a
 * careless log line cannot leak them; request bodies are never logged at all.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: 'oms' },
      redact: {
        paths: [
          'req.headers.authorization',
          'headers.authorization',
          '*.SecretKey',
          'SecretKey',
          '*.secretKey',
          'secretKey',
          '*.Password',
        ],
        censor: '*****',
      },
    },
    destination ?? pino.destination({ fd: 2, sync: false }),
  );
}
