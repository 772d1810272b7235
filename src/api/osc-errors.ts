import { isOmsError, type ErrorKind } from '../domain/oms-error.js';

/**
 * The one place that turns errors into the OUTSCALE error shape (SPEC section 6):
 *   {"Errors":[{"Code":"…","Type":"…","Details":"…"}],"ResponseContext":{"RequestId":"…"}}
 * The table is data; `satisfies Record<ErrorKind, …>` makes a new kind without a row a compile error.
 */
export interface OscErrorRow {
  status: number;
  code: string;
  type: string;
}

export const OSC_ERRORS = {
  UnknownParameter: { status: 400, code: '3001', type: 'InvalidParameter' },
  InvalidParameterValue: { status: 400, code: '4045', type: 'InvalidParameterValue' },
  InvalidPageToken: { status: 400, code: '4078', type: 'InvalidParameterValue' },
  AuthenticationFailed: { status: 401, code: '1', type: 'AccessDenied' },
  KeyLockedOut: { status: 401, code: '5', type: 'AccessDenied' },
  UnknownCall: { status: 404, code: '12000', type: 'InvalidAction' },
  RequestTooLarge: { status: 413, code: '4045', type: 'InvalidParameterValue' },
  Throttled: { status: 429, code: '10', type: 'RequestLimitExceeded' },
  Internal: { status: 500, code: '2000', type: 'InternalError' },
  StoreUnavailable: { status: 503, code: '2001', type: 'ServiceUnavailable' },
  // The gateway's own answers when the upstream API gives none (SPEC section 8). The OUTSCALE error
  // list has no code of its own for a proxy failure; 2001 ServiceUnavailable is the nearest, and the
  // HTTP status tells the three apart (RFC 9110 sections 15.6.3 to 15.6.5).
  UpstreamFailed: { status: 502, code: '2001', type: 'ServiceUnavailable' },
  UpstreamUnreachable: { status: 503, code: '2001', type: 'ServiceUnavailable' },
  UpstreamTimeout: { status: 504, code: '2001', type: 'ServiceUnavailable' },
} as const satisfies Record<ErrorKind, OscErrorRow>;

export interface OscErrorBody {
  Errors: { Code: string; Type: string; Details: string }[];
  ResponseContext: { RequestId: string };
}

export interface MappedError {
  status: number;
  body: OscErrorBody;
  retryAfterSec: number | undefined;
  /** true for the bug branch: the caller must log the original error with its stack. */
  isBug: boolean;
}

/** Framework errors that are the caller's fault, by Fastify code. */
const FRAMEWORK_ERRORS: Readonly<Record<string, { kind: ErrorKind; details: string }>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { kind: 'RequestTooLarge', details: 'The request body is larger than 1048576 bytes.' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { kind: 'InvalidParameterValue', details: 'The Content-Length header does not match the body.' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { kind: 'InvalidParameterValue', details: 'The request body must be a JSON object.' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { kind: 'InvalidParameterValue', details: 'The Content-Type is not supported.' },
  FST_ERR_CTP_INVALID_TYPE: { kind: 'InvalidParameterValue', details: 'The Content-Type is not valid.' },
  FST_ERR_BAD_URL: { kind: 'InvalidParameterValue', details: 'The request URL is not valid.' },
  FST_ERR_ASYNC_CONSTRAINT: { kind: 'InvalidParameterValue', details: 'The request is not valid.' },
};

const BUG_DETAILS = 'An internal error occurred. Quote the RequestId when reporting it.';

export function oscErrorBody(kind: ErrorKind, details: string, requestId: string): OscErrorBody {
  const row = OSC_ERRORS[kind];
  return { Errors: [{ Code: row.code, Type: row.type, Details: details }], ResponseContext: { RequestId: requestId } };
}

/**
 * Three branches: our OmsError; a framework error caused by the request; anything else is a bug,
 * answered 500/2000 with fixed Details that reveal nothing (never err.message of an unknown error).
 * This function itself cannot throw.
 */
export function mapError(err: unknown, requestId: string): MappedError {
  try {
    if (isOmsError(err)) {
      const row = OSC_ERRORS[err.kind];
      return { status: row.status, body: oscErrorBody(err.kind, err.details, requestId), retryAfterSec: err.retryAfterSec, isBug: err.kind === 'Internal' };
    }
    const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
    const known = typeof code === 'string' && Object.hasOwn(FRAMEWORK_ERRORS, code) ? FRAMEWORK_ERRORS[code] : undefined;
    if (known !== undefined) {
      return { status: OSC_ERRORS[known.kind].status, body: oscErrorBody(known.kind, known.details, requestId), retryAfterSec: undefined, isBug: false };
    }
  } catch {
    // fall through to the floor
  }
  return { status: 500, body: oscErrorBody('Internal', BUG_DETAILS, requestId), retryAfterSec: undefined, isBug: true };
}
