/**
 * The canonical request and string to sign of Signature Version 4, in the two flavours the OUTSCALE API
 * accepts. Both follow the AWS SigV4 specification
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html); OUTSCALE only renames
 * the algorithm, the date header, the key prefix and the scope terminator
 * (https://docs.outscale.com/en/userguide/About-Signatures-of-API-Requests.html):
 *
 *   algorithm          key prefix  scope                                  date header
 *   OSC4-HMAC-SHA256   "OSC4"      DATE/REGION/api/osc4_request           X-Osc-Date
 *   AWS4-HMAC-SHA256   "AWS4"      DATE/REGION/SERVICE/aws4_request       X-Amz-Date
 *
 *   CanonicalRequest = Method \n CanonicalURI \n CanonicalQuery \n CanonicalHeaders \n \n SignedHeaders \n HexSha256(body)
 *   StringToSign     = Algorithm \n YYYYMMDDTHHMMSSZ \n Scope \n HexSha256(CanonicalRequest)
 *   Signature        = Hex(HMAC(HMAC(HMAC(HMAC(HMAC(prefix + secret, DATE), REGION), SERVICE), terminator), StringToSign))
 *
 * Everything here is pure and synchronous (node:crypto), shared by the server (verify) and the clients (sign).
 */
import { createHmac } from 'node:crypto';
import { HmacSha256Key, sha256Hex } from './sha256.js';

export { sha256Hex };

export type SigningAlgorithm = 'OSC4-HMAC-SHA256' | 'AWS4-HMAC-SHA256';

export interface AlgorithmProfile {
  readonly algorithm: SigningAlgorithm;
  readonly keyPrefix: 'OSC4' | 'AWS4';
  readonly terminator: 'osc4_request' | 'aws4_request';
  /** Lowercase, as Node exposes it in `IncomingMessage.headers`. */
  readonly dateHeader: 'x-osc-date' | 'x-amz-date';
  /** As clients write it on the wire (curl, the OUTSCALE SDKs). */
  readonly dateHeaderWireName: 'X-Osc-Date' | 'X-Amz-Date';
  /** OSC4 is bound to service `api`; AWS4 takes the service from the scope. */
  readonly fixedService: string | undefined;
}

export const ALGORITHM_PROFILES: Readonly<Record<SigningAlgorithm, AlgorithmProfile>> = Object.freeze({
  'OSC4-HMAC-SHA256': Object.freeze({
    algorithm: 'OSC4-HMAC-SHA256',
    keyPrefix: 'OSC4',
    terminator: 'osc4_request',
    dateHeader: 'x-osc-date',
    dateHeaderWireName: 'X-Osc-Date',
    fixedService: 'api',
  }),
  'AWS4-HMAC-SHA256': Object.freeze({
    algorithm: 'AWS4-HMAC-SHA256',
    keyPrefix: 'AWS4',
    terminator: 'aws4_request',
    dateHeader: 'x-amz-date',
    dateHeaderWireName: 'X-Amz-Date',
    fixedService: undefined,
  }),
} as const);

export function isSigningAlgorithm(value: string): value is SigningAlgorithm {
  return value === 'OSC4-HMAC-SHA256' || value === 'AWS4-HMAC-SHA256';
}

/** SHA-256 of the empty string, the payload hash of a request without a body. */
export const EMPTY_PAYLOAD_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export function credentialScope(algorithm: SigningAlgorithm, date: string, region: string, service: string): string {
  return `${date}/${region}/${service}/${ALGORITHM_PROFILES[algorithm].terminator}`;
}

/** `20150830T123600Z` from epoch milliseconds, the form of X-Osc-Date and X-Amz-Date. */
export function formatSigningDate(epochMs: number): string {
  // toISOString: 2015-08-30T12:36:00.000Z -> 20150830T123600Z
  const iso = new Date(epochMs).toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
}

const SIGNING_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/**
 * Epoch milliseconds of a `YYYYMMDDTHHMMSSZ` date, or undefined when the text is not exactly that or names
 * a date that does not exist (20150230T000000Z is rejected, not rolled over).
 */
export function parseSigningDate(text: string): number | undefined {
  if (text.length !== 16) return undefined;
  const m = SIGNING_DATE.exec(text);
  if (m === null) return undefined;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6]);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  // Date.UTC rolls 30 February over to March: a mismatch on the way back means the day does not exist.
  if (new Date(ms).getUTCDate() !== day) return undefined;
  return ms;
}

// ---- Canonical URI -------------------------------------------------------------------------------------

const REPEATED_SLASHES = /\/{2,}/g;
const ENCODED_SLASH = /%2F/g;
const RFC3986_EXTRA = /[!'()*]/g;
/** Characters that SigV4's URI encoding never touches: RFC 3986 unreserved plus the segment separator. */
const ONLY_UNRESERVED_PATH = /^[A-Za-z0-9\-._~/]*$/;

function percentEncodeChar(c: string): string {
  return `%${c.charCodeAt(0).toString(16).toUpperCase()}`;
}

/**
 * SigV4 URI encoding (RFC 3986 section 2.3: everything but A-Z a-z 0-9 - . _ ~ is percent-encoded, in
 * upper-case hex). encodeURIComponent leaves `!'()*` alone, so they are encoded on top.
 * Throws URIError on a lone surrogate, as encodeURIComponent does.
 */
export function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(RFC3986_EXTRA, percentEncodeChar);
}

