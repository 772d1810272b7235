import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { OmsError } from '../domain/oms-error.js';
import { parseIsoDate, type ParsedDate } from '../domain/time.js';
import { PAGE_TOKEN_TTL_MS, PageTokenCodec, digestFilters, type PageState } from './page-token.js';
import type { ApiLogFilters } from './parse-request.js';

const KEY = Buffer.alloc(32, 0x5a);
const ACCOUNT = '123456789012';
const OTHER_ACCOUNT = '210987654321';
const NOW_MS = Date.UTC(2024, 0, 2, 10, 20, 30);
const STATE: PageState = {
  fromUs: 1_704_000_000_123_456,
  toUs: 1_704_172_800_654_321,
  maxSeq: 987_654,
  afterDateUs: 1_704_100_000_111_222,
  afterSeq: 4_321,
};
const DIGEST = digestFilters({ QueryCallNames: ['ReadVms'] }, undefined, undefined);
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function date(text: string): ParsedDate {
  const parsed = parseIsoDate(text);
  assert.ok(parsed !== undefined);
  return parsed;
}

function assertInvalid(fn: () => unknown, details?: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof OmsError, `expected an OmsError, got ${String(err)}`);
    assert.equal(err.kind, 'InvalidPageToken');
    if (details !== undefined) assert.equal(err.details, details);
    return true;
  });
}

const INVALID = 'The NextPageToken is not valid for this request.';

