import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { callSigned, ManualClock, startTestServer, type TestKey, type TestServer } from '../fixtures/test-server.js';

type Expect = [status: number, code: string];

const E3001: Expect = [400, '3001'];
const E4045: Expect = [400, '4045'];
const E4078: Expect = [400, '4078'];

/**
 * Bad input on the ReadApiLogs path: each case is a signed call (the signature is valid, only the body
 * is wrong), so each must get its precise 4xx in the OUTSCALE shape, never a 500.
 */
const BODY_CASES: { name: string; body: string | Buffer; expect: Expect }[] = [
  { name: 'empty body', body: '', expect: E4045 },
  { name: 'not JSON', body: 'Filters=1', expect: E4045 },
  { name: 'truncated JSON', body: '{"Filters":{', expect: E4045 },
  { name: 'JSON array', body: '[]', expect: E4045 },
  { name: 'JSON string', body: '"{}"', expect: E4045 },
  { name: 'JSON null', body: 'null', expect: E4045 },
  { name: 'JSON number', body: '42', expect: E4045 },
  { name: 'invalid UTF-8', body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]), expect: E4045 },
  { name: 'deeply nested JSON', body: '{"Filters":' + '['.repeat(50_000) + ']'.repeat(50_000) + '}', expect: E4045 },
  { name: 'deeply nested objects', body: '{"With":' + '{"a":'.repeat(20_000) + '1' + '}'.repeat(20_000) + '}', expect: E3001 },
  { name: 'unknown parameter', body: '{"Filter":{}}', expect: E3001 },
  { name: 'unknown parameter in lower case', body: '{"resultsPerPage":10}', expect: E3001 },
  { name: 'unknown filter', body: '{"Filters":{"QueryCallName":["ReadVms"]}}', expect: E3001 },
  { name: 'unknown With key', body: '{"With":{"Password":true}}', expect: E3001 },
  { name: 'prototype key', body: '{"__proto__":{"DryRun":true}}', expect: E3001 },
  { name: 'constructor key in Filters', body: '{"Filters":{"constructor":[]}}', expect: E3001 },
  { name: 'ResultsPerPage as string', body: '{"ResultsPerPage":"10"}', expect: E4045 },
  { name: 'ResultsPerPage float', body: '{"ResultsPerPage":1.5}', expect: E4045 },
  { name: 'ResultsPerPage 0', body: '{"ResultsPerPage":0}', expect: E4045 },
  { name: 'ResultsPerPage 1001', body: '{"ResultsPerPage":1001}', expect: E4045 },
  { name: 'ResultsPerPage negative', body: '{"ResultsPerPage":-5}', expect: E4045 },
  { name: 'ResultsPerPage huge', body: '{"ResultsPerPage":1e308}', expect: E4045 },
  { name: 'ResultsPerPage null', body: '{"ResultsPerPage":null}', expect: E4045 },
  { name: 'ResultsPerPage boolean', body: '{"ResultsPerPage":true}', expect: E4045 },
  { name: 'DryRun as string', body: '{"DryRun":"true"}', expect: E4045 },
  { name: 'Filters as list', body: '{"Filters":[]}', expect: E4045 },
  { name: 'Filters as string', body: '{"Filters":"QueryCallNames=ReadVms"}', expect: E4045 },
  { name: 'call names as string', body: '{"Filters":{"QueryCallNames":"ReadVms"}}', expect: E4045 },
  { name: 'number in a string list', body: '{"Filters":{"QueryIpAddresses":[1]}}', expect: E4045 },
  { name: 'null in a string list', body: '{"Filters":{"QueryAccessKeys":[null]}}', expect: E4045 },
  { name: 'object in a string list', body: '{"Filters":{"RequestIds":[{"$ne":""}]}}', expect: E4045 },
  { name: 'status code as string', body: '{"Filters":{"ResponseStatusCodes":["200"]}}', expect: E4045 },
  { name: 'status code float', body: '{"Filters":{"ResponseStatusCodes":[200.5]}}', expect: E4045 },
  { name: 'status code out of range', body: '{"Filters":{"ResponseStatusCodes":[9999]}}', expect: E4045 },
  { name: 'NUL in a filter value', body: '{"Filters":{"QueryUserAgents":["osc\\u0000cli"]}}', expect: E4045 },
  { name: 'lone surrogate in a filter value', body: '{"Filters":{"QueryCallNames":["\\ud800"]}}', expect: E4045 },
  { name: 'date 2024-02-30', body: '{"Filters":{"QueryDateAfter":"2024-02-30"}}', expect: E4045 },
  { name: 'date yesterday', body: '{"Filters":{"QueryDateBefore":"yesterday"}}', expect: E4045 },
  { name: 'date as number', body: '{"Filters":{"QueryDateAfter":1700000000}}', expect: E4045 },
  { name: 'date with hour 25', body: '{"Filters":{"QueryDateAfter":"2024-01-01T25:00:00Z"}}', expect: E4045 },
  { name: 'date in 1969', body: '{"Filters":{"QueryDateAfter":"1969-12-31"}}', expect: E4045 },
  { name: 'After later than Before', body: '{"Filters":{"QueryDateAfter":"2024-01-02","QueryDateBefore":"2024-01-01"}}', expect: E4045 },
  { name: 'With value not boolean', body: '{"With":{"AccountId":"false"}}', expect: E4045 },
  { name: 'too many filter values', body: JSON.stringify({ Filters: { QueryCallNames: Array.from({ length: 1001 }, (_, i) => `C${i}`) } }), expect: E4045 },
  { name: 'overlong filter value', body: JSON.stringify({ Filters: { QueryUserAgents: ['x'.repeat(1025)] } }), expect: E4045 },
  { name: 'NextPageToken as number', body: '{"NextPageToken":12}', expect: E4045 },
  { name: 'NextPageToken truncated', body: '{"NextPageToken":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}', expect: E4078 },
  { name: 'NextPageToken with SQL', body: `{"NextPageToken":"' OR 1=1 --"}`, expect: E4078 },
  { name: 'NextPageToken overlong', body: JSON.stringify({ NextPageToken: 'A'.repeat(5000) }), expect: E4078 },
  { name: 'NextPageToken empty', body: '{"NextPageToken":""}', expect: E4078 },
];

