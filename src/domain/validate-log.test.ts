import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { INTEGER_FIELDS, LOG_FIELDS, STRING_FIELDS, type Log } from './log.js';
import { parseIsoDate, US_PER_DAY, US_PER_MS } from './time.js';
import { MAX_RAW_FIELD_CHARS, MAX_SHORT_FIELD_CHARS, validateLog, type LogValidationLimits } from './validate-log.js';

/** The example log of the reference file, with a microsecond QueryDate. */
function goodLog(): Log {
  return {
    AccountId: '123456789012',
    CallDuration: 47,
    QueryAccessKey: 'ABCDEFGHIJ0123456789',
    QueryApiName: 'oapi',
    QueryApiVersion: '1.27',
    QueryCallName: 'ReadAccessKeys',
    QueryDate: '2017-05-10T12:34:56.789012Z',
    QueryHeaderRaw: 'Host: api.eu-west-2.outscale.com\\nAccept: */*\\nAuthorization: *****',
    QueryHeaderSize: 287,
    QueryIpAddress: '192.0.2.0',
    QueryPayloadRaw: '{}',
    QueryPayloadSize: 2,
    QueryUserAgent: 'oAPI CLI v0.1 - 2018-09-28',
    RequestId: '0475ca1e-d0c5-441d-712a-da55a4175157',
    ResponseSize: 1887,
    ResponseStatusCode: 200,
  };
}

const DATE_US = Date.UTC(2017, 4, 10, 12, 34, 56) * US_PER_MS + 789_012;

function withField(field: string, value: unknown): Record<string, unknown> {
  return { ...goodLog(), [field]: value };
}

function withoutField(field: string): Record<string, unknown> {
  const log: Record<string, unknown> = { ...goodLog() };
  delete log[field];
  return log;
}

function rejection(input: unknown, limits?: LogValidationLimits): string {
  const result = validateLog(input, limits);
  assert.equal(result.ok, false, `expected a rejection for ${JSON.stringify(input)?.slice(0, 200)}`);
  return result.ok ? '' : result.error;
}