describe('PageTokenCodec', () => {
  const codec = new PageTokenCodec(KEY);
  const token = codec.encode(ACCOUNT, DIGEST, STATE, NOW_MS);

  it('refuses a key that is not 32 bytes', () => {
    assert.throws(() => new PageTokenCodec(Buffer.alloc(16)));
    assert.throws(() => new PageTokenCodec(Buffer.alloc(33)));
  });

  it('decodes its own token to the same state', () => {
    assert.deepEqual(codec.decode(token, ACCOUNT, DIGEST, NOW_MS), STATE);
  });

  it('round-trips any state of safe integers', () => {
    const int = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
    fc.assert(
      fc.property(fc.record({ fromUs: int, toUs: int, maxSeq: int, afterDateUs: int, afterSeq: int }), (generated) => {
        const state: PageState = { ...generated };
        assert.deepEqual(codec.decode(codec.encode(ACCOUNT, DIGEST, state, NOW_MS), ACCOUNT, DIGEST, NOW_MS), state);
      }),
      { numRuns: 300 },
    );
  });

  it('is accepted by another codec holding the same key (another replica)', () => {
    assert.deepEqual(new PageTokenCodec(Buffer.from(KEY)).decode(token, ACCOUNT, DIGEST, NOW_MS), STATE);
  });

  it('gives a different token each time for the same state', () => {
    assert.notEqual(codec.encode(ACCOUNT, DIGEST, STATE, NOW_MS), codec.encode(ACCOUNT, DIGEST, STATE, NOW_MS));
  });

  it('is URL-safe text', () => {
    assert.match(token, /^[A-Za-z0-9_-]+$/);
  });

  it('is opaque: neither the text nor its bytes show the account, the digest or the numbers', () => {
    const raw = Buffer.from(token, 'base64url').toString('latin1');
    for (const secret of [ACCOUNT, DIGEST, ...Object.values(STATE).map(String), String(NOW_MS + PAGE_TOKEN_TTL_MS), 'fromUs', '"w"']) {
      assert.equal(token.includes(secret), false, `token shows ${secret}`);
      assert.equal(raw.includes(secret), false, `token bytes show ${secret}`);
    }
  });

  it('a token for another account is rejected', () => {
    assertInvalid(() => codec.decode(token, OTHER_ACCOUNT, DIGEST, NOW_MS), INVALID);
  });

  it('a token for other filters is rejected', () => {
    const other = digestFilters({ QueryCallNames: ['ReadVolumes'] }, undefined, undefined);
    assertInvalid(() => codec.decode(token, ACCOUNT, other, NOW_MS), 'The NextPageToken was issued for other filters.');
  });

  it('a token sealed with another key is rejected', () => {
    assertInvalid(() => new PageTokenCodec(randomBytes(32)).decode(token, ACCOUNT, DIGEST, NOW_MS), INVALID);
  });

  it('is valid until 24 hours after it was issued, and expired from then on', () => {
    assert.equal(PAGE_TOKEN_TTL_MS, 24 * 60 * 60 * 1000);
    assert.deepEqual(codec.decode(token, ACCOUNT, DIGEST, NOW_MS + PAGE_TOKEN_TTL_MS - 1), STATE);
    assertInvalid(() => codec.decode(token, ACCOUNT, DIGEST, NOW_MS + PAGE_TOKEN_TTL_MS), 'The NextPageToken has expired.');
    assertInvalid(() => codec.decode(token, ACCOUNT, DIGEST, NOW_MS + 30 * 24 * 60 * 60 * 1000), 'The NextPageToken has expired.');
  });

  it('a truncated token is rejected, whatever its length', () => {
    for (let length = 0; length < token.length; length++) {
      assertInvalid(() => codec.decode(token.slice(0, length), ACCOUNT, DIGEST, NOW_MS));
    }
  });

  it('a token with bytes appended is rejected', () => {
    assertInvalid(() => codec.decode(token + 'A', ACCOUNT, DIGEST, NOW_MS));
    assertInvalid(() => codec.decode(token + 'AAAA', ACCOUNT, DIGEST, NOW_MS));
    const raw = Buffer.from(token, 'base64url');
    assertInvalid(() => codec.decode(Buffer.concat([raw, Buffer.of(0)]).toString('base64url'), ACCOUNT, DIGEST, NOW_MS));
  });

  it('a token with one bit flipped anywhere in its bytes is rejected', () => {
    const raw = Buffer.from(token, 'base64url');
    fc.assert(
      fc.property(fc.integer({ min: 0, max: raw.length * 8 - 1 }), (bit) => {
        const altered = Buffer.from(raw);
        altered[bit >> 3] = (altered[bit >> 3] as number) ^ (1 << (bit & 7));
        assertInvalid(() => codec.decode(altered.toString('base64url'), ACCOUNT, DIGEST, NOW_MS));
      }),
      { numRuns: raw.length * 8 },
    );
  });

  it('a token with any one character changed is rejected, the last one included', () => {
    for (let i = 0; i < token.length; i++) {
      for (const ch of BASE64URL) {
        if (ch === token[i]) continue;
        const altered = token.slice(0, i) + ch + token.slice(i + 1);
        assertInvalid(() => codec.decode(altered, ACCOUNT, DIGEST, NOW_MS));
      }
    }
  });

  describe('garbage is rejected with InvalidPageToken', () => {
    const garbage = [
      '',
      ' ',
      'null',
      'undefined',
      '{}',
      'A'.repeat(40),
      'A'.repeat(100),
      'A'.repeat(2048),
      'A'.repeat(2049),
      '_'.repeat(64),
      '-'.repeat(64),
      `${token}=`,
      `${token.slice(0, 20)} ${token.slice(21)}`,
      `${token.slice(0, 20)}+${token.slice(21)}`,
      `${token.slice(0, 20)}/${token.slice(21)}`,
      Buffer.from(token, 'base64url').toString('base64'),
      Buffer.from(JSON.stringify({ f: DIGEST, w: [0, 1], m: 1, c: [0, 0], e: NOW_MS + 1000 })).toString('base64url'),
      Buffer.concat([Buffer.of(2), Buffer.from(token, 'base64url').subarray(1)]).toString('base64url'),
      '\u0000'.repeat(50),
      'é'.repeat(50),
    ];
    for (const text of garbage) {
      it(`${JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}…` : text)}`, () => {
        assertInvalid(() => codec.decode(text, ACCOUNT, DIGEST, NOW_MS));
      });
    }

    it('any string at all', () => {
      fc.assert(
        fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 120 }), fc.stringMatching(/^[A-Za-z0-9_-]{40,200}$/)), (text) => {
          assertInvalid(() => codec.decode(text, ACCOUNT, DIGEST, NOW_MS));
        }),
        { numRuns: 1_000 },
      );
    });
  });
});

describe('digestFilters', () => {
  const base: ApiLogFilters = { QueryCallNames: ['ReadVms', 'CreateVolume'], ResponseStatusCodes: [200, 400] };

  it('is a short URL-safe text', () => {
    assert.match(digestFilters(base, undefined, undefined), /^[A-Za-z0-9_-]{22}$/);
  });

  it('ignores the order of values and their duplicates', () => {
    const digest = digestFilters(base, undefined, undefined);
    assert.equal(digestFilters({ QueryCallNames: ['CreateVolume', 'ReadVms', 'ReadVms'], ResponseStatusCodes: [400, 200, 400] }, undefined, undefined), digest);
  });

  it('ignores the order of filters in the request', () => {
    assert.equal(
      digestFilters({ ResponseStatusCodes: [200, 400], QueryCallNames: ['ReadVms', 'CreateVolume'] }, undefined, undefined),
      digestFilters(base, undefined, undefined),
    );
  });

  it('treats an empty list as no filter, as the selection does', () => {
    assert.equal(digestFilters({ ...base, RequestIds: [] }, undefined, undefined), digestFilters(base, undefined, undefined));
  });

  it('changes with any value', () => {
    const digest = digestFilters(base, undefined, undefined);
    assert.notEqual(digestFilters({ ...base, QueryCallNames: ['ReadVms'] }, undefined, undefined), digest);
    assert.notEqual(digestFilters({ ...base, QueryCallNames: ['ReadVms', 'CreateVolumes'] }, undefined, undefined), digest);
    assert.notEqual(digestFilters({ ...base, ResponseStatusCodes: [200] }, undefined, undefined), digest);
    assert.notEqual(digestFilters({ ...base, QueryIpAddresses: ['192.0.2.0'] }, undefined, undefined), digest);
  });

  it('tells apart the same values under different filters', () => {
    const names = ['QueryAccessKeys', 'QueryApiNames', 'QueryCallNames', 'QueryIpAddresses', 'QueryUserAgents', 'RequestIds'] as const;
    const digests = new Set(names.map((name) => digestFilters({ [name]: ['x'] }, undefined, undefined)));
    assert.equal(digests.size, names.length);
  });

  it('does not merge values that contain separators', () => {
    assert.notEqual(digestFilters({ QueryUserAgents: ['a,b'] }, undefined, undefined), digestFilters({ QueryUserAgents: ['a', 'b'] }, undefined, undefined));
    assert.notEqual(digestFilters({ QueryUserAgents: ['a"],["b'] }, undefined, undefined), digestFilters({ QueryUserAgents: ['a'], QueryApiNames: ['b'] }, undefined, undefined));
  });

  it('changes with the dates, their side, and whether they were date-only', () => {
    const day = date('2017-05-10');
    const midnight = date('2017-05-10T00:00:00Z');
    const digests = [
      digestFilters(base, undefined, undefined),
      digestFilters(base, day, undefined),
      digestFilters(base, undefined, day),
      digestFilters(base, midnight, undefined),
      digestFilters(base, undefined, midnight),
      digestFilters(base, date('2017-05-10T00:00:00.000001Z'), undefined),
      digestFilters(base, day, date('2017-05-11')),
    ];
    assert.equal(new Set(digests).size, digests.length);
  });

  it('is the same for any permutation with duplicates of the same values', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string(), { minLength: 1, maxLength: 8 }), fc.array(fc.nat()), (values, picks) => {
        const shuffled = [...values].reverse();
        for (const pick of picks) shuffled.push(values[pick % values.length] as string);
        assert.equal(
          digestFilters({ QueryUserAgents: shuffled }, undefined, undefined),
          digestFilters({ QueryUserAgents: values }, undefined, undefined),
        );
      }),
    );
  });
});