/** Filter values that must be matched literally: never interpreted, never an error. */
const HOSTILE_VALUES = [
  "' OR '1'='1",
  "'; DROP TABLE logs; --",
  '%',
  '_',
  '\\',
  '"',
  '*/ SELECT 1 /*',
  '{"$gt":""}',
  '${jndi:ldap://x}',
  '💥',
  ' ',
  '',
];

describe('ReadApiLogs bad input', () => {
  const clock = new ManualClock();
  let t: TestServer;
  let key: TestKey;
  const send = (raw: string | Buffer) => callSigned(t.url, key, undefined, { nowMs: clock.us / 1000, rawBody: raw });

  before(async () => {
    t = await startTestServer({ clock });
    key = await t.createKey();
  });
  after(async () => {
    await t.close();
  });

  it(`has at least 40 table cases`, () => {
    assert.ok(BODY_CASES.length >= 40, String(BODY_CASES.length));
  });

  for (const c of BODY_CASES) {
    it(`answers ${c.expect[0]}/${c.expect[1]} to ${c.name}`, async () => {
      const answer = await send(c.body);
      assert.equal(answer.status, c.expect[0], answer.text.slice(0, 300));
      assert.deepEqual(Object.keys(answer.body), ['Errors', 'ResponseContext']);
      assert.equal(answer.body.Errors.length, 1);
      assert.deepEqual(Object.keys(answer.body.Errors[0]), ['Code', 'Type', 'Details']);
      assert.equal(answer.body.Errors[0].Code, c.expect[1]);
      assert.equal(typeof answer.body.Errors[0].Details, 'string');
      assert.equal(answer.body.ResponseContext.RequestId.length, 36);
    });
  }

  it('matches hostile strings literally in every string filter', async () => {
    for (const filter of ['QueryAccessKeys', 'QueryApiNames', 'QueryCallNames', 'QueryIpAddresses', 'QueryUserAgents', 'RequestIds']) {
      const answer = await send(JSON.stringify({ Filters: { [filter]: HOSTILE_VALUES } }));
      assert.equal(answer.status, 200, `${filter}: ${answer.text}`);
      assert.deepEqual(answer.body.Logs, []);
    }
  });

  it('ignores a UTF-8 byte order mark before the object, as RFC 8259 section 8.1 allows', async () => {
    const answer = await send('\ufeff{}');
    assert.equal(answer.status, 200, answer.text);
  });

  it('answers 413 to a body over 1 MiB', async () => {
    const answer = await send(JSON.stringify({ Filters: { QueryUserAgents: ['x'.repeat(1_100_000)] } }));
    assert.equal(answer.status, 413);
    assert.equal(answer.body.Errors[0].Code, '4045');
  });

  it('answers malformed HTTP and oversized headers in the OUTSCALE shape', async () => {
    const raw = async (text: string) =>
      new Promise<string>((resolve) => {
        const url = new URL(t.url);
        const socket = connect(Number(url.port), url.hostname, () => socket.write(text));
        let data = '';
        socket.on('data', (chunk) => (data += chunk.toString()));
        socket.on('close', () => resolve(data));
        socket.on('error', () => resolve(data));
      });
    const badChunking = await raw('POST /api/v1/ReadApiLogs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n');
    assert.match(badChunking, /^HTTP\/1.1 400/);
    assert.match(badChunking, /"Code":"4045"/);
    const hugeHeader = await raw(`POST /api/v1/ReadApiLogs HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.match(hugeHeader, /^HTTP\/1.1 431/);
    assert.match(hugeHeader, /"Errors"/);
    const garbage = await raw('HELLO\r\n\r\n');
    assert.match(garbage, /^HTTP\/1.1 400/);
  });

  it('answers a GET and an unknown path with 404 InvalidAction', async () => {
    for (const [method, pathname] of [['GET', '/api/v1/ReadApiLogs'], ['POST', '/nope'], ['DELETE', '/']]) {
      const status = await new Promise<number>((resolve) => {
        const req = httpRequest(`${t.url}${pathname}`, { method }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.end();
      });
      assert.equal(status, 404, `${method} ${pathname}`);
    }
  });

  it('never answers 500 to random JSON, and answers a good call right after', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.jsonValue(),
          fc.record({ Filters: fc.jsonValue(), ResultsPerPage: fc.jsonValue() }, { requiredKeys: [] }),
          fc.record(
            {
              Filters: fc.record(
                {
                  QueryCallNames: fc.jsonValue(),
                  QueryDateAfter: fc.oneof(fc.string(), fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.jsonValue()),
                  ResponseStatusCodes: fc.array(fc.oneof(fc.integer(), fc.double(), fc.string())),
                },
                { requiredKeys: [] },
              ),
              With: fc.dictionary(fc.string(), fc.jsonValue()),
              NextPageToken: fc.string(),
            },
            { requiredKeys: [] },
          ),
        ),
        async (value) => {
          const answer = await send(JSON.stringify(value) ?? 'undefined');
          assert.ok(answer.status === 200 || answer.status === 400, `${answer.status} for ${JSON.stringify(value)?.slice(0, 200)}: ${answer.text.slice(0, 200)}`);
          if (answer.status === 400) assert.match(answer.body.Errors[0].Code, /^(3001|4045|4078)$/);
        },
      ),
      { numRuns: 300, seed: 42 },
    );
    const good = await send('{"ResultsPerPage":5}');
    assert.equal(good.status, 200);
  });
});
