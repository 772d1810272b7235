/**
 * Client side of request signing, for the `oms` CLI and the tests. It signs what verifySignature checks
 * first (collapsed path, sorted query) and, for the requests OMS clients send (a POST of JSON to
 * /api/v1/CallName), writes the very Authorization header curl 7.88 `--aws-sigv4 "osc:osc:REGION:api"`
 * writes: every header the caller passes is signed, plus Host and the date header, names sorted.
 * The two differ only where curl 7.88 departs from the SigV4 canonical form: it signs a doubled slash and a
 * query string not already sorted and encoded exactly as sent, where this collapses the slashes and
 * canonicalises the query (the verifier accepts both).
 */
import {
  ALGORITHM_PROFILES,
  buildCanonicalHeaders,
  buildCanonicalRequest,
  buildStringToSign,
  canonicalQueryString,
  canonicalUri,
  computeSignature,
  credentialScope,
  formatSigningDate,
  sha256Hex,
  SigningKeyCache,
} from './canonical-request.js';
import type { SigningAlgorithm } from './canonical-request.js';

export interface SignRequestInput {
  method: string;
  /** Absolute URL: the Host header and the canonical path and query come from it. */
  url: string | URL;
  /** Headers to send; each is signed. An Authorization or date header given here is replaced. */
  headers?: Record<string, string | undefined>;
  body?: string | Uint8Array;
  accessKeyId: string;
  secretKey: string;
  region: string;
  /** Default OSC4-HMAC-SHA256. */
  algorithm?: SigningAlgorithm;
  /** Default `api`, the only service OSC4-HMAC-SHA256 signs for. */
  service?: string;
  /** Signing time, a Date or epoch milliseconds; default the current time. */
  now?: Date | number;
}

const signingKeys = new SigningKeyCache(64);

/**
 * Returns the headers to send: the caller's headers (names as given, body headers such as Content-Type
 * untouched), `Host` when absent, `X-Osc-Date` (OSC4) or `X-Amz-Date` (AWS4) and `Authorization`.
 * Throws TypeError or RangeError on inputs no server could verify (a relative URL, OSC4 with a service
 * other than `api`, a header given twice under different cases).
 */
export function signRequest(input: SignRequestInput): Record<string, string> {
  const algorithm = input.algorithm ?? 'OSC4-HMAC-SHA256';
  const profile = ALGORITHM_PROFILES[algorithm];
  const service = input.service ?? 'api';
  if (profile.fixedService !== undefined && service !== profile.fixedService) {
    throw new RangeError(`${algorithm} signs for service "${profile.fixedService}" only`);
  }
  const url = typeof input.url === 'string' ? new URL(input.url) : input.url;
  const nowMs = input.now === undefined ? Date.now() : typeof input.now === 'number' ? input.now : input.now.getTime();
  const signingDate = formatSigningDate(nowMs);
  const date = signingDate.slice(0, 8);

  const out: Record<string, string> = {};
  const signed = new Map<string, string>();
  for (const [name, value] of Object.entries(input.headers ?? {})) {
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    if (lower === 'authorization' || lower === 'x-osc-date' || lower === 'x-amz-date') continue;
    if (signed.has(lower)) throw new TypeError(`header ${lower} is given twice`);
    signed.set(lower, value);
    out[name] = value;
  }
  if (!signed.has('host')) {
    signed.set('host', url.host);
    out['Host'] = url.host;
  }
  signed.set(profile.dateHeader, signingDate);
  out[profile.dateHeaderWireName] = signingDate;

  const signedHeaderNames = [...signed.keys()].sort();
  const signedHeaders = signedHeaderNames.join(';');
  const canonicalRequest = buildCanonicalRequest({
    method: input.method,
    canonicalUri: canonicalUri(url.pathname),
    canonicalQuery: canonicalQueryString(url.search.slice(1)),
    // Every name is in `signed`, so the block is always complete.
    canonicalHeaders: buildCanonicalHeaders(signedHeaderNames, (name) => signed.get(name)) ?? '',
    signedHeaders,
    payloadSha256Hex: sha256Hex(input.body ?? ''),
  });
  const scope = credentialScope(algorithm, date, input.region, service);
  const signingKey = signingKeys.signingKey(algorithm, input.secretKey, date, input.region, service);
  const signature = computeSignature(signingKey, buildStringToSign(algorithm, signingDate, scope, canonicalRequest));

  // Same layout as curl, aws4fetch and @smithy: ", " between the three components.
  out['Authorization'] =
    `${algorithm} Credential=${input.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, ` +
    `Signature=${signature.toString('hex')}`;
  return out;
}
