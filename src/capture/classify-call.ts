/**
 * Which requests passing through the gateway are OUTSCALE API calls, and so recorded (SPEC section 3).
 *
 * OUTSCALE API (`oapi`): POST `/api/v1/<Call>` or `/api/latest/<Call>`, or POST `/`, `/api/v1/`,
 * `/api/latest/` with `x-osc-target: OutscaleService.<Call>`. Whether `<Call>` is a known call is not
 * decided here: the upstream answers an unknown one 404, and 404 answers are not recorded.
 *
 * Not recorded, though still forwarded:
 * - Object Storage (OOS, S3 protocol): a host `oos.<region>.outscale.com` (or `osu.`, the service's
 *   former name, or `s3.`), path-style or with the bucket as a leading label; an AWS4 scope for `s3`;
 *   an S3 SigV2 `Authorization: AWS <key>:<signature>`.
 * - The AWS-compliant APIs, FCU, LBU, EIM, ICU, DirectLink and OKMS: an `Action` parameter in the query
 *   or in an `application/x-www-form-urlencoded` body (the EC2 Query protocol of FCU, LBU, EIM), an
 *   `x-amz-target` header (the JSON protocol of DirectLink, `OvertureService.*`, and OKMS), an AWS4
 *   scope for a service other than `api`, or their endpoints `fcu.`, `lbu.`, `eim.`, `icu.`,
 *   `directlink.`, `kms.`/`okms.` followed by the Region (docs.outscale.com, "API Endpoints Reference").
 *
 * Precedence, where the product docs leave room:
 * 1. Object Storage markers come first. S3 paths are free-form (`/<bucket>/<key>`), so a POST to a
 *    bucket named `api` can look exactly like `/api/v1/<Call>`; its host or signature scope says what
 *    it is.
 * 2. Then the OUTSCALE API shape. The AWS-compliant services never use `/api/v1/<Call>` nor
 *    `x-osc-target`, so a request that has that shape and also carries one of their markers is an
 *    OUTSCALE API call with a stray marker. Recording it (and checking its signature) closes an easy way
 *    to hide a call from the audit trail: appending `?Action=x` or an `x-amz-target` header.
 * 3. Then the AWS-compliant markers; anything else is not an API call (`GET /`, `/favicon.ico`).
 *
 * Everything is compiled at module load: a call does no regular-expression construction and allocates
 * little beyond the strings it slices.
 */

export type NotLoggedReason = 'aws-compliant' | 'object-storage' | 'not-an-api-call';

export type CallClass = { kind: 'oapi'; callName: string } | { kind: 'not-logged'; reason: NotLoggedReason };

export interface ClassifyCallInput {
  method: string;
  /** The raw request target (`req.url`), query included; origin-form or absolute-form. */
  path: string;
  /** Node's `req.headers`: lower-case names. */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The authority the request was sent to, when known better than the Host header (HTTP/2 `:authority`). */
  host?: string;
  /** The request body, when the caller has it as text: read only for a form-urlencoded Content-Type. */
  formBody?: string;
}

const OAPI_CALL_NAME = /^[A-Za-z][A-Za-z0-9]{0,127}$/;
const OSC_TARGET_PREFIX = 'OutscaleService.';

// `/api/v1/<Call>` and `/api/latest/<Call>` after normalisation; the roots that take x-osc-target.
const OAPI_CALL_PATH = /^\/api\/(?:v1|latest)\/([^/]+)$/;
const OAPI_ROOT_PATHS: ReadonlySet<string> = new Set(['/', '/api/v1', '/api/latest']);

// Endpoints `<service>.<region>.outscale.com`; Object Storage also takes the bucket as a leading label
// (virtual-hosted style, `<bucket>.oos.<region>.outscale.com`).
const AWS_COMPLIANT_HOST = /^(?:fcu|lbu|eim|icu|directlink|kms|okms)\./;
const OBJECT_STORAGE_HOST = /(?:^|\.)(?:oos|osu|s3)\./;

// The `Action` parameter of the EC2 Query protocol, in a raw query or form body.
const ACTION_PARAM = /(?:^|&)Action(?:[=&]|$)/;
const FORM_URLENCODED = /^\s*application\/x-www-form-urlencoded\s*(?:;|$)/i;

// RFC 3986 section 6.2.2.2: percent-encoded unreserved characters are equivalent to the characters
// themselves, and servers commonly decode them before routing: `/api/v1/Read%56ms` is ReadVms.
const PERCENT_ESCAPE = /%([0-9A-Fa-f]{2})/g;
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
const REPEATED_SLASHES = /\/{2,}/g;
const DOT_SEGMENT = /\/\.\.?(?:\/|$)/;
// RFC 9112 section 3.2.2: the absolute form carries the authority the request is for.
const ABSOLUTE_FORM = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/;

const AWS4_ALGORITHM = 'AWS4-HMAC-SHA256';
const CREDENTIAL = 'Credential=';
const S3_SIGV2 = /^\s*AWS [^:\s]+:/;

function firstValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function decodeUnreserved(match: string, hex: string): string {
  const char = String.fromCharCode(Number.parseInt(hex, 16));
  return UNRESERVED.test(char) ? char : match;
}

// RFC 3986 section 5.2.4 (remove_dot_segments), on a path whose slashes are already collapsed.
function removeDotSegments(path: string): string {
  const out: string[] = [];
  const segments = path.split('/');
  for (let i = 1; i < segments.length; i++) {
    const segment = segments[i] as string;
    if (segment === '..') out.pop();
    else if (segment !== '.') out.push(segment);
  }
  const last = segments[segments.length - 1];
  if (last === '.' || last === '..') out.push('');
  return '/' + out.join('/');
}

