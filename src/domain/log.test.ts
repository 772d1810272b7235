import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { asciiJson, LOG_FIELDS, toWireLog, wireLogJson, type LogRecord } from './log.js';

const record = (text: string): LogRecord => ({
  AccountId: '123456789012',
  CallDuration: 1,
  QueryAccessKey: text,
  QueryApiName: 'oapi',
  QueryApiVersion: '1.40',
  QueryCallName: 'ReadVms',
  QueryDateUs: 1_700_000_000_123_456,
  QueryHeaderRaw: `Host: x\\n${text}`,
  QueryHeaderSize: 2,
  QueryIpAddress: '192.0.2.1',
  QueryPayloadRaw: text,
  QueryPayloadSize: 3,
  QueryUserAgent: text,
  RequestId: text,
  ResponseSize: 4,
  ResponseStatusCode: 200,
});

describe('wireLogJson', () => {
  it('is printable ASCII JSON of the same value as the wire Log, fields in Log order, for any text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (text) => {
        const json = wireLogJson(record(text));
        assert.match(json, /^[\x20-\x7e]*$/);
        assert.deepEqual(JSON.parse(json), toWireLog(record(text)));
        assert.deepEqual(Object.keys(JSON.parse(json) as object), [...LOG_FIELDS]);
      }),
      { numRuns: 2_000 },
    );
  });

  it('writes characters beyond ASCII as \\u escapes, surrogate pairs as two', () => {
    assert.equal(asciiJson(JSON.stringify('é中😀')), '"\\u00e9\\u4e2d\\ud83d\\ude00"');
    assert.equal(asciiJson('"plain"'), '"plain"');
  });
});
