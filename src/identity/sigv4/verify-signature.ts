/**
 * Server side of request signing: parse the Authorization header, then check a received request against
 * the secret of the access key it names. Pure: the caller looks the key up, reads the clock and decides
 * what a failure costs (lockout), so this file needs neither a store nor a timer.
 *
 *   OSC4-HMAC-SHA256 Credential=AKID/20150830/eu-west-2/api/osc4_request, SignedHeaders=host;x-osc-date, Signature=<64 hex>
 *   \______________/            \__/ \______/ \_______/ \_/ \__________/                \_______________/           \______/
 *      algorithm          accessKeyId   date    region service terminator                  signedHeaders             signature
 *
 * Every failure reason is a fixed sentence: it never echoes client input, the secret, the expected
 * signature or the canonical request, so the API may show it to callers as is.
 */
import { timingSafeEqual } from 'node:crypto';
import {
  ALGORITHM_PROFILES,
  EMPTY_PAYLOAD_SHA256,
  SigningKeyCache,
  buildCanonicalHeaders,
  buildStringToSign,
  canonicalQueryCandidates,
  canonicalUriCandidates,
  computeSignature,
  credentialScope,
  deriveSigningKey,
  isSigningAlgorithm,
  parseSigningDate,
  sha256Hex,
  splitPathAndQuery,
} from './canonical-request.js';
import type { SigningAlgorithm } from './canonical-request.js';

export interface ParsedAuthorization {
  algorithm: SigningAlgorithm;
  accessKeyId: string;
  /** YYYYMMDD, the credential scope date. */
  date: string;
  region: string;
  service: string;
  /** The last scope element as sent; verifySignature checks it against the algorithm. */
  terminator: string;
  /** Lowercase names in the order the client listed them. */
  signedHeaders: string[];
  /** 64 lowercase hex digits. */
  signature: string;
}

export type AuthorizationFailureCode = 'MissingAuthorization' | 'MalformedAuthorization' | 'UnsupportedAlgorithm';

export type VerifyFailureCode =
  | AuthorizationFailureCode
  | 'ScopeMismatch'
  | 'HostNotSigned'
  | 'MissingDate'
  | 'DateNotSigned'
  | 'MalformedDate'
  | 'DateScopeMismatch'
  | 'ClockSkew'
  | 'MissingSignedHeader'
  | 'UnsignedPayload'
  | 'PayloadHashMismatch'
  | 'SignatureMismatch';

export type ParseAuthorizationResult =
  | { ok: true; authorization: ParsedAuthorization }
  | { ok: false; code: AuthorizationFailureCode; reason: string };

export type VerifyResult = { ok: true } | { ok: false; code: VerifyFailureCode; reason: string };

/** A request as the server received it. */
export interface ReceivedRequest {
  method: string;
  /** The request target as received, query string included (`IncomingMessage.url`). */
  path: string;
  /** Lowercase names, as `IncomingMessage.headers`. */
  headers: Record<string, string | string[] | undefined>;
  body: Uint8Array;
}

export interface VerifyOptions {
  /** Largest distance allowed between the signed date and `nowMs` (SPEC section 5: 5 minutes). */
  maxSkewMs?: number;
  /** The header already parsed (the caller parsed it to find the access key); parsed again otherwise. */
  authorization?: ParsedAuthorization;
  /** Where derived signing keys are kept; a module-wide cache by default, `null` to derive every time. */
  signingKeyCache?: SigningKeyCache | null;
}

export const DEFAULT_MAX_SKEW_MS = 5 * 60 * 1000;

const defaultSigningKeyCache = new SigningKeyCache(1024);

// ---- Authorization header ------------------------------------------------------------------------------

// Bounds keep a hostile header cheap to reject; real headers are about 200 characters.
const MAX_AUTHORIZATION_CHARS = 4096;
const MAX_SIGNED_HEADERS = 64;

const ACCESS_KEY_ID = /^[A-Za-z0-9]{1,128}$/;
const SCOPE_DATE = /^\d{8}$/;
const SCOPE_WORD = /^[A-Za-z0-9_-]{1,64}$/;
// RFC 9110 section 5.6.2 token, lowercase as SigV4 requires.
const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]{1,128}$/;
const SIGNATURE_HEX = /^[0-9a-fA-F]{64}$/;