describe('validateLog', () => {
  it('accepts a complete record and converts QueryDate to microseconds', () => {
    const result = validateLog(goodLog());
    assert.equal(result.ok, true);
    if (!result.ok) return;
    const { QueryDate: _date, ...rest } = goodLog();
    assert.deepEqual(result.record, { ...rest, QueryDateUs: DATE_US });
    assert.equal('QueryDate' in result.record, false);
  });

  it('accepts a QueryDate with an offset and stores it in UTC', () => {
    const result = validateLog(withField('QueryDate', '2017-05-10T14:34:56.789012+02:00'));
    assert.equal(result.ok && result.record.QueryDateUs, DATE_US);
  });

  it('accepts the bounds of every integer field and of the status code', () => {
    for (const field of INTEGER_FIELDS) {
      if (field === 'ResponseStatusCode') continue;
      assert.equal(validateLog(withField(field, 0)).ok, true, `${field} = 0`);
      assert.equal(validateLog(withField(field, Number.MAX_SAFE_INTEGER)).ok, true, `${field} = MAX_SAFE_INTEGER`);
    }
    for (const status of [100, 200, 400, 403, 409, 429, 500, 503, 599]) {
      assert.equal(validateLog(withField('ResponseStatusCode', status)).ok, true, `status ${status}`);
    }
  });

  it('accepts raw fields at their length limit and short fields at theirs', () => {
    assert.equal(validateLog(withField('QueryPayloadRaw', 'x'.repeat(MAX_RAW_FIELD_CHARS))).ok, true);
    assert.equal(validateLog(withField('QueryHeaderRaw', 'x'.repeat(MAX_RAW_FIELD_CHARS))).ok, true);
    assert.equal(validateLog(withField('QueryUserAgent', 'x'.repeat(MAX_SHORT_FIELD_CHARS))).ok, true);
    assert.equal(validateLog(withField('RequestId', 'x'.repeat(MAX_SHORT_FIELD_CHARS))).ok, true);
  });

  it('accepts well-formed non-ASCII text in free-text fields', () => {
    assert.equal(validateLog(withField('QueryUserAgent', 'client/1.0 (é; 日本; 😀)')).ok, true);
    assert.equal(validateLog(withField('QueryPayloadRaw', '{"Description":"😀"}')).ok, true);
    assert.equal(validateLog(withField('QueryUserAgent', '')).ok, true);
    assert.equal(validateLog(withField('QueryPayloadRaw', '')).ok, true);
  });

  it('does not change the object it was given', () => {
    const input = goodLog();
    const copy = structuredClone(input);
    validateLog(input);
    assert.deepEqual(input, copy);
  });

  describe('rejects what is not a record', () => {
    for (const input of [null, undefined, 42, 'a log', true, [], [goodLog()]]) {
      it(`rejects ${JSON.stringify(input) ?? 'undefined'}`, () => {
        assert.equal(rejection(input), 'a record must be a JSON object');
      });
    }
  });

  describe('rejects a record with a missing field, naming it', () => {
    for (const field of LOG_FIELDS) {
      it(`without ${field}`, () => {
        assert.equal(rejection(withoutField(field)), `missing field ${field}`);
      });
    }
  });

  describe('rejects unknown fields, naming them', () => {
    it('rejects an extra field', () => {
      assert.equal(rejection(withField('QueryDateUs', 1)), 'unknown field "QueryDateUs"');
    });
    it('rejects a field spelled in another case', () => {
      assert.equal(rejection(withField('accountId', '123456789012')), 'unknown field "accountId"');
    });
    it('rejects a __proto__ key from parsed JSON', () => {
      const input: unknown = JSON.parse(JSON.stringify(goodLog()).replace(/^\{/, '{"__proto__":{"x":1},'));
      assert.equal(rejection(input), 'unknown field "__proto__"');
    });
    it('quotes at most 64 characters of a long unknown key', () => {
      const key = 'K'.repeat(10_000);
      assert.equal(rejection(withField(key, 1)), `unknown field "${'K'.repeat(64)}"`);
    });
  });

  describe('rejects a string field of another type, naming it', () => {
    for (const field of STRING_FIELDS) {
      for (const value of [12, null, true, [], {}, ['x']]) {
        it(`${field} = ${JSON.stringify(value)}`, () => {
          assert.equal(rejection(withField(field, value)), `${field} must be a string`);
        });
      }
    }
    for (const value of [12, null, [], {}]) {
      it(`QueryDate = ${JSON.stringify(value)}`, () => {
        assert.equal(rejection(withField('QueryDate', value)), 'QueryDate must be a string');
      });
    }
  });

  describe('rejects an integer field of another type, naming it', () => {
    for (const field of INTEGER_FIELDS) {
      for (const value of ['47', '200', null, true, [], {}, 1.5, 0.1, Number.NaN, Number.POSITIVE_INFINITY]) {
        it(`${field} = ${String(JSON.stringify(value) ?? value)}`, () => {
          assert.equal(rejection(withField(field, value)), `${field} must be an integer`);
        });
      }
    }
  });

  describe('rejects negative sizes and durations, naming the field', () => {
    for (const field of INTEGER_FIELDS) {
      if (field === 'ResponseStatusCode') continue;
      it(`${field} = -1`, () => {
        assert.equal(rejection(withField(field, -1)), `${field} must be between 0 and ${Number.MAX_SAFE_INTEGER}`);
      });
      it(`${field} beyond the safe integers`, () => {
        assert.match(rejection(withField(field, 2 ** 60)), new RegExp(`^${field} must be between`));
      });
    }
  });

  describe('rejects HTTP status codes out of range', () => {
    for (const status of [99, 600, 0, -200, 1000]) {
      it(`ResponseStatusCode = ${status}`, () => {
        assert.equal(rejection(withField('ResponseStatusCode', status)), 'ResponseStatusCode must be between 100 and 599');
      });
    }
  });

  describe('rejects an AccountId that is not 12 digits', () => {
    for (const id of ['12345678901', '1234567890123', '', 'abcdefghijkl', '12345678901a', ' 123456789012', '123456789012\n', '１２３４５６７８９０１２', '1234-5678-90']) {
      it(`AccountId = ${JSON.stringify(id)}`, () => {
        assert.equal(rejection(withField('AccountId', id)), 'AccountId must be 12 digits');
      });
    }
  });

  describe('rejects strings that are not valid Unicode, naming the field', () => {
    for (const field of [...STRING_FIELDS, 'QueryDate'] as const) {
      for (const [label, text] of [['a lone high surrogate', 'abc\uD800'], ['a lone low surrogate', '\uDC00abc'], ['reversed surrogates', '\uDC00\uD800']]) {
        it(`${field} with ${label}`, () => {
          assert.equal(rejection(withField(field, text)), `${field} is not valid Unicode`);
        });
      }
    }
  });

  describe('rejects overlong fields, naming them', () => {
    for (const field of ['QueryAccessKey', 'QueryApiName', 'QueryApiVersion', 'QueryCallName', 'QueryIpAddress', 'QueryUserAgent', 'RequestId', 'QueryDate'] as const) {
      it(`${field} of ${MAX_SHORT_FIELD_CHARS + 1} characters`, () => {
        assert.equal(rejection(withField(field, 'x'.repeat(MAX_SHORT_FIELD_CHARS + 1))), `${field} is longer than ${MAX_SHORT_FIELD_CHARS} characters`);
      });
    }
    for (const field of ['QueryHeaderRaw', 'QueryPayloadRaw'] as const) {
      it(`${field} of ${MAX_RAW_FIELD_CHARS + 1} characters`, () => {
        assert.equal(rejection(withField(field, 'x'.repeat(MAX_RAW_FIELD_CHARS + 1))), `${field} is longer than ${MAX_RAW_FIELD_CHARS} characters`);
      });
    }
  });

  describe('rejects identifiers that are empty or not printable ASCII', () => {
    for (const field of ['RequestId', 'QueryAccessKey', 'QueryApiName', 'QueryApiVersion', 'QueryCallName'] as const) {
      for (const value of ['', 'has space', 'tab\there', 'new\nline', 'nul\u0000', 'é', '\u007f']) {
        it(`${field} = ${JSON.stringify(value)}`, () => {
          assert.equal(rejection(withField(field, value)), `${field} must be non-empty printable ASCII without spaces`);
        });
      }
    }
  });

  describe('rejects a QueryDate that is not a date-time', () => {
    const message = 'QueryDate must be an ISO 8601 date-time such as 2021-08-11T09:55:02.842375Z';
    for (const text of ['2017-05-10', '2024-02-30T00:00:00Z', '2023-02-29T10:00:00Z', 'yesterday', '', '1969-12-31T23:59:59Z', '2017-05-10T24:00:00Z', '10/05/2017 12:34', '1494419696']) {
      it(`QueryDate = ${JSON.stringify(text)}`, () => {
        assert.equal(rejection(withField('QueryDate', text)), message);
      });
    }
  });

  describe('retention and future limits', () => {
    const limits = { minDateUs: DATE_US - 32 * US_PER_DAY, maxDateUs: DATE_US + 60_000_000 };

    it('accepts a record dated exactly at either limit', () => {
      assert.equal(validateLog(withField('QueryDate', '2017-04-08T12:34:56.789012Z'), limits).ok, true);
      assert.equal(validateLog(withField('QueryDate', '2017-05-10T12:35:56.789012Z'), limits).ok, true);
    });

    it('rejects a record one microsecond older than the retention period', () => {
      assert.equal(rejection(withField('QueryDate', '2017-04-08T12:34:56.789011Z'), limits), 'QueryDate is older than the retention period');
    });

    it('rejects a record one microsecond beyond the future limit', () => {
      assert.equal(rejection(withField('QueryDate', '2017-05-10T12:35:56.789013Z'), limits), 'QueryDate is in the future');
    });

    it('applies no limit that was not given', () => {
      assert.equal(validateLog(withField('QueryDate', '1970-01-01T00:00:00Z')).ok, true);
      assert.equal(validateLog(withField('QueryDate', '2200-01-01T00:00:00Z')).ok, true);
    });
  });

  it('either accepts or names a field, for any single field replaced by any JSON value', () => {
    fc.assert(
      fc.property(fc.constantFrom(...LOG_FIELDS), fc.jsonValue(), (field, value) => {
        const result = validateLog(withField(field, value));
        if (result.ok) {
          const { QueryDate, ...rest } = withField(field, value) as unknown as Log;
          assert.deepEqual({ ...result.record }, { ...rest, QueryDateUs: parseIsoDate(QueryDate)?.us });
        } else {
          assert.ok(result.error.startsWith(field), `${result.error} should name ${field}`);
        }
      }),
      { numRuns: 500 },
    );
  });
});