/**
 * The path as the upstream routes it: unreserved escapes decoded, repeated slashes collapsed, dot
 * segments resolved, a trailing slash dropped (osc-cli, for one, sends `//api/latest/ReadApiLogs`).
 */
export function normaliseCallPath(rawPath: string): string {
  // Only origin-form paths are routed; anything else (`*`, garbage) is left to fail the match.
  if (!rawPath.startsWith('/')) return rawPath;
  let path = rawPath;
  if (path.includes('%')) path = path.replace(PERCENT_ESCAPE, decodeUnreserved);
  if (path.includes('//')) path = path.replace(REPEATED_SLASHES, '/');
  if (DOT_SEGMENT.test(path)) path = removeDotSegments(path);
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  return path;
}

function normaliseHost(host: string): string {
  let name = host.trim().toLowerCase();
  if (!name.startsWith('[')) {
    const colon = name.indexOf(':');
    if (colon !== -1) name = name.slice(0, colon);
  }
  if (name.endsWith('.')) name = name.slice(0, -1);
  return name;
}

/** The service of a SigV4 credential scope `<key>/<date>/<region>/<service>/aws4_request`. */
function scopeService(credential: string): string | undefined {
  const parts = credential.split('/');
  if (parts.length !== 5 || parts[4] !== 'aws4_request') return undefined;
  return parts[3];
}

/** The AWS4 scope service of the Authorization header, or of a presigned query (`X-Amz-Credential`). */
function aws4Service(authorization: string | undefined, query: string): string | undefined {
  if (authorization !== undefined && authorization.trimStart().startsWith(AWS4_ALGORITHM)) {
    const at = authorization.indexOf(CREDENTIAL);
    if (at !== -1) {
      const start = at + CREDENTIAL.length;
      let end = start;
      while (end < authorization.length) {
        const c = authorization.charCodeAt(end);
        // ',' or whitespace ends the credential.
        if (c === 0x2c || c === 0x20 || c === 0x09) break;
        end++;
      }
      return scopeService(authorization.slice(start, end));
    }
  }
  if (query.includes('X-Amz-Credential=')) {
    const credential = new URLSearchParams(query).get('X-Amz-Credential');
    if (credential !== null) return scopeService(credential);
  }
  return undefined;
}

function hasActionParam(encoded: string): boolean {
  if (encoded.length === 0) return false;
  if (ACTION_PARAM.test(encoded)) return true;
  // Only a percent-encoded name (`%41ction=`) needs the full decoder.
  return encoded.includes('%') && new URLSearchParams(encoded).has('Action');
}

const OBJECT_STORAGE: CallClass = Object.freeze({ kind: 'not-logged', reason: 'object-storage' });
const AWS_COMPLIANT: CallClass = Object.freeze({ kind: 'not-logged', reason: 'aws-compliant' });
const NOT_AN_API_CALL: CallClass = Object.freeze({ kind: 'not-logged', reason: 'not-an-api-call' });

function oapiCall(name: string): CallClass {
  return OAPI_CALL_NAME.test(name) ? { kind: 'oapi', callName: name } : NOT_AN_API_CALL;
}

export function classifyCall(input: ClassifyCallInput): CallClass {
  const { headers } = input;
  let target = input.path;
  let authority: string | undefined;
  const absolute = ABSOLUTE_FORM.exec(target);
  if (absolute !== null) {
    authority = absolute[1];
    target = target.slice(absolute[0].length);
  }
  const hashAt = target.indexOf('#');
  if (hashAt !== -1) target = target.slice(0, hashAt);
  const queryAt = target.indexOf('?');
  const rawPath = queryAt === -1 ? target : target.slice(0, queryAt);
  const query = queryAt === -1 ? '' : target.slice(queryAt + 1);

  const hostValue = input.host ?? authority ?? firstValue(headers['host']);
  const host = hostValue === undefined ? '' : normaliseHost(hostValue);
  const authorization = firstValue(headers['authorization']);
  const service = aws4Service(authorization, query);

  if (
    OBJECT_STORAGE_HOST.test(host) ||
    service === 's3' ||
    (authorization !== undefined && S3_SIGV2.test(authorization))
  ) {
    return OBJECT_STORAGE;
  }

  if (input.method === 'POST') {
    const path = normaliseCallPath(rawPath.length === 0 ? '/' : rawPath);
    const call = OAPI_CALL_PATH.exec(path);
    if (call !== null) return oapiCall(call[1] as string);
    if (OAPI_ROOT_PATHS.has(path)) {
      const oscTarget = firstValue(headers['x-osc-target']);
      if (oscTarget !== undefined && oscTarget.startsWith(OSC_TARGET_PREFIX)) {
        return oapiCall(oscTarget.slice(OSC_TARGET_PREFIX.length));
      }
    }
  }

  if (
    AWS_COMPLIANT_HOST.test(host) ||
    (service !== undefined && service !== 'api') ||
    (firstValue(headers['x-amz-target']) ?? '') !== '' ||
    hasActionParam(query)
  ) {
    return AWS_COMPLIANT;
  }
  if (input.formBody !== undefined && input.formBody.length > 0) {
    const contentType = firstValue(headers['content-type']);
    if (contentType !== undefined && FORM_URLENCODED.test(contentType) && hasActionParam(input.formBody)) {
      return AWS_COMPLIANT;
    }
  }
  return NOT_AN_API_CALL;
}