function parseFailure(code: AuthorizationFailureCode, reason: string): ParseAuthorizationResult {
  return { ok: false, code, reason };
}

const MISSING_AUTHORIZATION = parseFailure(
  'MissingAuthorization',
  'The request is not signed: the Authorization header is missing.',
);
const UNSUPPORTED_ALGORITHM = parseFailure(
  'UnsupportedAlgorithm',
  'The Authorization header must use OSC4-HMAC-SHA256 or AWS4-HMAC-SHA256.',
);
const MALFORMED = parseFailure(
  'MalformedAuthorization',
  'The Authorization header is malformed: expected "ALGORITHM Credential=..., SignedHeaders=..., Signature=...".',
);
const MALFORMED_CREDENTIAL = parseFailure(
  'MalformedAuthorization',
  'The Authorization header is malformed: Credential must be ACCESS_KEY/YYYYMMDD/REGION/SERVICE/TERMINATOR.',
);
const MALFORMED_SIGNED_HEADERS = parseFailure(
  'MalformedAuthorization',
  'The Authorization header is malformed: SignedHeaders must list distinct lowercase header names separated by ";".',
);
const MALFORMED_SIGNATURE = parseFailure(
  'MalformedAuthorization',
  'The Authorization header is malformed: Signature must be 64 hexadecimal digits.',
);

/**
 * Parses `ALGORITHM Credential=..., SignedHeaders=..., Signature=...`. The three components may come in
 * any order, separated by commas with optional spaces (curl, aws4fetch and @smithy write `, `). Never
 * throws, whatever `headerValue` is.
 */
export function parseAuthorization(headerValue: unknown): ParseAuthorizationResult {
  if (headerValue === undefined || headerValue === '') return MISSING_AUTHORIZATION;
  if (typeof headerValue !== 'string' || headerValue.length > MAX_AUTHORIZATION_CHARS) return MALFORMED;
  const text = headerValue.trim();
  const space = text.indexOf(' ');
  const algorithm = space < 0 ? text : text.slice(0, space);
  if (!isSigningAlgorithm(algorithm)) return space < 0 && text === '' ? MISSING_AUTHORIZATION : UNSUPPORTED_ALGORITHM;
  if (space < 0) return MALFORMED;

  let credential: string | undefined;
  let signedHeadersText: string | undefined;
  let signature: string | undefined;
  for (const rawPart of text.slice(space + 1).split(',')) {
    const part = rawPart.trim();
    const eq = part.indexOf('=');
    if (eq < 0) return MALFORMED;
    const name = part.slice(0, eq);
    const value = part.slice(eq + 1);
    if (name === 'Credential' && credential === undefined) credential = value;
    else if (name === 'SignedHeaders' && signedHeadersText === undefined) signedHeadersText = value;
    else if (name === 'Signature' && signature === undefined) signature = value;
    else return MALFORMED;
  }
  if (credential === undefined || signedHeadersText === undefined || signature === undefined) return MALFORMED;

  const scope = credential.split('/');
  if (scope.length !== 5) return MALFORMED_CREDENTIAL;
  const [accessKeyId, date, region, service, terminator] = scope as [string, string, string, string, string];
  if (
    !ACCESS_KEY_ID.test(accessKeyId) ||
    !SCOPE_DATE.test(date) ||
    !SCOPE_WORD.test(region) ||
    !SCOPE_WORD.test(service) ||
    !SCOPE_WORD.test(terminator)
  ) {
    return MALFORMED_CREDENTIAL;
  }

  const signedHeaders = signedHeadersText.split(';');
  if (signedHeaders.length > MAX_SIGNED_HEADERS) return MALFORMED_SIGNED_HEADERS;
  for (let i = 0; i < signedHeaders.length; i += 1) {
    const name = signedHeaders[i] as string;
    if (!HEADER_NAME.test(name) || signedHeaders.indexOf(name) !== i) return MALFORMED_SIGNED_HEADERS;
  }

  if (!SIGNATURE_HEX.test(signature)) return MALFORMED_SIGNATURE;

  return {
    ok: true,
    authorization: {
      algorithm,
      accessKeyId,
      date,
      region,
      service,
      terminator,
      signedHeaders,
      signature: signature.toLowerCase(),
    },
  };
}

