/**
 * Structured JSON logs (pino) with the fields every log pipeline here relies on: `service`,
 * `version`, `instance`, and per request `reqId` and `traceId`. Secrets are redacted by path so
 * a careless `log.info({ headers })` or `log.info({ body })` cannot leak them.
 */
import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/** Paths pino censors. Covers request headers and the usual secret-bearing body fields. */
export const REDACT_PATHS = [
  'authorization',
  'cookie',
  'password',
  'token',
  'accessToken',
  'refreshToken',
  'clientSecret',
  'client_secret',
  'secret',
  'headers.authorization',
  'headers.cookie',
  'headers["set-cookie"]',
  'headers["x-admin-token"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-admin-token"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.token',
  '*.accessToken',
  '*.refreshToken',
  '*.clientSecret',
  '*.client_secret',
  '*.secret',
  '*.authorization',
  '*.cookie',
];

export interface LoggerOptions {
  service: string;
  version: string;
  instance: string;
  level?: string;
  /** Defaults to stdout. Tests pass a stream to capture lines. */
  destination?: DestinationStream;
}

/** The root logger of a service process. Use `log.child({ reqId, traceId })` per request. */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: options.service, version: options.version, instance: options.instance },
      timestamp: pino.stdTimeFunctions.isoTime,
      messageKey: 'msg',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
