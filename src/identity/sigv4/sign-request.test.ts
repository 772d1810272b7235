import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { sha256Hex } from './canonical-request.js';
import type { SigningAlgorithm } from './canonical-request.js';
import { signRequest } from './sign-request.js';
import { verifySignature } from './verify-signature.js';

const ACCESS_KEY_ID = 'AKIAOMSTEST000000001';
const SECRET = 'OMSTESTSECRET0000000000000000000000000001';

// AWS SigV4 test suite (aws-sig-v4-test-suite), documented example credentials.
const SUITE = {
  accessKeyId: 'AKIDEXAMPLE',
  secretKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  region: 'us-east-1',
  service: 'service',
  algorithm: 'AWS4-HMAC-SHA256',
  now: Date.UTC(2015, 7, 30, 12, 36, 0),
} as const;

function signature(headers: Record<string, string>): string {
  return (headers['Authorization'] ?? '').split('Signature=')[1] ?? '';
}

function lowercase(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) out[name.toLowerCase()] = value;
  return out;
}

describe('signRequest: AWS SigV4 test suite vectors', () => {
  const vectors: Array<[string, string, string, Record<string, string>, string]> = [
    ['get-vanilla', 'GET', '/', {}, '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31'],
    ['post-vanilla', 'POST', '/', {}, '5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b'],
    [
      'get-vanilla-query-order-key-case',
      'GET',
      '/?Param2=value2&Param1=value1',
      {},
      'b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500',
    ],
    [
      'get-vanilla-query-order-value',
      'GET',
      '/?Param1=value2&Param1=Value1',
      {},
      'eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1',
    ],
    [
      'get-vanilla-query-unreserved',
      'GET',
      '/?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz',
      {},
      '9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197',
    ],
    ['get-vanilla-utf8-query', 'GET', '/?\u1234=bar', {}, '2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04'],
    ['get-utf8', 'GET', '/\u1234', {}, '8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85'],
    ['get-space', 'GET', '/example space/', {}, '652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741'],
    [
      'get-header-value-trim',
      'GET',
      '/',
      { 'My-Header1': ' value1', 'My-Header2': ' "a   b   c"' },
      'acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736',
    ],
  ];
  for (const [name, method, target, headers, expected] of vectors) {
    it(`reproduces ${name}`, () => {
      const signed = signRequest({ ...SUITE, method, url: `https://example.amazonaws.com${target}`, headers });
      assert.equal(signature(signed), expected);
      assert.equal(signed['X-Amz-Date'], '20150830T123600Z');
    });
  }

  it('writes the Authorization header in the suite layout', () => {
    const signed = signRequest({ ...SUITE, method: 'GET', url: 'https://example.amazonaws.com/' });
    assert.deepEqual(signed, {
      Host: 'example.amazonaws.com',
      'X-Amz-Date': '20150830T123600Z',
      Authorization:
        'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, ' +
        'SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
    });
  });
});

describe('signRequest: headers it returns', () => {
  const base = {
    method: 'POST',
    url: 'https://api.eu-west-2.outscale.com/api/v1/ReadApiLogs',
    body: '{}',
    accessKeyId: ACCESS_KEY_ID,
    secretKey: SECRET,
    region: 'eu-west-2',
    now: Date.UTC(2024, 0, 2, 10, 20, 30),
  };

  it('defaults to OSC4 for service api and keeps the caller headers as given', () => {
    const signed = signRequest({ ...base, headers: { 'Content-Type': 'application/json' } });
    assert.equal(signed['Content-Type'], 'application/json');
    assert.equal(signed['Host'], 'api.eu-west-2.outscale.com');
    assert.equal(signed['X-Osc-Date'], '20240102T102030Z');
    assert.match(
      signed['Authorization'] ?? '',
      /^OSC4-HMAC-SHA256 Credential=AKIAOMSTEST000000001\/20240102\/eu-west-2\/api\/osc4_request, SignedHeaders=content-type;host;x-osc-date, Signature=[0-9a-f]{64}$/,
    );
  });

  it('keeps a Host given by the caller and replaces a stale Authorization or date header', () => {
    const signed = signRequest({
      ...base,
      now: new Date(base.now),
      headers: { host: 'oms.internal:8443', authorization: 'stale', 'X-Osc-Date': '19700101T000000Z' },
    });
    assert.deepEqual(Object.keys(signed).sort(), ['Authorization', 'X-Osc-Date', 'host']);
    assert.equal(signed['host'], 'oms.internal:8443');
    assert.equal(signed['X-Osc-Date'], '20240102T102030Z');
  });

  it('includes a non-default port in Host', () => {
    assert.equal(signRequest({ ...base, url: 'http://127.0.0.1:8080/api/v1/ReadApiLogs' })['Host'], '127.0.0.1:8080');
    assert.equal(signRequest({ ...base, url: 'https://oms.example.com:443/api/v1/ReadApiLogs' })['Host'], 'oms.example.com');
  });

  it('signs the collapsed path, so a doubled slash changes nothing', () => {
    const single = signRequest({ ...base });
    const doubled = signRequest({ ...base, url: 'https://api.eu-west-2.outscale.com//api/v1/ReadApiLogs' });
    assert.equal(doubled['Authorization'], single['Authorization']);
  });

  it('refuses OSC4 for a service other than api, and header names given twice', () => {
    assert.throws(() => signRequest({ ...base, service: 'oms' }), RangeError);
    assert.throws(() => signRequest({ ...base, headers: { 'X-A': '1', 'x-a': '2' } }), TypeError);
    assert.throws(() => signRequest({ ...base, url: '/api/v1/ReadApiLogs' }), TypeError);
  });
});