// ---- Verification --------------------------------------------------------------------------------------

function failure(code: VerifyFailureCode, reason: string): VerifyResult {
  return { ok: false, code, reason };
}

const OK: VerifyResult = Object.freeze({ ok: true });
const SCOPE_MISMATCH_OSC4 = failure(
  'ScopeMismatch',
  'With OSC4-HMAC-SHA256 the credential scope must be DATE/REGION/api/osc4_request.',
);
const SCOPE_MISMATCH_AWS4 = failure(
  'ScopeMismatch',
  'With AWS4-HMAC-SHA256 the credential scope must end with aws4_request.',
);
const HOST_NOT_SIGNED = failure('HostNotSigned', 'The Host header must be listed in SignedHeaders.');
const MISSING_DATE = failure('MissingDate', 'The request has no X-Osc-Date (or X-Amz-Date) header.');
const DATE_NOT_SIGNED = failure('DateNotSigned', 'The X-Osc-Date (or X-Amz-Date) header must be listed in SignedHeaders.');
const MALFORMED_DATE = failure('MalformedDate', 'The X-Osc-Date (or X-Amz-Date) header must be a date of the form YYYYMMDDTHHMMSSZ.');
const DATE_SCOPE_MISMATCH = failure(
  'DateScopeMismatch',
  'The date in the credential scope is not the date of the X-Osc-Date (or X-Amz-Date) header.',
);
const MISSING_SIGNED_HEADER = failure('MissingSignedHeader', 'A header listed in SignedHeaders is missing from the request.');
const UNSIGNED_PAYLOAD = failure('UnsignedPayload', 'Unsigned payloads are not accepted: sign the SHA-256 of the body.');
const PAYLOAD_HASH_MISMATCH = failure('PayloadHashMismatch', 'The content SHA-256 header does not match the request body.');
const SIGNATURE_MISMATCH = failure(
  'SignatureMismatch',
  'The request signature does not match: check the secret key and how the request is signed.',
);

const clockSkewFailures = new Map<number, VerifyResult>();
function clockSkewFailure(maxSkewMs: number): VerifyResult {
  let cached = clockSkewFailures.get(maxSkewMs);
  if (cached === undefined) {
    const amount =
      maxSkewMs % 60_000 === 0 ? `${maxSkewMs / 60_000} minutes` : `${Math.round(maxSkewMs / 1000)} seconds`;
    cached = failure('ClockSkew', `The request date is more than ${amount} away from the server clock.`);
    if (clockSkewFailures.size < 16) clockSkewFailures.set(maxSkewMs, cached);
  }
  return cached;
}

const PAYLOAD_HASH_HEADERS = ['x-osc-content-sha256', 'x-amz-content-sha256'] as const;
const HEX_SHA256 = /^[0-9a-fA-F]{64}$/;

function singleHeader(value: string | string[] | undefined): string | undefined {
  if (value === undefined || typeof value === 'string') return value;
  return value.length === 1 ? value[0] : value.join(',');
}

/**
 * Checks, in order: the header parses; the scope fits the algorithm; Host is signed; the date header
 * (X-Osc-Date for OSC4, X-Amz-Date for AWS4, or the other one if that is the one the client signed) is
 * present, signed, well formed, on the scope date and within `maxSkewMs` of `nowMs`; any content SHA-256
 * header equals the body's hash; and finally the signature, compared in constant time against each
 * canonical form real clients produce (canonicalUriCandidates, canonicalQueryCandidates).
 */
