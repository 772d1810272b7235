import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LOG_FIELDS } from '../domain/log.js';
import { OmsError, type ErrorKind } from '../domain/oms-error.js';
import { US_PER_MS } from '../domain/time.js';
import { DEFAULT_RESULTS_PER_PAGE, MAX_FILTER_VALUE_CHARS, MAX_FILTER_VALUES, parseReadApiLogsRequest } from './parse-request.js';

const LIST_FILTERS = ['QueryAccessKeys', 'QueryApiNames', 'QueryCallNames', 'QueryIpAddresses', 'QueryUserAgents', 'RequestIds'] as const;
const DATE_MESSAGE = 'must be an ISO 8601 date or date-time such as 2020-06-14 or 2020-06-14T00:00:00.000Z.';

function thrown(body: unknown): OmsError {
  try {
    parseReadApiLogsRequest(body);
  } catch (err) {
    assert.ok(err instanceof OmsError, `expected an OmsError, got ${String(err)}`);
    return err;
  }
  assert.fail(`expected ${JSON.stringify(body)?.slice(0, 200)} to be rejected`);
}

type Case = [label: string, body: unknown, kind: ErrorKind, details: string];

const CASES: Case[] = [
  // The body itself.
  ['a JSON array body', [], 'InvalidParameterValue', 'The request body must be a JSON object.'],
  ['a JSON string body', 'Filters', 'InvalidParameterValue', 'The request body must be a JSON object.'],
  ['a JSON number body', 42, 'InvalidParameterValue', 'The request body must be a JSON object.'],
  ['a null body', null, 'InvalidParameterValue', 'The request body must be a JSON object.'],
  ['an absent body', undefined, 'InvalidParameterValue', 'The request body must be a JSON object.'],
  // ResultsPerPage.
  ['ResultsPerPage as the string "10"', { ResultsPerPage: '10' }, 'InvalidParameterValue', 'ResultsPerPage must be an integer.'],
  ['ResultsPerPage 1.5', { ResultsPerPage: 1.5 }, 'InvalidParameterValue', 'ResultsPerPage must be an integer.'],
  ['ResultsPerPage 0', { ResultsPerPage: 0 }, 'InvalidParameterValue', 'ResultsPerPage must be between 1 and 1000.'],
  ['ResultsPerPage 1001', { ResultsPerPage: 1001 }, 'InvalidParameterValue', 'ResultsPerPage must be between 1 and 1000.'],
  ['ResultsPerPage -1', { ResultsPerPage: -1 }, 'InvalidParameterValue', 'ResultsPerPage must be between 1 and 1000.'],
  ['ResultsPerPage true', { ResultsPerPage: true }, 'InvalidParameterValue', 'ResultsPerPage must be an integer.'],
  ['ResultsPerPage null', { ResultsPerPage: null }, 'InvalidParameterValue', 'ResultsPerPage must be an integer.'],
  ['ResultsPerPage as a list', { ResultsPerPage: [10] }, 'InvalidParameterValue', 'ResultsPerPage must be an integer.'],
  ['ResultsPerPage 1e300', { ResultsPerPage: 1e300 }, 'InvalidParameterValue', 'ResultsPerPage must be between 1 and 1000.'],
  // Unknown keys at each level.
  ['an unknown top-level parameter', { Foo: 1 }, 'UnknownParameter', 'Unknown parameter "Foo".'],
  ['a parameter in the wrong case', { resultsPerPage: 10 }, 'UnknownParameter', 'Unknown parameter "resultsPerPage".'],
  ['a filter given at the top level', { QueryCallNames: ['ReadVms'] }, 'UnknownParameter', 'Unknown parameter "QueryCallNames".'],
  ['an unknown filter', { Filters: { QueryRegions: ['eu-west-2'] } }, 'UnknownParameter', 'Unknown filter "QueryRegions".'],
  ['a filter in the singular', { Filters: { QueryCallName: ['ReadVms'] } }, 'UnknownParameter', 'Unknown filter "QueryCallName".'],
  ['an unknown With key', { With: { Region: true } }, 'UnknownParameter', 'Unknown With key "Region".'],
  ['a With key in the plural', { With: { QueryCallNames: false } }, 'UnknownParameter', 'Unknown With key "QueryCallNames".'],
  ['a __proto__ parameter', JSON.parse('{"__proto__":{"DryRun":true}}'), 'UnknownParameter', 'Unknown parameter "__proto__".'],
  ['a constructor filter', { Filters: { constructor: [] } }, 'UnknownParameter', 'Unknown filter "constructor".'],
  ['an unknown key next to a type error', { ResultsPerPage: 'ten', Foo: 1 }, 'UnknownParameter', 'Unknown parameter "Foo".'],
  ['a very long unknown key', { ['K'.repeat(500)]: 1 }, 'UnknownParameter', `Unknown parameter "${'K'.repeat(64)}…".`],
  // Wrong types at the top level.
  ['DryRun as a string', { DryRun: 'true' }, 'InvalidParameterValue', 'DryRun must be a boolean.'],
  ['DryRun as 1', { DryRun: 1 }, 'InvalidParameterValue', 'DryRun must be a boolean.'],
  ['Filters as null', { Filters: null }, 'InvalidParameterValue', 'Filters must be an object.'],
  ['Filters as a list', { Filters: [] }, 'InvalidParameterValue', 'Filters must be an object.'],
  ['Filters as a string', { Filters: 'QueryCallNames=ReadVms' }, 'InvalidParameterValue', 'Filters must be an object.'],
  ['With as a list', { With: ['AccountId'] }, 'InvalidParameterValue', 'With must be an object.'],
  ['With as true', { With: true }, 'InvalidParameterValue', 'With must be an object.'],
  ['a With value as a string', { With: { AccountId: 'false' } }, 'InvalidParameterValue', 'With.AccountId must be a boolean.'],
  ['a With value as 0', { With: { QueryDate: 0 } }, 'InvalidParameterValue', 'With.QueryDate must be a boolean.'],
  ['a With value as null', { With: { RequestId: null } }, 'InvalidParameterValue', 'With.RequestId must be a boolean.'],
  ['NextPageToken as a number', { NextPageToken: 5 }, 'InvalidParameterValue', 'NextPageToken must be a string.'],
  ['NextPageToken as null', { NextPageToken: null }, 'InvalidParameterValue', 'NextPageToken must be a string.'],
  ['a NextPageToken with a NUL', { NextPageToken: 'AAAA\u0000AAAA' }, 'InvalidPageToken', 'The NextPageToken is not valid for this request.'],
  // Wrong types in the filters.
  ...LIST_FILTERS.flatMap((name): Case[] => [
    [`${name} as a single string`, { Filters: { [name]: 'x' } }, 'InvalidParameterValue', `Filters.${name} must be a list.`],
    [`${name} as an object`, { Filters: { [name]: { 0: 'x' } } }, 'InvalidParameterValue', `Filters.${name} must be a list.`],
    [`${name} as null`, { Filters: { [name]: null } }, 'InvalidParameterValue', `Filters.${name} must be a list.`],
    [`a number in ${name}`, { Filters: { [name]: ['x', 200] } }, 'InvalidParameterValue', `Filters.${name}[1] must be a string.`],
    [`null in ${name}`, { Filters: { [name]: [null] } }, 'InvalidParameterValue', `Filters.${name}[0] must be a string.`],
    [`a nested list in ${name}`, { Filters: { [name]: [['x']] } }, 'InvalidParameterValue', `Filters.${name}[0] must be a string.`],
    [`a NUL in ${name}`, { Filters: { [name]: ['ok', 'x\u0000y'] } }, 'InvalidParameterValue', `Filters.${name} contains a character that is not allowed.`],
    [`a lone surrogate in ${name}`, { Filters: { [name]: ['\uD83D'] } }, 'InvalidParameterValue', `Filters.${name} contains a character that is not allowed.`],
    [`an overlong value in ${name}`, { Filters: { [name]: ['x'.repeat(MAX_FILTER_VALUE_CHARS + 1)] } }, 'InvalidParameterValue', `Filters.${name}[0] is too long.`],
    [`too many values in ${name}`, { Filters: { [name]: Array.from({ length: MAX_FILTER_VALUES + 1 }, (_, i) => `v${i}`) } }, 'InvalidParameterValue', `Filters.${name} accepts at most ${MAX_FILTER_VALUES} values.`],
  ]),
  ['ResponseStatusCodes as a single integer', { Filters: { ResponseStatusCodes: 200 } }, 'InvalidParameterValue', 'Filters.ResponseStatusCodes must be a list.'],
  ['a float status code', { Filters: { ResponseStatusCodes: [200, 200.5] } }, 'InvalidParameterValue', 'Filters.ResponseStatusCodes[1] must be an integer.'],
  ['a string status code', { Filters: { ResponseStatusCodes: ['200'] } }, 'InvalidParameterValue', 'Filters.ResponseStatusCodes[0] must be an integer.'],
  ['a boolean status code', { Filters: { ResponseStatusCodes: [true] } }, 'InvalidParameterValue', 'Filters.ResponseStatusCodes[0] must be an integer.'],
  ['status code 99', { Filters: { ResponseStatusCodes: [99] } }, 'InvalidParameterValue', 'Filters.ResponseStatusCodes[0] must be an HTTP status code between 100 and 599.'],
  ['status code 600', { Filters: { ResponseStatusCodes: [200, 600] } }, 'InvalidParameterValue', 'Filters.ResponseStatusCodes[1] must be an HTTP status code between 100 and 599.'],
  ['a negative status code', { Filters: { ResponseStatusCodes: [-200] } }, 'InvalidParameterValue', 'Filters.ResponseStatusCodes[0] must be an HTTP status code between 100 and 599.'],
  ['too many status codes', { Filters: { ResponseStatusCodes: Array.from({ length: MAX_FILTER_VALUES + 1 }, () => 200) } }, 'InvalidParameterValue', `Filters.ResponseStatusCodes accepts at most ${MAX_FILTER_VALUES} values.`],
  // Dates.
  ['QueryDateAfter 2024-02-30', { Filters: { QueryDateAfter: '2024-02-30' } }, 'InvalidParameterValue', `Filters.QueryDateAfter ${DATE_MESSAGE}`],
  ['QueryDateBefore 2024-02-30', { Filters: { QueryDateBefore: '2024-02-30' } }, 'InvalidParameterValue', `Filters.QueryDateBefore ${DATE_MESSAGE}`],
  ['QueryDateAfter yesterday', { Filters: { QueryDateAfter: 'yesterday' } }, 'InvalidParameterValue', `Filters.QueryDateAfter ${DATE_MESSAGE}`],
  ['QueryDateBefore yesterday', { Filters: { QueryDateBefore: 'yesterday' } }, 'InvalidParameterValue', `Filters.QueryDateBefore ${DATE_MESSAGE}`],
  ['QueryDateAfter 2024-1-1', { Filters: { QueryDateAfter: '2024-1-1' } }, 'InvalidParameterValue', `Filters.QueryDateAfter ${DATE_MESSAGE}`],
  ['QueryDateAfter at hour 24', { Filters: { QueryDateAfter: '2024-01-01T24:00:00Z' } }, 'InvalidParameterValue', `Filters.QueryDateAfter ${DATE_MESSAGE}`],
  ['QueryDateBefore before 1970', { Filters: { QueryDateBefore: '1969-07-20' } }, 'InvalidParameterValue', `Filters.QueryDateBefore ${DATE_MESSAGE}`],
  ['QueryDateAfter with a NUL', { Filters: { QueryDateAfter: '2024-01-01\u0000' } }, 'InvalidParameterValue', `Filters.QueryDateAfter ${DATE_MESSAGE}`],
  ['QueryDateAfter as a number', { Filters: { QueryDateAfter: 20240101 } }, 'InvalidParameterValue', 'Filters.QueryDateAfter must be a string.'],
  ['QueryDateBefore as a list', { Filters: { QueryDateBefore: ['2024-01-01'] } }, 'InvalidParameterValue', 'Filters.QueryDateBefore must be a string.'],
  ['an overlong QueryDateAfter', { Filters: { QueryDateAfter: '2'.repeat(65) } }, 'InvalidParameterValue', 'Filters.QueryDateAfter is too long.'],
];