describe('signRequest agrees with @smithy/signature-v4', () => {
  it('for AWS4 on random methods, paths, queries, headers and bodies (property)', async () => {
    const segment = fc.stringMatching(/^[A-Za-z0-9_~-]{1,8}$/);
    const queryValue = fc.string({ maxLength: 6 });
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'PUT'),
        fc.array(segment, { maxLength: 4 }),
        fc.dictionary(fc.stringMatching(/^[A-Za-z0-9_.~-]{1,6}$/), queryValue, { maxKeys: 4 }),
        fc.uint8Array({ maxLength: 64 }),
        fc.stringMatching(/^[a-z]{2}-[a-z]{4,7}-[1-9]$/),
        fc.stringMatching(/^[ -~]{0,12}$/),
        async (method, segments, query, body, region, headerValue) => {
          const path = `/${segments.join('/')}`;
          const url = new URL(`https://oms.example.com${path}`);
          for (const [name, value] of Object.entries(query)) url.searchParams.append(name, value);
          const now = Date.UTC(2024, 5, 1, 8, 0, 0);
          const headers = { 'x-custom': headerValue, 'x-amz-content-sha256': sha256Hex(body) };
          const ours = signRequest({
            method,
            url,
            headers,
            body,
            accessKeyId: ACCESS_KEY_ID,
            secretKey: SECRET,
            region,
            algorithm: 'AWS4-HMAC-SHA256',
            service: 'oms',
            now,
          });
          const smithy = new SignatureV4({
            service: 'oms',
            region,
            credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET },
            sha256: Sha256,
          });
          const theirs = await smithy.sign(
            {
              method,
              protocol: 'https:',
              hostname: 'oms.example.com',
              path,
              query,
              headers: { host: 'oms.example.com', ...headers },
              body,
            },
            { signingDate: new Date(now) },
          );
          assert.equal(ours['Authorization'], theirs.headers['authorization']);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('signRequest then verifySignature', () => {
  it('round-trips for random bodies, paths, queries, regions and algorithms (property)', () => {
    const algorithm = fc.constantFrom<SigningAlgorithm>('OSC4-HMAC-SHA256', 'AWS4-HMAC-SHA256');
    fc.assert(
      fc.property(
        algorithm,
        fc.array(fc.string({ unit: 'grapheme', maxLength: 8 }), { maxLength: 5 }),
        fc.array(fc.tuple(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 })), { maxLength: 4 }),
        fc.uint8Array({ maxLength: 256 }),
        fc.stringMatching(/^[a-z]{2,10}-[a-z]{2,10}-[1-9]$/),
        fc.stringMatching(/^[a-z0-9-]{1,12}$/),
        fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2099, 11, 31) }),
        fc.integer({ min: -300_000, max: 300_000 }),
        (alg, segments, pairs, body, region, awsService, signedAtMs, skewMs) => {
          const url = new URL('https://oms.example.com/');
          url.pathname = `/${segments.join('/')}`;
          for (const [name, value] of pairs) url.searchParams.append(name, value);
          const service = alg === 'OSC4-HMAC-SHA256' ? 'api' : awsService;
          const signed = signRequest({
            method: 'POST',
            url,
            headers: { 'Content-Type': 'application/json' },
            body,
            accessKeyId: ACCESS_KEY_ID,
            secretKey: SECRET,
            region,
            algorithm: alg,
            service,
            now: signedAtMs,
          });
          const request = {
            method: 'POST',
            path: `${url.pathname}${url.search}`,
            headers: lowercase(signed),
            body: Buffer.from(body),
          };
          // Whole seconds: the date header has no milliseconds.
          const nowMs = Math.floor(signedAtMs / 1000) * 1000 + skewMs;
          assert.deepEqual(verifySignature(request, SECRET, nowMs), { ok: true });
          assert.equal(verifySignature(request, `${SECRET.slice(0, -1)}X`, nowMs).ok, false);
        },
      ),
      { numRuns: 500 },
    );
  });
});
