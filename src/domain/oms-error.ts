/**
 * The conditions OMS reports to callers. Modules throw OmsError with one of these kinds; the API layer
 * (api/osc-errors.ts) alone turns a kind into an HTTP status and the OUTSCALE error body.
 */
export type ErrorKind =
  | 'UnknownParameter'
  | 'InvalidParameterValue'
  | 'InvalidPageToken'
  | 'AuthenticationFailed'
  | 'KeyLockedOut'
  | 'UnknownCall'
  | 'RequestTooLarge'
  | 'Throttled'
  | 'StoreUnavailable'
  | 'UpstreamFailed'
  | 'UpstreamUnreachable'
  | 'UpstreamTimeout'
  | 'Internal';

export interface OmsErrorOptions {
  cause?: unknown;
  retryAfterSec?: number;
}

export class OmsError extends Error {
  readonly kind: ErrorKind;
  readonly details: string;
  readonly retryAfterSec: number | undefined;

  constructor(kind: ErrorKind, details: string, options: OmsErrorOptions = {}) {
    super(details, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OmsError';
    this.kind = kind;
    this.details = details;
    this.retryAfterSec = options.retryAfterSec;
  }
}

export function isOmsError(value: unknown): value is OmsError {
  return value instanceof OmsError;
}
