import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Structured logs. Personal data and secrets never reach a log line: these paths are
 * redacted as a second line of defence; the first is not logging them at all.
 */
export const REDACT_PATHS = [
  'password',
  '*.password',
  'newPassword',
  '*.newPassword',
  'token',
  '*.token',
  'totp',
  '*.totp',
  'code',
  '*.code',
  'credentials',
  '*.credentials',
  'streamUrl',
  '*.streamUrl',
  'req.headers.cookie',
  'req.headers.authorization',
  'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
];

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const options = { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  return destination ? pino(options, destination as pino.DestinationStream) : pino(options);
}