/** Repeated slashes collapsed: `//api/latest/ReadApiLogs` -> `/api/latest/ReadApiLogs`. */
export function canonicalUri(path: string): string {
  if (path === '') return '/';
  return path.includes('//') ? path.replace(REPEATED_SLASHES, '/') : path;
}

/**
 * The canonical URIs real clients compute for a path as it arrived on the wire, most common first,
 * without duplicates. For a plain path such as `/api/v1/ReadApiLogs` all three are the same string.
 *
 * 1. Repeated slashes collapsed, each segment kept as sent (encoded once). osc-cli sends
 *    `//api/latest/ReadApiLogs` and signs `/api/latest/ReadApiLogs`; this is also what signRequest signs.
 * 2. The path exactly as sent. curl 7.88 `--aws-sigv4` signs its request path verbatim: no slash
 *    collapsing, no re-encoding (with --path-as-is it keeps `//` and dot segments too).
 * 3. Slashes collapsed and each segment URI-encoded a second time, the rule the SigV4 specification gives
 *    for services other than S3: aws4fetch (`encodeURIComponent(url.pathname)`, which the official OUTSCALE
 *    TypeScript SDK uses) and @smithy/signature-v4 (`uriEscapePath: true`) both sign `/a%20b` as `/a%2520b`.
 *    Smithy also drops dot segments, but a fetch URL never carries any, so the result is the same.
 *
 * Every candidate is a function of the received path alone, so accepting any of them never lets a
 * signature cover a different resource: at most `//x` and `/x` share one, which the router treats alike.
 */
export function canonicalUriCandidates(path: string): string[] {
  const collapsed = canonicalUri(path);
  if (ONLY_UNRESERVED_PATH.test(collapsed)) {
    return collapsed === path ? [collapsed] : [collapsed, path];
  }
  const candidates = [collapsed];
  if (path !== collapsed) candidates.push(path);
  let doubleEncoded: string | undefined;
  try {
    doubleEncoded = uriEncode(collapsed).replace(ENCODED_SLASH, '/');
  } catch {
    // A lone surrogate cannot be UTF-8 encoded: no client can have signed that form.
    doubleEncoded = undefined;
  }
  if (doubleEncoded !== undefined && !candidates.includes(doubleEncoded)) candidates.push(doubleEncoded);
  return candidates;
}

// ---- Canonical query string ----------------------------------------------------------------------------

/**
 * The sorted canonical query string of the SigV4 specification: parameters parsed as
 * application/x-www-form-urlencoded (the WHATWG URLSearchParams parser, as aws4fetch does, so `+` is a
 * space and malformed escapes are kept), names and values URI-encoded once, parameters without a name
 * dropped, sorted by encoded name then encoded value, `name=value` joined with `&` (a parameter without a
 * value becomes `name=`).
 */
export function canonicalQueryString(rawQuery: string): string {
  if (rawQuery === '') return '';
  const pairs: Array<[string, string]> = [];
  for (const [name, value] of new URLSearchParams(rawQuery)) {
    if (name === '') continue;
    // URLSearchParams yields well-formed strings (lone surrogates become U+FFFD), so uriEncode cannot throw.
    pairs.push([uriEncode(name), uriEncode(value)]);
  }
  pairs.sort(comparePairs);
  let out = '';
  for (const [name, value] of pairs) {
    out += out === '' ? `${name}=${value}` : `&${name}=${value}`;
  }
  return out;
}

function comparePairs(a: [string, string], b: [string, string]): number {
  // Encoded strings are ASCII, so code-unit order is the byte order the specification asks for.
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  if (a[1] !== b[1]) return a[1] < b[1] ? -1 : 1;
  return 0;
}

/**
 * The canonical query strings real clients compute: the sorted form above (aws4fetch, @smithy, curl 8.3+)
 * and the query exactly as sent (curl 7.88 signs its query string verbatim, unsorted). One entry when
 * they agree, which is always the case for an already sorted, already encoded query.
 */
export function canonicalQueryCandidates(rawQuery: string): string[] {
  const sorted = canonicalQueryString(rawQuery);
  return sorted === rawQuery ? [sorted] : [sorted, rawQuery];
}

/** `/path?query` as in `IncomingMessage.url`, split at the first `?`. */
export function splitPathAndQuery(target: string): { path: string; query: string } {
  const q = target.indexOf('?');
  if (q < 0) return { path: target, query: '' };
  return { path: target.slice(0, q), query: target.slice(q + 1) };
}

// ---- Canonical headers ---------------------------------------------------------------------------------

const WHITESPACE_RUN = /[ \t\r\n]+/g;

