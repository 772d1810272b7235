/**
 * What can go wrong in a client command, each a one-line message for the person at the terminal.
 * `exitCode` follows the `oms` convention: 2 for a wrong call or configuration (a missing profile, a flag
 * that is not JSON), 1 for a refused or failed operation (unreachable endpoint, 401, an API error).
 */
export type ClientErrorKind =
  | 'Usage'
  | 'Profile'
  | 'Unreachable'
  | 'Timeout'
  | 'NotJson'
  | 'Unauthorized'
  | 'Api'
  | 'Archive'
  | 'Output';

const EXIT_CODES: Record<ClientErrorKind, number> = {
  Usage: 2,
  Profile: 2,
  Unreachable: 1,
  Timeout: 1,
  NotJson: 1,
  Unauthorized: 1,
  Api: 1,
  Archive: 1,
  Output: 1,
};

export class ClientError extends Error {
  override name = 'ClientError';
  readonly kind: ClientErrorKind;
  readonly exitCode: number;

  constructor(kind: ClientErrorKind, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.exitCode = EXIT_CODES[kind];
  }
}

/** The OUTSCALE error shape, as the API answers it (SPEC section 6). */
export interface OscErrorBody {
  Errors?: { Code?: string; Type?: string; Details?: string }[];
  ResponseContext?: { RequestId?: string };
}

/**
 * The API answered with an error: the whole body is kept so that `oms api` can print it unchanged,
 * and tail/archive can tell throttling (429) and unavailability (503) from a refusal.
 */
export class ApiCallError extends ClientError {
  override name = 'ApiCallError';
  readonly status: number;
  readonly body: unknown;
  readonly retryAfterSec: number | undefined;

  constructor(callName: string, status: number, body: unknown, retryAfterSec: number | undefined) {
    super(status === 401 ? 'Unauthorized' : 'Api', describeApiError(callName, status, body));
    this.status = status;
    this.body = body;
    this.retryAfterSec = retryAfterSec;
  }
}

function describeApiError(callName: string, status: number, body: unknown): string {
  const first = (body as OscErrorBody | undefined)?.Errors?.[0];
  const what = first === undefined ? '' : ` ${first.Code ?? '?'} ${first.Type ?? ''}${first.Details ? `: ${first.Details}` : ''}`;
  const hint = status === 401 ? ' (check the access key, the secret key and the region of the profile)' : '';
  return `${callName} answered HTTP ${status}${what}${hint}`.replace(/\s+/g, ' ');
}

/** Whether a failure is worth another try after a pause: throttling, unavailability, the network. */
export function isRetryable(err: unknown): boolean {
  if (err instanceof ApiCallError) return err.status === 429 || err.status === 503 || err.status === 502 || err.status === 504;
  if (err instanceof ClientError) return err.kind === 'Unreachable' || err.kind === 'Timeout';
  return false;
}
