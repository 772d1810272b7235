import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import {
  SigningKeyCache,
  buildCanonicalHeaders,
  buildCanonicalRequest,
  buildStringToSign,
  canonicalUri,
  computeSignature,
  formatSigningDate,
  sha256Hex,
} from './canonical-request.js';
import type { SigningAlgorithm } from './canonical-request.js';
import { signRequest } from './sign-request.js';
import { DEFAULT_MAX_SKEW_MS, parseAuthorization, verifySignature } from './verify-signature.js';
import type { ReceivedRequest, VerifyFailureCode, VerifyResult } from './verify-signature.js';

const ACCESS_KEY_ID = 'AKIAOMSTEST000000001';
const SECRET = 'OMSTESTSECRET0000000000000000000000000001';
const OTHER_SECRET = 'OMSTESTSECRET0000000000000000000000000002';
const NOW_MS = Date.UTC(2024, 0, 2, 10, 20, 30);
const MINUTE_MS = 60_000;
const BODY = Buffer.from('{"Filters":{"QueryCallNames":["ReadVms"]}}');

function lowercase(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) out[name.toLowerCase()] = value;
  return out;
}

/** A request signed by signRequest, as the server receives it. */
function signedRequest(algorithm: SigningAlgorithm = 'OSC4-HMAC-SHA256', target = '/api/v1/ReadApiLogs'): ReceivedRequest {
  const headers = signRequest({
    method: 'POST',
    url: `https://oms.example.com${target}`,
    headers: { 'Content-Type': 'application/json' },
    body: BODY,
    accessKeyId: ACCESS_KEY_ID,
    secretKey: SECRET,
    region: 'eu-west-2',
    algorithm,
    now: NOW_MS,
  });
  return { method: 'POST', path: target, headers: lowercase(headers), body: BODY };
}

interface ManualSigning {
  algorithm: SigningAlgorithm;
  scopeDate: string;
  region: string;
  service: string;
  terminator: string;
  signedHeaders: string[];
  request: ReceivedRequest;
}

/**
 * Signs with a correct HMAC over whatever (possibly inconsistent) scope and header list the case asks
 * for, so that a rejection proves the rule under test rather than a signature mismatch.
 */
function signManually(m: ManualSigning): ReceivedRequest {
  const dateHeader = m.request.headers['x-osc-date'] ?? m.request.headers['x-amz-date'];
  const signingDate = typeof dateHeader === 'string' ? dateHeader : '19700101T000000Z';
  const canonicalRequest = buildCanonicalRequest({
    method: m.request.method,
    canonicalUri: canonicalUri(m.request.path),
    canonicalQuery: '',
    canonicalHeaders: buildCanonicalHeaders(m.signedHeaders, (name) => m.request.headers[name] ?? '') ?? '',
    signedHeaders: m.signedHeaders.join(';'),
    payloadSha256Hex: sha256Hex(m.request.body),
  });
  const scope = `${m.scopeDate}/${m.region}/${m.service}/${m.terminator}`;
  const key = deriveKeyWithTerminator(m.algorithm, m.scopeDate, m.region, m.service, m.terminator);
  const signature = computeSignature(key, buildStringToSign(m.algorithm, signingDate, scope, canonicalRequest));
  return {
    ...m.request,
    headers: {
      ...m.request.headers,
      authorization: `${m.algorithm} Credential=${ACCESS_KEY_ID}/${scope}, SignedHeaders=${m.signedHeaders.join(';')}, Signature=${signature.toString('hex')}`,
    },
  };
}

/** The HMAC chain of deriveSigningKey, with any terminator (deriveSigningKey always uses the algorithm's own). */
function deriveKeyWithTerminator(
  algorithm: SigningAlgorithm,
  date: string,
  region: string,
  service: string,
  terminator: string,
): Buffer {
  const prefix = algorithm === 'OSC4-HMAC-SHA256' ? 'OSC4' : 'AWS4';
  let key = createHmac('sha256', prefix + SECRET).update(date).digest();
  for (const part of [region, service, terminator]) key = createHmac('sha256', key).update(part).digest();
  return key;
}

function plainRequest(headers: Record<string, string>): ReceivedRequest {
  return {
    method: 'POST',
    path: '/api/v1/ReadApiLogs',
    headers: { host: 'oms.example.com', 'content-type': 'application/json', ...headers },
    body: BODY,
  };
}

