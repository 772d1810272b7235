import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import {
  SigningKeyCache,
  buildCanonicalHeaders,
  buildCanonicalRequest,
  buildStringToSign,
  canonicalHeaderValue,
  canonicalQueryCandidates,
  canonicalQueryString,
  canonicalUri,
  canonicalUriCandidates,
  credentialScope,
  deriveSigningKey,
  formatSigningDate,
  parseSigningDate,
  sha256Hex,
  splitPathAndQuery,
} from './canonical-request.js';

// The documented example credentials of the AWS SigV4 test suite.
const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';

describe('signing key derivation', () => {
  it('reproduces the AWS documented example (20120215/us-east-1/iam)', () => {
    // https://docs.aws.amazon.com/general/latest/gr/signature-v4-examples.html
    assert.equal(
      deriveSigningKey('AWS4-HMAC-SHA256', SECRET, '20120215', 'us-east-1', 'iam').toString('hex'),
      'f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d',
    );
  });

  it('derives the OSC4 key from "OSC4" + secret and the osc4_request terminator', () => {
    const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data).digest();
    const expected = hmac(hmac(hmac(hmac(`OSC4${SECRET}`, '20240102'), 'eu-west-2'), 'api'), 'osc4_request');
    assert.deepEqual(deriveSigningKey('OSC4-HMAC-SHA256', SECRET, '20240102', 'eu-west-2', 'api'), expected);
  });

  it('caches keys without changing them, and stays within its bound', () => {
    const cache = new SigningKeyCache(2);
    const a = cache.signingKey('OSC4-HMAC-SHA256', SECRET, '20240102', 'eu-west-2', 'api');
    assert.deepEqual(a, deriveSigningKey('OSC4-HMAC-SHA256', SECRET, '20240102', 'eu-west-2', 'api'));
    assert.equal(cache.signingKey('OSC4-HMAC-SHA256', SECRET, '20240102', 'eu-west-2', 'api'), a);
    cache.signingKey('OSC4-HMAC-SHA256', SECRET, '20240103', 'eu-west-2', 'api');
    cache.signingKey('OSC4-HMAC-SHA256', SECRET, '20240104', 'eu-west-2', 'api');
    assert.equal(cache.size, 2);
    // A different secret, algorithm or scope element never hits another entry.
    assert.notDeepEqual(cache.signingKey('OSC4-HMAC-SHA256', `${SECRET}x`, '20240104', 'eu-west-2', 'api'), a);
    assert.notDeepEqual(
      cache.signingKey('AWS4-HMAC-SHA256', SECRET, '20240102', 'eu-west-2', 'api'),
      deriveSigningKey('OSC4-HMAC-SHA256', SECRET, '20240102', 'eu-west-2', 'api'),
    );
  });
});

