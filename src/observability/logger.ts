import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * How long a log line may wait in memory before it is written. Lines are written in groups of at
 * least LOG_GROUP_BYTES or every LOG_FLUSH_MS: a write per line (one system call and a trip through
 * libuv's thread pool each) was most of the 75 µs a per-call line cost the gateway under load
 * (BENCHMARKS.md). Whatever ends the process through its exit event (`oms serve`'s shutdown on
 * SIGINT or SIGTERM, process.exit, an uncaught error) still writes what is pending, since pino flushes
 * on exit; only a kill -9 can lose the last LOG_FLUSH_MS of lines. The audit records never go through
 * this path.
 */
const LOG_FLUSH_MS = 200;
const LOG_GROUP_BYTES = 8_192;

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
    destination ?? pino.destination({ fd: 2, sync: false, minLength: LOG_GROUP_BYTES, periodicFlush: LOG_FLUSH_MS }),
  );
}

/** The fields of a per-call access line: no header, no body, no query string. */
export interface AccessLine {
  requestId: string;
  method: string;
  /** The path without its query string (a presigned URL carries a signature there). */
  path: string;
  status: number;
  durationUs: number;
  call: string | undefined;
  kind: string;
  recorded: boolean;
}

/**
 * The writer of per-call access lines, at `debug`, on the same destination as `logger`. Not at `info`:
 * every recorded call is already in the store (ReadApiLogs is the access log) and counted in
 * /metrics, and a line per call is thousands of lines a second on a busy gateway; refusals and
 * upstream failures keep their own lines at info and warn. It skips the redaction pass, which costs
 * more than the rest of the line (15 against 6.5 µs) and could never change it: redaction matches key
 * names (authorization, SecretKey, Password...), and an AccessLine has none of them.
 */
export function createAccessLog(logger: Logger): (line: AccessLine, message: string) => void {
  const unredacted = logger.child({}, { redact: { paths: [] } });
  return (line, message) => unredacted.debug(line, message);
}