describe('parseReadApiLogsRequest', () => {
  it('has a table of at least 40 rejected bodies', () => {
    assert.ok(CASES.length >= 40, `only ${CASES.length} cases`);
  });

  describe('rejects with the right kind and details', () => {
    for (const [label, body, kind, details] of CASES) {
      it(`${label} is ${kind}`, () => {
        const err = thrown(body);
        assert.equal(err.kind, kind);
        assert.equal(err.details, details);
      });
    }
  });

  describe('accepts', () => {
    it('an empty body with the defaults: 100 per page, not a dry run, all 16 fields', () => {
      const parsed = parseReadApiLogsRequest({});
      assert.deepEqual(parsed, { dryRun: false, filters: {}, resultsPerPage: DEFAULT_RESULTS_PER_PAGE, fields: LOG_FIELDS });
      assert.equal(parsed.resultsPerPage, 100);
      assert.equal('nextPageToken' in parsed, false);
      assert.equal('dateAfter' in parsed, false);
      assert.equal('dateBefore' in parsed, false);
    });

    it('ResultsPerPage at both bounds', () => {
      assert.equal(parseReadApiLogsRequest({ ResultsPerPage: 1 }).resultsPerPage, 1);
      assert.equal(parseReadApiLogsRequest({ ResultsPerPage: 1000 }).resultsPerPage, 1000);
    });

    it('DryRun true and false', () => {
      assert.equal(parseReadApiLogsRequest({ DryRun: true }).dryRun, true);
      assert.equal(parseReadApiLogsRequest({ DryRun: false }).dryRun, false);
    });

    it('the example request of the reference file', () => {
      const filters = { QueryIpAddresses: ['192.0.2.0', '198.51.100.0'], QueryDateAfter: '2017-05-10', QueryDateBefore: '2017-05-10' };
      const parsed = parseReadApiLogsRequest({ Filters: filters });
      assert.deepEqual(parsed.filters, filters);
      assert.deepEqual(parsed.dateAfter, { us: Date.UTC(2017, 4, 10) * US_PER_MS, dateOnly: true });
      assert.deepEqual(parsed.dateBefore, { us: Date.UTC(2017, 4, 10) * US_PER_MS, dateOnly: true });
    });

    it('date-times with fractions and offsets', () => {
      const parsed = parseReadApiLogsRequest({ Filters: { QueryDateAfter: '2020-06-14T00:00:00.000Z', QueryDateBefore: '2020-06-30T02:00:00+02:00' } });
      assert.deepEqual(parsed.dateAfter, { us: Date.UTC(2020, 5, 14) * US_PER_MS, dateOnly: false });
      assert.deepEqual(parsed.dateBefore, { us: Date.UTC(2020, 5, 30) * US_PER_MS, dateOnly: false });
    });

    it('every filter with good values, and empty lists', () => {
      const filters = {
        QueryAccessKeys: ['ABCDEFGHIJ0123456789'],
        QueryApiNames: ['oapi'],
        QueryCallNames: ['ReadVms', 'CreateVolume'],
        QueryIpAddresses: ['192.0.2.0', '2001:db8::1'],
        QueryUserAgents: ['osc-cli/1.11', 'é 日本 😀'],
        RequestIds: [],
        ResponseStatusCodes: [200, 400, 599, 100],
      };
      assert.deepEqual(parseReadApiLogsRequest({ Filters: filters }).filters, filters);
    });

    it('a NextPageToken as given, for the token codec to judge', () => {
      assert.equal(parseReadApiLogsRequest({ NextPageToken: 'abc' }).nextPageToken, 'abc');
      assert.equal(parseReadApiLogsRequest({ NextPageToken: '' }).nextPageToken, '');
    });

    it('status codes written as whole floats such as 200.0', () => {
      assert.deepEqual(parseReadApiLogsRequest(JSON.parse('{"Filters":{"ResponseStatusCodes":[200.0]}}')).filters.ResponseStatusCodes, [200]);
    });
  });

  describe('With', () => {
    it('an empty With shows all 16 fields in schema order', () => {
      assert.deepEqual(parseReadApiLogsRequest({ With: {} }).fields, LOG_FIELDS);
    });

    it('a field set to false is left out, the others keep schema order', () => {
      const parsed = parseReadApiLogsRequest({ With: { QueryHeaderRaw: false, AccountId: false, QueryPayloadRaw: false } });
      assert.deepEqual(
        parsed.fields,
        LOG_FIELDS.filter((f) => f !== 'AccountId' && f !== 'QueryHeaderRaw' && f !== 'QueryPayloadRaw'),
      );
    });

    it('fields set to true are kept in schema order, whatever order the request lists them in', () => {
      const parsed = parseReadApiLogsRequest({ With: { ResponseStatusCode: true, AccountId: true, QueryDate: true } });
      assert.deepEqual(parsed.fields, LOG_FIELDS);
    });

    it('all fields false shows none', () => {
      const parsed = parseReadApiLogsRequest({ With: Object.fromEntries(LOG_FIELDS.map((f) => [f, false])) });
      assert.deepEqual(parsed.fields, []);
    });

    it('resolves any With object to the fields not set to false, in schema order', () => {
      fc.assert(
        fc.property(fc.dictionary(fc.constantFrom(...LOG_FIELDS), fc.boolean()), (withKeys) => {
          const parsed = parseReadApiLogsRequest({ With: withKeys });
          assert.deepEqual(parsed.fields, LOG_FIELDS.filter((f) => withKeys[f] !== false));
        }),
      );
    });
  });

  describe('never fails with anything but an OmsError', () => {
    function classify(body: unknown): void {
      try {
        parseReadApiLogsRequest(body);
      } catch (err) {
        if (!(err instanceof OmsError)) throw err;
        assert.ok(['UnknownParameter', 'InvalidParameterValue', 'InvalidPageToken'].includes(err.kind));
        assert.ok(err.details.length > 0 && err.details.length < 300);
      }
    }

    it('for any JSON value', () => {
      fc.assert(fc.property(fc.jsonValue(), classify), { numRuns: 1_000 });
    });

    it('for any JSON text, decoded', () => {
      fc.assert(
        fc.property(fc.json(), (text) => classify(JSON.parse(text))),
        { numRuns: 1_000 },
      );
    });

    const hostile = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.constantFrom('', '\u0000', '\uD800', "' OR 1=1 --", '%', '_', '\\', '*', '2017-05-10', '2024-02-30', '::ffff:1.2.3.4', '../../etc/passwd'),
    );
    const anyValue = fc.oneof(fc.jsonValue({ maxDepth: 2 }), hostile, fc.array(hostile, { maxLength: 4 }), fc.array(fc.integer(), { maxLength: 4 }));
    const filterName = fc.constantFrom(...LIST_FILTERS, 'ResponseStatusCodes', 'QueryDateAfter', 'QueryDateBefore', 'Unknown');

    it('for requests shaped like ReadApiLogs with hostile values in every place', () => {
      fc.assert(
        fc.property(
          fc.record(
            {
              DryRun: anyValue,
              Filters: fc.oneof(fc.dictionary(filterName, anyValue), anyValue),
              NextPageToken: anyValue,
              ResultsPerPage: fc.oneof(fc.integer({ min: -5, max: 1005 }), fc.double(), anyValue),
              With: fc.oneof(fc.dictionary(fc.constantFrom(...LOG_FIELDS, 'Unknown'), fc.oneof(fc.boolean(), anyValue)), anyValue),
            },
            { requiredKeys: [] },
          ),
          classify,
        ),
        { numRuns: 2_000 },
      );
    });

    it('and whatever it accepts holds only strings in the list filters and integers 100..599 in the status codes', () => {
      fc.assert(
        fc.property(fc.dictionary(filterName, anyValue), (filters) => {
          let parsed;
          try {
            parsed = parseReadApiLogsRequest({ Filters: filters });
          } catch (err) {
            assert.ok(err instanceof OmsError);
            return;
          }
          for (const name of LIST_FILTERS) {
            for (const value of parsed.filters[name] ?? []) {
              assert.equal(typeof value, 'string');
              assert.ok(!value.includes('\u0000') && value.isWellFormed());
            }
          }
          for (const code of parsed.filters.ResponseStatusCodes ?? []) assert.ok(Number.isInteger(code) && code >= 100 && code <= 599);
        }),
        { numRuns: 1_000 },
      );
    });
  });
});