export function verifySignature(
  request: ReceivedRequest,
  secretKey: string,
  nowMs: number,
  options: VerifyOptions = {},
): VerifyResult {
  let auth = options.authorization;
  if (auth === undefined) {
    const parsed = parseAuthorization(singleHeader(request.headers['authorization']));
    if (!parsed.ok) return parsed;
    auth = parsed.authorization;
  }
  const profile = ALGORITHM_PROFILES[auth.algorithm];

  // OUTSCALE: the OSC4 scope is DATE/REGION/api/osc4_request; AWS4 keeps SigV4's aws4_request terminator.
  if (auth.terminator !== profile.terminator) {
    return auth.algorithm === 'OSC4-HMAC-SHA256' ? SCOPE_MISMATCH_OSC4 : SCOPE_MISMATCH_AWS4;
  }
  if (profile.fixedService !== undefined && auth.service !== profile.fixedService) return SCOPE_MISMATCH_OSC4;

  const signedHeaders = auth.signedHeaders;
  // Host binds the signature to this endpoint (SigV4 makes it mandatory).
  if (!signedHeaders.includes('host')) return HOST_NOT_SIGNED;

  const otherDateHeader = profile.dateHeader === 'x-osc-date' ? 'x-amz-date' : 'x-osc-date';
  let dateHeader: string;
  if (signedHeaders.includes(profile.dateHeader)) dateHeader = profile.dateHeader;
  else if (signedHeaders.includes(otherDateHeader)) dateHeader = otherDateHeader;
  else {
    const present = request.headers[profile.dateHeader] ?? request.headers[otherDateHeader];
    return present === undefined ? MISSING_DATE : DATE_NOT_SIGNED;
  }
  const dateValue = singleHeader(request.headers[dateHeader]);
  if (dateValue === undefined) return MISSING_DATE;
  const signingDate = dateValue.trim();
  const signedAtMs = parseSigningDate(signingDate);
  if (signedAtMs === undefined) return MALFORMED_DATE;
  if (signingDate.slice(0, 8) !== auth.date) return DATE_SCOPE_MISMATCH;
  const maxSkewMs = options.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
  if (!(Math.abs(signedAtMs - nowMs) <= maxSkewMs)) return clockSkewFailure(maxSkewMs);

  // The payload line is always the real body hash: a content hash header, signed or not, must agree with
  // it, and UNSIGNED-PAYLOAD (or any streaming marker) is refused since the body is small and buffered.
  const payloadSha256Hex =
    request.body.byteLength === 0 ? EMPTY_PAYLOAD_SHA256 : sha256Hex(request.body);
  for (const name of PAYLOAD_HASH_HEADERS) {
    const claimed = singleHeader(request.headers[name]);
    if (claimed === undefined) continue;
    const value = claimed.trim();
    if (!HEX_SHA256.test(value)) {
      return value === 'UNSIGNED-PAYLOAD' || value.startsWith('STREAMING-') ? UNSIGNED_PAYLOAD : PAYLOAD_HASH_MISMATCH;
    }
    if (value.toLowerCase() !== payloadSha256Hex) return PAYLOAD_HASH_MISMATCH;
  }

  const headers = request.headers;
  const canonicalHeaders = buildCanonicalHeaders(signedHeaders, (name) => headers[name]);
  if (canonicalHeaders === undefined) return MISSING_SIGNED_HEADER;

  const cache = options.signingKeyCache === undefined ? defaultSigningKeyCache : options.signingKeyCache;
  const signingKey =
    cache === null
      ? deriveSigningKey(auth.algorithm, secretKey, auth.date, auth.region, auth.service)
      : cache.signer(auth.algorithm, secretKey, auth.date, auth.region, auth.service);
  const scope = credentialScope(auth.algorithm, auth.date, auth.region, auth.service);
  const provided = Buffer.from(auth.signature, 'hex');
  const { path, query } = splitPathAndQuery(request.path);
  const head = `${request.method}\n`;
  const tail = `\n${canonicalHeaders}\n${signedHeaders.join(';')}\n${payloadSha256Hex}`;

  let matched = false;
  for (const uri of canonicalUriCandidates(path)) {
    for (const canonicalQuery of canonicalQueryCandidates(query)) {
      const canonicalRequest = `${head}${uri}\n${canonicalQuery}${tail}`;
      const expected = computeSignature(signingKey, buildStringToSign(auth.algorithm, signingDate, scope, canonicalRequest));
      // Both are 32-byte HMAC-SHA256 outputs (the parser only lets 64 hex digits through).
      if (expected.length === provided.length && timingSafeEqual(expected, provided)) matched = true;
    }
  }
  return matched ? OK : SIGNATURE_MISMATCH;
}