/**
 * A header value as SigV4 signs it: surrounding whitespace trimmed and each run of whitespace inside
 * collapsed to one space; several values (repeated header lines) joined with a comma.
 */
export function canonicalHeaderValue(value: string | readonly string[]): string {
  if (typeof value === 'string') return value.replace(WHITESPACE_RUN, ' ').trim();
  let out = '';
  for (let i = 0; i < value.length; i += 1) {
    const one = (value[i] ?? '').replace(WHITESPACE_RUN, ' ').trim();
    out += i === 0 ? one : `,${one}`;
  }
  return out;
}

export interface CanonicalRequestParts {
  method: string;
  canonicalUri: string;
  canonicalQuery: string;
  /** `name:value\n` for each signed header, in SignedHeaders order (see buildCanonicalHeaders). */
  canonicalHeaders: string;
  /** Lowercase names joined with `;`, exactly as in the Authorization header. */
  signedHeaders: string;
  payloadSha256Hex: string;
}

/**
 * The canonical headers block from the names listed in SignedHeaders, in that order. Returns undefined
 * when a listed header is absent from the request (`lookup` returns undefined).
 */
export function buildCanonicalHeaders(
  signedHeaderNames: readonly string[],
  lookup: (lowercaseName: string) => string | readonly string[] | undefined,
): string | undefined {
  let out = '';
  for (const name of signedHeaderNames) {
    const value = lookup(name);
    if (value === undefined) return undefined;
    out += `${name}:${canonicalHeaderValue(value)}\n`;
  }
  return out;
}

export function buildCanonicalRequest(parts: CanonicalRequestParts): string {
  return (
    `${parts.method}\n${parts.canonicalUri}\n${parts.canonicalQuery}\n` +
    `${parts.canonicalHeaders}\n${parts.signedHeaders}\n${parts.payloadSha256Hex}`
  );
}

export function buildStringToSign(
  algorithm: SigningAlgorithm,
  signingDate: string,
  scope: string,
  canonicalRequest: string,
): string {
  return `${algorithm}\n${signingDate}\n${scope}\n${sha256Hex(canonicalRequest)}`;
}

// ---- Signing key and signature -------------------------------------------------------------------------

/** The HMAC chain: prefix + secret -> date -> region -> service -> terminator. */
export function deriveSigningKey(
  algorithm: SigningAlgorithm,
  secretKey: string,
  date: string,
  region: string,
  service: string,
): Buffer {
  const profile = ALGORITHM_PROFILES[algorithm];
  const kDate = createHmac('sha256', profile.keyPrefix + secretKey).update(date).digest();
  const kRegion = createHmac('sha256', kDate).update(region).digest();
  const kService = createHmac('sha256', kRegion).update(service).digest();
  return createHmac('sha256', kService).update(profile.terminator).digest();
}

/** The raw 32-byte HMAC; hex-encode it for the Authorization header. */
export function computeSignature(signingKey: Uint8Array | HmacSha256Key, stringToSign: string): Buffer {
  if (signingKey instanceof HmacSha256Key) return signingKey.digest(stringToSign);
  return createHmac('sha256', signingKey).update(stringToSign).digest();
}

/**
 * A bounded map of derived signing keys, so that a busy access key costs one HMAC per request rather than
 * five. Keyed by (algorithm, date, region, service, secret), length-prefixed so that no two inputs share
 * a key. The secret is part of the key as it is: hashing it first cost one more SHA-256 per request,
 * and it protected nothing, since the caller holds the same secret in memory to pass it here. Least
 * recently used entries leave first.
 */
export class SigningKeyCache {
  readonly #maxEntries: number;
  readonly #keys = new Map<string, HmacSha256Key>();

  constructor(maxEntries = 1024) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError('maxEntries must be a positive integer');
    this.#maxEntries = maxEntries;
  }

  get size(): number {
    return this.#keys.size;
  }

  signingKey(algorithm: SigningAlgorithm, secretKey: string, date: string, region: string, service: string): Buffer {
    return this.signer(algorithm, secretKey, date, region, service).key;
  }

  /** The derived key ready to sign (its HMAC pads computed once): what a verifier uses per request. */
  signer(algorithm: SigningAlgorithm, secretKey: string, date: string, region: string, service: string): HmacSha256Key {
    const id = `${algorithm}\n${date.length}:${date}${region.length}:${region}${service.length}:${service}\n${secretKey}`;
    const cached = this.#keys.get(id);
    if (cached !== undefined) {
      this.#keys.delete(id);
      this.#keys.set(id, cached);
      return cached;
    }
    const key = new HmacSha256Key(deriveSigningKey(algorithm, secretKey, date, region, service));
    if (this.#keys.size >= this.#maxEntries) {
      const oldest = this.#keys.keys().next();
      if (oldest.done !== true) this.#keys.delete(oldest.value);
    }
    this.#keys.set(id, key);
    return key;
  }

  clear(): void {
    this.#keys.clear();
  }
}