describe('canonical request (AWS SigV4 test suite, get-vanilla)', () => {
  it('builds the documented canonical request and string to sign', () => {
    const canonicalHeaders = buildCanonicalHeaders(['host', 'x-amz-date'], (name) =>
      name === 'host' ? 'example.amazonaws.com' : '20150830T123600Z',
    );
    assert.equal(canonicalHeaders, 'host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n');
    const canonicalRequest = buildCanonicalRequest({
      method: 'GET',
      canonicalUri: '/',
      canonicalQuery: '',
      canonicalHeaders: canonicalHeaders ?? '',
      signedHeaders: 'host;x-amz-date',
      payloadSha256Hex: sha256Hex(''),
    });
    assert.equal(
      canonicalRequest,
      'GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n' +
        'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    const scope = credentialScope('AWS4-HMAC-SHA256', '20150830', 'us-east-1', 'service');
    assert.equal(scope, '20150830/us-east-1/service/aws4_request');
    assert.equal(
      buildStringToSign('AWS4-HMAC-SHA256', '20150830T123600Z', scope, canonicalRequest),
      'AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n' +
        'bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63',
    );
  });

  it('uses the OSC4 scope terminator', () => {
    assert.equal(credentialScope('OSC4-HMAC-SHA256', '20240102', 'eu-west-2', 'api'), '20240102/eu-west-2/api/osc4_request');
  });

  it('reports a signed header missing from the request', () => {
    assert.equal(buildCanonicalHeaders(['host', 'x-foo'], (name) => (name === 'host' ? 'h' : undefined)), undefined);
  });
});

describe('canonical URI', () => {
  it('collapses repeated slashes as osc-cli signs them', () => {
    assert.equal(canonicalUri('//api/latest/ReadApiLogs'), '/api/latest/ReadApiLogs');
    assert.equal(canonicalUri('/api///v1//ReadApiLogs'), '/api/v1/ReadApiLogs');
    assert.equal(canonicalUri('/api/v1/ReadApiLogs'), '/api/v1/ReadApiLogs');
    assert.equal(canonicalUri(''), '/');
  });

  const cases: Array<[string, string[]]> = [
    ['/api/v1/ReadApiLogs', ['/api/v1/ReadApiLogs']],
    ['//api/latest/ReadApiLogs', ['/api/latest/ReadApiLogs', '//api/latest/ReadApiLogs']],
    // single-encoded (curl, osc-cli) and double-encoded (aws4fetch, @smithy)
    ['/api/v1/a%20b', ['/api/v1/a%20b', '/api/v1/a%2520b']],
    ["/a'b(c)*!", ["/a'b(c)*!", '/a%27b%28c%29%2A%21']],
    ['//a%7Eb', ['/a%7Eb', '//a%7Eb', '/a%257Eb']],
    ['/a~b-c_d.e', ['/a~b-c_d.e']],
  ];
  for (const [path, expected] of cases) {
    it(`accepts the forms clients sign for ${path}`, () => {
      assert.deepEqual(canonicalUriCandidates(path), expected);
    });
  }

  it('skips the double-encoded form of a path that cannot be UTF-8 encoded', () => {
    assert.deepEqual(canonicalUriCandidates('/a\uD800'), ['/a\uD800']);
  });
});

describe('canonical query string', () => {
  const cases: Array<[string, string]> = [
    ['', ''],
    ['Param2=value2&Param1=value1', 'Param1=value1&Param2=value2'],
    ['Param1=value2&Param1=Value1', 'Param1=Value1&Param1=value2'],
    ['a=x%2Fy&b', 'a=x%2Fy&b='],
    ['x=a+b&y=%41', 'x=a%20b&y=A'],
    ["k=!'()*", 'k=%21%27%28%29%2A'],
    ['=novalue&z=1&&', 'z=1'],
    ['%E1%88%B4=bar', '%E1%88%B4=bar'],
    ['bad=%zz', 'bad=%25zz'],
  ];
  for (const [raw, expected] of cases) {
    it(`canonicalises ${JSON.stringify(raw)}`, () => {
      assert.equal(canonicalQueryString(raw), expected);
    });
  }

  it('also offers the query exactly as sent, as curl 7.88 signs it', () => {
    assert.deepEqual(canonicalQueryCandidates('b=2&a=1'), ['a=1&b=2', 'b=2&a=1']);
    assert.deepEqual(canonicalQueryCandidates('a=1&b=2'), ['a=1&b=2']);
    assert.deepEqual(canonicalQueryCandidates(''), ['']);
  });

  it('splits the request target at the first question mark', () => {
    assert.deepEqual(splitPathAndQuery('/a?b=1?c'), { path: '/a', query: 'b=1?c' });
    assert.deepEqual(splitPathAndQuery('/a'), { path: '/a', query: '' });
  });
});

describe('canonical header values', () => {
  it('trims and collapses whitespace, joins repeated headers with a comma', () => {
    assert.equal(canonicalHeaderValue('  a   b\t c  '), 'a b c');
    assert.equal(canonicalHeaderValue('"a   b   c"'), '"a b c"');
    assert.equal(canonicalHeaderValue([' value1 ', 'value2  x']), 'value1,value2 x');
    assert.equal(canonicalHeaderValue(''), '');
  });
});

describe('signing dates', () => {
  it('formats and parses YYYYMMDDTHHMMSSZ', () => {
    const ms = Date.UTC(2015, 7, 30, 12, 36, 0);
    assert.equal(formatSigningDate(ms), '20150830T123600Z');
    assert.equal(parseSigningDate('20150830T123600Z'), ms);
  });

  for (const bad of ['20150230T000000Z', '20151301T000000Z', '20150830T243600Z', '20150830T123660Z', '2015-08-30T12:36:00Z', '20150830T123600', '20150830T123600z', ' 20150830T123600Z']) {
    it(`rejects ${JSON.stringify(bad)}`, () => {
      assert.equal(parseSigningDate(bad), undefined);
    });
  }
});
