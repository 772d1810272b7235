import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { LOG_FIELDS, recordTextBytes, recordTextBytesBound, toWireLog, wireLogJson, type LogRecord } from './log.js';

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
  it('is JSON of the same value as the wire Log, fields in Log order, for any text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (text) => {
        const json = wireLogJson(record(text));
        assert.deepEqual(JSON.parse(json), toWireLog(record(text)));
        assert.deepEqual(Object.keys(JSON.parse(json) as object), [...LOG_FIELDS]);
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('recordTextBytes', () => {
  it('counts the UTF-8 bytes of the string fields, and recordTextBytesBound is never below it', () => {
    // record(text) puts the text in five string fields.
    const base = recordTextBytes(record(''));
    assert.equal(recordTextBytes(record('é😀a')), base + 5 * (2 + 4 + 1));
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }).filter((s) => s.isWellFormed()), (text) => {
        const r = record(text);
        assert.equal(recordTextBytes(r), base + 5 * Buffer.byteLength(text, 'utf8'));
        assert.ok(recordTextBytesBound(r) >= recordTextBytes(r));
      }),
      { numRuns: 1_000 },
    );
  });
});