function assertRejected(result: VerifyResult, code: VerifyFailureCode): void {
  assert.equal(result.ok, false);
  if (result.ok) return;
  assert.equal(result.code, code, result.reason);
  assert.ok(result.reason.length > 0 && result.reason.length < 200);
  assert.ok(!result.reason.includes(SECRET) && !result.reason.includes(OTHER_SECRET));
  assert.ok(!result.reason.includes('\n'), 'a reason never carries a canonical request');
  assert.ok(!/[0-9a-f]{64}/.test(result.reason), 'a reason never carries a signature');
}

describe('parseAuthorization', () => {
  const valid =
    'OSC4-HMAC-SHA256 Credential=AKIAOMSTEST000000001/20240102/eu-west-2/api/osc4_request, ' +
    'SignedHeaders=content-type;host;x-osc-date, Signature=' +
    'f209afc027b5754b38226241e8f139c03e686d59b25e7686535351d3c8fb16ba';

  it('reads the header curl, aws4fetch and @smithy write', () => {
    assert.deepEqual(parseAuthorization(valid), {
      ok: true,
      authorization: {
        algorithm: 'OSC4-HMAC-SHA256',
        accessKeyId: 'AKIAOMSTEST000000001',
        date: '20240102',
        region: 'eu-west-2',
        service: 'api',
        terminator: 'osc4_request',
        signedHeaders: ['content-type', 'host', 'x-osc-date'],
        signature: 'f209afc027b5754b38226241e8f139c03e686d59b25e7686535351d3c8fb16ba',
      },
    });
  });

  it('accepts commas without spaces, components in any order and an upper-case signature', () => {
    const reordered =
      'AWS4-HMAC-SHA256 Signature=F209AFC027B5754B38226241E8F139C03E686D59B25E7686535351D3C8FB16BA,' +
      'SignedHeaders=host;x-amz-date,Credential=AKIAOMSTEST000000001/20240102/eu-west-2/api/aws4_request';
    const parsed = parseAuthorization(reordered);
    assert.equal(parsed.ok, true);
    if (parsed.ok) {
      assert.equal(parsed.authorization.algorithm, 'AWS4-HMAC-SHA256');
      assert.equal(parsed.authorization.signature, 'f209afc027b5754b38226241e8f139c03e686d59b25e7686535351d3c8fb16ba');
      assert.deepEqual(parsed.authorization.signedHeaders, ['host', 'x-amz-date']);
    }
  });

  const failures: Array<[string, unknown, string]> = [
    ['absent', undefined, 'MissingAuthorization'],
    ['empty', '', 'MissingAuthorization'],
    ['blank', '   ', 'MissingAuthorization'],
    ['another scheme', 'Bearer abc', 'UnsupportedAlgorithm'],
    ['SigV2', 'AWS AKIAOMSTEST000000001:abc=', 'UnsupportedAlgorithm'],
    ['lowercase algorithm', valid.toLowerCase(), 'UnsupportedAlgorithm'],
    ['algorithm only', 'OSC4-HMAC-SHA256', 'MalformedAuthorization'],
    ['no Signature', valid.slice(0, valid.indexOf(', Signature')), 'MalformedAuthorization'],
    ['duplicate component', `${valid}, Signature=${'a'.repeat(64)}`, 'MalformedAuthorization'],
    ['unknown component', `${valid}, Foo=bar`, 'MalformedAuthorization'],
    ['component without =', `${valid}, Foo`, 'MalformedAuthorization'],
    ['four scope parts', valid.replace('/api/osc4_request', '/osc4_request'), 'MalformedAuthorization'],
    ['six scope parts', valid.replace('/api/', '/api/x/'), 'MalformedAuthorization'],
    ['bad scope date', valid.replace('20240102', '2024-01-02'), 'MalformedAuthorization'],
    ['empty access key', valid.replace('AKIAOMSTEST000000001', ''), 'MalformedAuthorization'],
    ['access key with a space', valid.replace('AKIAOMSTEST000000001', 'AKIA OMS'), 'MalformedAuthorization'],
    ['upper-case signed header', valid.replace('content-type', 'Content-Type'), 'MalformedAuthorization'],
    ['duplicate signed header', valid.replace('content-type;host', 'host;host'), 'MalformedAuthorization'],
    ['empty signed header', valid.replace('content-type;host', 'content-type;;host'), 'MalformedAuthorization'],
    ['short signature', valid.slice(0, -1), 'MalformedAuthorization'],
    ['non-hex signature', `${valid.slice(0, -1)}g`, 'MalformedAuthorization'],
    ['very long header', `${valid}${' '.repeat(5000)}`, 'MalformedAuthorization'],
    ['array', [valid, valid], 'MalformedAuthorization'],
    ['number', 42, 'MalformedAuthorization'],
  ];
  for (const [name, header, code] of failures) {
    it(`rejects ${name} as ${code}`, () => {
      const parsed = parseAuthorization(header);
      assert.equal(parsed.ok, false);
      if (!parsed.ok) assert.equal(parsed.code, code);
    });
  }

  it('never throws on garbage and rejects it (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (header) => {
        assert.equal(parseAuthorization(header).ok, false);
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on headers assembled from plausible fragments (property)', () => {
    const fragment = fc.constantFrom(
      'OSC4-HMAC-SHA256',
      'AWS4-HMAC-SHA256',
      ' ',
      ',',
      ', ',
      '=',
      '/',
      ';',
      'Credential=',
      'SignedHeaders=',
      'Signature=',
      'AKIAOMSTEST000000001',
      '20240102',
      'eu-west-2',
      'api',
      'osc4_request',
      'aws4_request',
      'host',
      'x-osc-date',
      'a'.repeat(64),
      '\u0000',
      '\uD800',
      '%',
    );
    fc.assert(
      fc.property(fc.array(fc.oneof(fragment, fc.string({ maxLength: 5 })), { maxLength: 30 }), (parts) => {
        const header = parts.join('');
        const parsed = parseAuthorization(header);
        const request = { ...plainRequest({ 'x-osc-date': formatSigningDate(NOW_MS) }), headers: { authorization: header } };
        const result = verifySignature(request, SECRET, NOW_MS);
        assert.equal(result.ok, false);
        if (parsed.ok) assert.match(parsed.authorization.signature, /^[0-9a-f]{64}$/);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('verifySignature', () => {
  it('accepts the AWS SigV4 test suite get-vanilla request', () => {
    const request: ReceivedRequest = {
      method: 'GET',
      path: '/',
      headers: {
        host: 'example.amazonaws.com',
        'x-amz-date': '20150830T123600Z',
        authorization:
          'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, ' +
          'SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
      },
      body: Buffer.alloc(0),
    };
    const nowMs = Date.UTC(2015, 7, 30, 12, 36, 0);
    assert.deepEqual(verifySignature(request, 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', nowMs), { ok: true });
    assertRejected(verifySignature(request, SECRET, nowMs), 'SignatureMismatch');
  });

  for (const algorithm of ['OSC4-HMAC-SHA256', 'AWS4-HMAC-SHA256'] as const) {
    describe(algorithm, () => {
      it('accepts a request signed with the right secret', () => {
        assert.deepEqual(verifySignature(signedRequest(algorithm), SECRET, NOW_MS), { ok: true });
      });

      it('accepts dates up to the skew limit on both sides', () => {
        const request = signedRequest(algorithm);
        assert.equal(verifySignature(request, SECRET, NOW_MS + DEFAULT_MAX_SKEW_MS).ok, true);
        assert.equal(verifySignature(request, SECRET, NOW_MS - DEFAULT_MAX_SKEW_MS).ok, true);
      });

      const tampered: Array<[string, (r: ReceivedRequest) => ReceivedRequest, VerifyFailureCode]> = [
        ['a changed body', (r) => ({ ...r, body: Buffer.from('{"Filters":{}}') }), 'SignatureMismatch'],
        ['an empty body', (r) => ({ ...r, body: Buffer.alloc(0) }), 'SignatureMismatch'],
        [
          'a changed signed header',
          (r) => ({ ...r, headers: { ...r.headers, 'content-type': 'text/plain' } }),
          'SignatureMismatch',
        ],
        ['a changed host', (r) => ({ ...r, headers: { ...r.headers, host: 'evil.example.com' } }), 'SignatureMismatch'],
        ['a changed path', (r) => ({ ...r, path: '/api/v1/ReadApiLogz' }), 'SignatureMismatch'],
        ['a changed method', (r) => ({ ...r, method: 'PUT' }), 'SignatureMismatch'],
        ['an added query', (r) => ({ ...r, path: `${r.path}?a=1` }), 'SignatureMismatch'],
        [
          'a removed signed header',
          (r) => {
            const headers = { ...r.headers };
            delete headers['content-type'];
            return { ...r, headers };
          },
          'MissingSignedHeader',
        ],
        [
          'a wrong content hash header',
          (r) => ({ ...r, headers: { ...r.headers, 'x-amz-content-sha256': sha256Hex('other') } }),
          'PayloadHashMismatch',
        ],
        [
          'an unsigned payload marker',
          (r) => ({ ...r, headers: { ...r.headers, 'x-osc-content-sha256': 'UNSIGNED-PAYLOAD' } }),
          'UnsignedPayload',
        ],
        [
          'no Authorization header',
          (r) => {
            const headers = { ...r.headers };
            delete headers['authorization'];
            return { ...r, headers };
          },
          'MissingAuthorization',
        ],
      ];
      for (const [name, change, code] of tampered) {
        it(`rejects ${name}`, () => {
          assertRejected(verifySignature(change(signedRequest(algorithm)), SECRET, NOW_MS), code);
        });
      }

      it('rejects a wrong secret', () => {
        assertRejected(verifySignature(signedRequest(algorithm), OTHER_SECRET, NOW_MS), 'SignatureMismatch');
      });

      it('rejects a clock skewed by 6 minutes either way', () => {
        const request = signedRequest(algorithm);
        assertRejected(verifySignature(request, SECRET, NOW_MS + 6 * MINUTE_MS), 'ClockSkew');
        assertRejected(verifySignature(request, SECRET, NOW_MS - 6 * MINUTE_MS), 'ClockSkew');
        const result = verifySignature(request, SECRET, NOW_MS + 6 * MINUTE_MS);
        assert.ok(!result.ok && result.reason.includes('5 minutes'));
      });

      it('honours a configured maxSkewMs', () => {
        const request = signedRequest(algorithm);
        assert.equal(verifySignature(request, SECRET, NOW_MS + 10 * MINUTE_MS, { maxSkewMs: 15 * MINUTE_MS }).ok, true);
        assertRejected(verifySignature(request, SECRET, NOW_MS + 2 * MINUTE_MS, { maxSkewMs: MINUTE_MS }), 'ClockSkew');
      });

      it('accepts a matching content hash header, in either case of hex', () => {
        const hash = sha256Hex(BODY);
        for (const value of [hash, hash.toUpperCase()]) {
          const r = signedRequest(algorithm);
          const result = verifySignature(
            { ...r, headers: { ...r.headers, 'x-amz-content-sha256': value, 'x-osc-content-sha256': value } },
            SECRET,
            NOW_MS,
          );
          assert.deepEqual(result, { ok: true });
        }
      });

      it('uses a pre-parsed Authorization and works without a key cache', () => {
        const request = signedRequest(algorithm);
        const parsed = parseAuthorization(request.headers['authorization']);
        assert.ok(parsed.ok);
        assert.deepEqual(verifySignature(request, SECRET, NOW_MS, { authorization: parsed.authorization }), { ok: true });
        assert.deepEqual(verifySignature(request, SECRET, NOW_MS, { signingKeyCache: null }), { ok: true });
        assert.deepEqual(verifySignature(request, SECRET, NOW_MS, { signingKeyCache: new SigningKeyCache(1) }), { ok: true });
      });

      it('accepts the path with doubled slashes when the single-slash path was signed', () => {
        const request = signedRequest(algorithm);
        assert.deepEqual(verifySignature({ ...request, path: '//api/v1/ReadApiLogs' }, SECRET, NOW_MS), { ok: true });
        assert.deepEqual(verifySignature({ ...request, path: '/api//v1///ReadApiLogs' }, SECRET, NOW_MS), { ok: true });
      });

      it('accepts a query string whichever order it was signed in', () => {
        const request = signedRequest(algorithm, '/api/v1/ReadApiLogs?b=2&a=1');
        assert.deepEqual(verifySignature(request, SECRET, NOW_MS), { ok: true });
        assertRejected(verifySignature({ ...request, path: '/api/v1/ReadApiLogs?b=2&a=2' }, SECRET, NOW_MS), 'SignatureMismatch');
      });
    });
  }

  describe('scope and date rules (each case correctly signed except for the rule under test)', () => {
    const date = formatSigningDate(NOW_MS);
    const base = (algorithm: SigningAlgorithm): ManualSigning => ({
      algorithm,
      scopeDate: date.slice(0, 8),
      region: 'eu-west-2',
      service: 'api',
      terminator: algorithm === 'OSC4-HMAC-SHA256' ? 'osc4_request' : 'aws4_request',
      signedHeaders: ['content-type', 'host', algorithm === 'OSC4-HMAC-SHA256' ? 'x-osc-date' : 'x-amz-date'],
      request: plainRequest(algorithm === 'OSC4-HMAC-SHA256' ? { 'x-osc-date': date } : { 'x-amz-date': date }),
    });

    it('signManually alone produces accepted requests', () => {
      assert.deepEqual(verifySignature(signManually(base('OSC4-HMAC-SHA256')), SECRET, NOW_MS), { ok: true });
      assert.deepEqual(verifySignature(signManually(base('AWS4-HMAC-SHA256')), SECRET, NOW_MS), { ok: true });
      const otherService = { ...base('AWS4-HMAC-SHA256'), service: 'oms' };
      assert.deepEqual(verifySignature(signManually(otherService), SECRET, NOW_MS), { ok: true });
    });

    it('rejects a date header that is present but not signed', () => {
      const m = { ...base('OSC4-HMAC-SHA256'), signedHeaders: ['content-type', 'host'] };
      assertRejected(verifySignature(signManually(m), SECRET, NOW_MS), 'DateNotSigned');
    });

    it('rejects a request without any date header', () => {
      const m = { ...base('OSC4-HMAC-SHA256'), signedHeaders: ['content-type', 'host'], request: plainRequest({}) };
      assertRejected(verifySignature(signManually(m), SECRET, NOW_MS), 'MissingDate');
      const listed = { ...base('OSC4-HMAC-SHA256'), request: plainRequest({}) };
      assertRejected(verifySignature(signManually(listed), SECRET, NOW_MS), 'MissingDate');
    });

    it('rejects a request whose Host is not signed', () => {
      const m = { ...base('OSC4-HMAC-SHA256'), signedHeaders: ['content-type', 'x-osc-date'] };
      assertRejected(verifySignature(signManually(m), SECRET, NOW_MS), 'HostNotSigned');
    });

    it('rejects a scope date different from the date header', () => {
      const m = { ...base('OSC4-HMAC-SHA256'), scopeDate: '20240101' };
      assertRejected(verifySignature(signManually(m), SECRET, NOW_MS), 'DateScopeMismatch');
    });

    it('rejects a malformed date header', () => {
      for (const bad of ['2024-01-02T10:20:30Z', '20240102T102030', '20240230T102030Z']) {
        const m = { ...base('OSC4-HMAC-SHA256'), request: plainRequest({ 'x-osc-date': bad }) };
        assertRejected(verifySignature(signManually(m), SECRET, NOW_MS), 'MalformedDate');
      }
    });

    it('rejects the wrong terminator for the algorithm', () => {
      assertRejected(
        verifySignature(signManually({ ...base('OSC4-HMAC-SHA256'), terminator: 'aws4_request' }), SECRET, NOW_MS),
        'ScopeMismatch',
      );
      assertRejected(
        verifySignature(signManually({ ...base('AWS4-HMAC-SHA256'), terminator: 'osc4_request' }), SECRET, NOW_MS),
        'ScopeMismatch',
      );
    });

    it('rejects OSC4 with a service other than api', () => {
      assertRejected(
        verifySignature(signManually({ ...base('OSC4-HMAC-SHA256'), service: 'oms' }), SECRET, NOW_MS),
        'ScopeMismatch',
      );
    });

    it('accepts the other date header when that is the one the client signed', () => {
      const osc = {
        ...base('OSC4-HMAC-SHA256'),
        signedHeaders: ['content-type', 'host', 'x-amz-date'],
        request: plainRequest({ 'x-amz-date': date }),
      };
      assert.deepEqual(verifySignature(signManually(osc), SECRET, NOW_MS), { ok: true });
      const aws = {
        ...base('AWS4-HMAC-SHA256'),
        signedHeaders: ['content-type', 'host', 'x-osc-date'],
        request: plainRequest({ 'x-osc-date': date }),
      };
      assert.deepEqual(verifySignature(signManually(aws), SECRET, NOW_MS), { ok: true });
      const skewed = { ...osc, request: plainRequest({ 'x-amz-date': formatSigningDate(NOW_MS - 6 * MINUTE_MS) }) };
      assertRejected(verifySignature(signManually(skewed), SECRET, NOW_MS), 'ClockSkew');
    });

    it('signs headers in the order the client listed them', () => {
      const m = { ...base('OSC4-HMAC-SHA256'), signedHeaders: ['x-osc-date', 'host', 'content-type'] };
      assert.deepEqual(verifySignature(signManually(m), SECRET, NOW_MS), { ok: true });
    });

    it('joins repeated header values with a comma', () => {
      const headers = { host: 'oms.example.com', 'x-osc-date': date, 'x-multi': 'a,b c' };
      const signed = signManually({
        ...base('OSC4-HMAC-SHA256'),
        signedHeaders: ['host', 'x-multi', 'x-osc-date'],
        request: { ...plainRequest({}), headers },
      });
      const received = { ...signed, headers: { ...signed.headers, 'x-multi': ['a', ' b  c '] } };
      assert.deepEqual(verifySignature(received, SECRET, NOW_MS), { ok: true });
    });
  });
});
