import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { validateLog, type Log, type LogRecord } from '../../src/domain/index.js';
import { INGEST_TOKEN, ndjson, postIngest, wireLog, type IngestRequestOptions } from '../fixtures/ingest-client.js';
import { sqliteStorePath, startTestServer, type TestServer } from '../fixtures/test-server.js';

const MAX_LINE_BYTES = 8192;
const MAX_BODY_BYTES = 262_144;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

function accountId(): string {
  return String(randomInt(100_000_000_000, 999_999_999_999));
}

function without(log: Log, field: keyof Log): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...log };
  delete copy[field];
  return copy;
}

interface Case {
  name: string;
  /** Builds the body from two fresh account ids. */
  body: (a: string, b: string) => string | Buffer;
  options?: IngestRequestOptions;
  /** Records appended straight to the store before the call. */
  seed?: (a: string) => Log[];
  status: number;
  code?: string;
  report?: { Accepted: number; Duplicates: number; Rejected: { Index: number; Error: string }[] };
  /** Records of accounts a and b in the store after the call (seed included). */
  stored: [number, number];
}

const ERR = (status: number, code: string) => ({ status, code });

let fixedLog: Log | undefined;

/**
 * Every row is a request with a precise answer, and the records the store holds afterwards for the two
 * accounts the row uses. A 4xx other than a 200 report stores nothing.
 */
const CASES: Case[] = [
  { name: 'one good record', body: (a) => ndjson([wireLog(a)]), status: 200, report: { Accepted: 1, Duplicates: 0, Rejected: [] }, stored: [1, 0] },
  { name: 'CRLF line ends and no final newline', body: (a) => `${JSON.stringify(wireLog(a))}\r\n${JSON.stringify(wireLog(a))}`, status: 200, report: { Accepted: 2, Duplicates: 0, Rejected: [] }, stored: [2, 0] },
  { name: 'blank and whitespace-only lines are skipped but counted in Index', body: (a) => `\n${JSON.stringify(wireLog(a))}\n \t\n\nnope\n`, status: 200, report: { Accepted: 1, Duplicates: 0, Rejected: [{ Index: 4, Error: 'not valid JSON' }] }, stored: [1, 0] },
  { name: 'a line that is not JSON', body: (a) => ndjson([wireLog(a), 'AccountId=1', wireLog(a)]), status: 200, report: { Accepted: 2, Duplicates: 0, Rejected: [{ Index: 1, Error: 'not valid JSON' }] }, stored: [2, 0] },
  { name: 'truncated JSON line', body: (a) => ndjson([JSON.stringify(wireLog(a)).slice(0, 40)]), status: 200, report: { Accepted: 0, Duplicates: 0, Rejected: [{ Index: 0, Error: 'not valid JSON' }] }, stored: [0, 0] },
  { name: 'a JSON array as a line', body: () => ndjson(['[]']), status: 200, report: { Accepted: 0, Duplicates: 0, Rejected: [{ Index: 0, Error: 'a record must be a JSON object' }] }, stored: [0, 0] },
  { name: 'null and a string as lines', body: () => ndjson(['null', '"{}"']), status: 200, report: { Accepted: 0, Duplicates: 0, Rejected: [{ Index: 0, Error: 'a record must be a JSON object' }, { Index: 1, Error: 'a record must be a JSON object' }] }, stored: [0, 0] },
  { name: 'missing field', body: (a) => ndjson([without(wireLog(a), 'RequestId')]), status: 200, report: { Accepted: 0, Duplicates: 0, Rejected: [{ Index: 0, Error: 'missing field RequestId' }] }, stored: [0, 0] },
  { name: 'unknown field (Fluent Bit date key left on)', body: (a) => ndjson([{ date: 1700000000.5, ...wireLog(a) }]), status: 200, report: { Accepted: 0, Duplicates: 0, Rejected: [{ Index: 0, Error: 'unknown field "date"' }] }, stored: [0, 0] },
  { name: '__proto__ key', body: (a) => ndjson([`{"__proto__":{"x":1},${JSON.stringify(wireLog(a)).slice(1)}`]), status: 200, report: { Accepted: 0, Duplicates: 0, Rejected: [{ Index: 0, Error: 'unknown field "__proto__"' }] }, stored: [0, 0] },
  { name: 'integer field as a string', body: (a) => ndjson([wireLog(a, { CallDuration: '12' as unknown as number })]), status: 200, report: { Accepted: 0, Duplicates: 0, Rejected: [{ Index: 0, Error: 'CallDuration must be an integer' }] }, stored: [0, 0] },
  { name: 'integer field as a float', body: (a) => ndjson([wireLog(a, { QueryPayloadSize: 1.5 })]), status: 200, report: { Accepted: 0, Duplicates: 0, Rejected: [{ Index: 0, Error: 'QueryPayloadSize must be an integer' }] }, stored: [0, 0] },
  { name: 'status code out of range', body: (a) => ndjson([wireLog(a, { ResponseStatusCode: 99 })]), status: 200, report: { Accepted: 0, Duplicates: 0, Rejected: [{ Index: 0, Error: 'ResponseStatusCode must be between 100 and 599' }] }, stored: [0, 0] },
  { name: 'AccountId not 12 digits', body: (a) => ndjson([wireLog(a, { AccountId: '1234' })]), status: 200, report: { Accepted: 0, Duplicates: 0, Rejected: [{ Index: 0, Error: 'AccountId must be 12 digits' }] }, stored: [0, 0] },
  { name: 'string field as a number', body: (a) => ndjson([wireLog(a, { QueryUserAgent: 7 as unknown as string })]), status: 200, report: { Accepted: 0, Duplicates: 0, Rejected: [{ Index: 0, Error: 'QueryUserAgent must be a string' }] }, stored: [0, 0] },
  { name: 'RequestId with a space', body: (a) => ndjson([wireLog(a, { RequestId: 'a b' })]), status: 200, report: { Accepted: 0, Duplicates: 0, Rejected: [{ Index: 0, Error: 'RequestId must be non-empty printable ASCII without spaces' }] }, stored: [0, 0] },
  { name: 'QueryDate not a date', body: (a) => ndjson([wireLog(a, { QueryDate: 'yesterday' })]), status: 200, report: { Accepted: 0, Duplicates: 0, Rejected: [{ Index: 0, Error: 'QueryDate must be an ISO 8601 date-time such as 2021-08-11T09:55:02.842375Z' }] }, stored: [0, 0] },
  { name: 'QueryDate without a time', body: (a) => ndjson([wireLog(a, { QueryDate: '2026-01-01' })]), status: 200, report: { Accepted: 0, Duplicates: 0, Rejected: [{ Index: 0, Error: 'QueryDate must be an ISO 8601 date-time such as 2021-08-11T09:55:02.842375Z' }] }, stored: [0, 0] },
  { name: 'QueryDate older than the retention', body: (a) => ndjson([wireLog(a, {}, 33 * DAY_MS), wireLog(a)]), status: 200, report: { Accepted: 1, Duplicates: 0, Rejected: [{ Index: 0, Error: 'QueryDate is older than the retention period' }] }, stored: [1, 0] },
  { name: 'QueryDate an hour in the future', body: (a) => ndjson([wireLog(a, {}, -HOUR_MS)]), status: 200, report: { Accepted: 0, Duplicates: 0, Rejected: [{ Index: 0, Error: 'QueryDate is in the future' }] }, stored: [0, 0] },
  { name: 'QueryDate a minute ahead is within the clock tolerance', body: (a) => ndjson([wireLog(a, {}, -60_000)]), status: 200, report: { Accepted: 1, Duplicates: 0, Rejected: [] }, stored: [1, 0] },
  { name: 'a line longer than the line limit', body: (a) => ndjson([wireLog(a, { QueryPayloadRaw: 'x'.repeat(MAX_LINE_BYTES) }), wireLog(a)]), status: 200, report: { Accepted: 1, Duplicates: 0, Rejected: [{ Index: 0, Error: `line is longer than ${MAX_LINE_BYTES} bytes` }] }, stored: [1, 0] },
  { name: 'a raw NUL byte inside a string', body: (a) => ndjson([JSON.stringify(wireLog(a)).replace('"osc-cli', '"osc\u0000cli')]), status: 200, report: { Accepted: 0, Duplicates: 0, Rejected: [{ Index: 0, Error: 'not valid JSON' }] }, stored: [0, 0] },
  { name: 'an escaped NUL is data and is kept', body: (a) => ndjson([wireLog(a, { QueryUserAgent: 'osc\u0000cli' })]), status: 200, report: { Accepted: 1, Duplicates: 0, Rejected: [] }, stored: [1, 0] },
  { name: 'a lone surrogate', body: (a) => ndjson([wireLog(a, { QueryPayloadRaw: '{"a":"\ud800"}' })]), status: 200, report: { Accepted: 0, Duplicates: 0, Rejected: [{ Index: 0, Error: 'QueryPayloadRaw is not valid Unicode' }] }, stored: [0, 0] },
  { name: 'deeply nested JSON line', body: () => ndjson(['['.repeat(100_000) + ']'.repeat(100_000)]), options: {}, status: 200, report: { Accepted: 0, Duplicates: 0, Rejected: [{ Index: 0, Error: `line is longer than ${MAX_LINE_BYTES} bytes` }] }, stored: [0, 0] },
  { name: 'deeply nested object within the line limit', body: () => ndjson(['{"a":'.repeat(1_000) + '1' + '}'.repeat(1_000)]), status: 200, report: { Accepted: 0, Duplicates: 0, Rejected: [{ Index: 0, Error: 'unknown field "a"' }] }, stored: [0, 0] },
  { name: 'invalid UTF-8 anywhere stores nothing', body: (a) => Buffer.concat([Buffer.from(ndjson([wireLog(a)])), Buffer.from([0x7b, 0xff, 0xfe, 0x7d, 0x0a])]), ...ERR(400, '4045'), stored: [0, 0] },
  {
    name: 'duplicate RequestIds within one batch',
    body: (a) => {
      const log = wireLog(a);
      return ndjson([log, log, { ...log, QueryCallName: 'DeleteVolume' }]);
    },
    status: 200,
    report: { Accepted: 1, Duplicates: 2, Rejected: [] },
    stored: [1, 0],
  },
  {
    name: 'a RequestId already in the store',
    seed: (a) => [(fixedLog = wireLog(a))],
    body: (a) => ndjson([fixedLog as Log, wireLog(a)]),
    status: 200,
    report: { Accepted: 1, Duplicates: 1, Rejected: [] },
    stored: [2, 0],
  },
  {
    name: 'the same RequestId in two accounts is two records',
    body: (a, b) => {
      const log = wireLog(a);
      return ndjson([log, { ...log, AccountId: b }]);
    },
    status: 200,
    report: { Accepted: 2, Duplicates: 0, Rejected: [] },
    stored: [1, 1],
  },
  { name: 'empty body', body: () => '', ...ERR(400, '4045'), stored: [0, 0] },
  { name: 'empty body as application/json', body: () => '', options: { contentType: 'application/json' }, ...ERR(400, '4045'), stored: [0, 0] },
  { name: 'only blank lines', body: () => '\n\n  \n', status: 200, report: { Accepted: 0, Duplicates: 0, Rejected: [] }, stored: [0, 0] },
  { name: 'JSON array', body: (a) => JSON.stringify([wireLog(a), wireLog(a)]), options: { contentType: 'application/json' }, status: 200, report: { Accepted: 2, Duplicates: 0, Rejected: [] }, stored: [2, 0] },
  { name: 'JSON array with a bad element: Index is the element', body: (a) => JSON.stringify([wireLog(a), 5, without(wireLog(a), 'QueryDate')]), options: { contentType: 'application/json; charset=utf-8' }, status: 200, report: { Accepted: 1, Duplicates: 0, Rejected: [{ Index: 1, Error: 'a record must be a JSON object' }, { Index: 2, Error: 'missing field QueryDate' }] }, stored: [1, 0] },
  { name: 'application/json with one object, not an array', body: (a) => JSON.stringify(wireLog(a)), options: { contentType: 'application/json' }, ...ERR(400, '4045'), stored: [0, 0] },
  { name: 'application/json with NDJSON inside', body: (a) => ndjson([wireLog(a), wireLog(a)]), options: { contentType: 'application/json' }, ...ERR(400, '4045'), stored: [0, 0] },
  { name: 'Content-Type text/plain', body: (a) => ndjson([wireLog(a)]), options: { contentType: 'text/plain' }, ...ERR(400, '4045'), stored: [0, 0] },
  { name: 'no Content-Type', body: (a) => ndjson([wireLog(a)]), options: { contentType: null }, ...ERR(400, '4045'), stored: [0, 0] },
  { name: 'form encoding (curl -d without -H)', body: (a) => ndjson([wireLog(a)]), options: { contentType: 'application/x-www-form-urlencoded' }, ...ERR(400, '4045'), stored: [0, 0] },
  { name: 'a charset other than UTF-8', body: (a) => ndjson([wireLog(a)]), options: { contentType: 'application/x-ndjson; charset=iso-8859-1' }, ...ERR(400, '4045'), stored: [0, 0] },
  { name: 'gzip body', body: (a) => gzipSync(ndjson([wireLog(a), wireLog(a)])), options: { contentEncoding: 'gzip' }, status: 200, report: { Accepted: 2, Duplicates: 0, Rejected: [] }, stored: [2, 0] },
  { name: 'damaged gzip stores nothing', body: (a) => gzipSync(ndjson([wireLog(a), wireLog(a)])).subarray(0, 60), options: { contentEncoding: 'gzip' }, ...ERR(400, '4045'), stored: [0, 0] },
  { name: 'gzip announced, plain body sent', body: (a) => ndjson([wireLog(a)]), options: { contentEncoding: 'gzip' }, ...ERR(400, '4045'), stored: [0, 0] },
  { name: 'an unsupported Content-Encoding', body: (a) => ndjson([wireLog(a)]), options: { contentEncoding: 'br' }, ...ERR(400, '4045'), stored: [0, 0] },
  { name: 'body over the body limit', body: (a) => ndjson(Array.from({ length: 800 }, () => wireLog(a))), ...ERR(413, '4045'), stored: [0, 0] },
  { name: 'gzip that expands over the body limit', body: () => gzipSync(' '.repeat(MAX_BODY_BYTES + 1)), options: { contentEncoding: 'gzip' }, ...ERR(413, '4045'), stored: [0, 0] },
  { name: 'more lines than one per 128 bytes of the body limit', body: (a) => ndjson([wireLog(a), ...Array.from({ length: MAX_BODY_BYTES / 128 }, () => 'x')]), ...ERR(413, '4045'), stored: [0, 0] },
  { name: 'blank lines do not count towards the record limit', body: (a) => '\n'.repeat(MAX_BODY_BYTES - 2_000) + ndjson([wireLog(a)]), status: 200, report: { Accepted: 1, Duplicates: 0, Rejected: [] }, stored: [1, 0] },
  { name: 'no Authorization header', body: (a) => ndjson([wireLog(a)]), options: { token: null }, ...ERR(401, '1'), stored: [0, 0] },
  { name: 'wrong token', body: (a) => ndjson([wireLog(a)]), options: { token: 'not-the-ingest-token-at-all-0000' }, ...ERR(401, '1'), stored: [0, 0] },
  { name: 'a prefix of the token', body: (a) => ndjson([wireLog(a)]), options: { token: INGEST_TOKEN.slice(0, -1) }, ...ERR(401, '1'), stored: [0, 0] },
  { name: 'the token with a suffix', body: (a) => ndjson([wireLog(a)]), options: { token: INGEST_TOKEN + 'x' }, ...ERR(401, '1'), stored: [0, 0] },
  { name: 'the token under another scheme', body: (a) => ndjson([wireLog(a)]), options: { authorization: `Basic ${Buffer.from(`oms:${INGEST_TOKEN}`).toString('base64')}` }, ...ERR(401, '1'), stored: [0, 0] },
  { name: 'the token without a scheme', body: (a) => ndjson([wireLog(a)]), options: { authorization: INGEST_TOKEN }, ...ERR(401, '1'), stored: [0, 0] },
  { name: 'the scheme name is case-insensitive (RFC 9110)', body: (a) => ndjson([wireLog(a)]), options: { authorization: `bearer ${INGEST_TOKEN}` }, status: 200, report: { Accepted: 1, Duplicates: 0, Rejected: [] }, stored: [1, 0] },
  { name: 'GET is not a way to ingest', body: () => '', options: { method: 'GET' }, ...ERR(404, '12000'), stored: [0, 0] },
];

describe('POST /oms/v1/ingest: each malformed request gets its answer, and the store holds exactly the good records', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      settings: { ingestToken: INGEST_TOKEN, ingestMaxLineBytes: String(MAX_LINE_BYTES), ingestMaxBodyBytes: String(MAX_BODY_BYTES) },
    });
  });
  after(async () => server.close());

  const countOf = (account: string) => server.stores.logs.count({ accountId: account, fromUs: 0, toUs: Number.MAX_SAFE_INTEGER });

  it(`has at least 30 cases (${CASES.length})`, () => assert.ok(CASES.length >= 30));

  for (const c of CASES) {
    it(`${c.name}: ${c.status}${c.code === undefined ? '' : ` ${c.code}`}`, async () => {
      const a = accountId();
      const b = accountId();
      if (c.seed !== undefined) {
        await server.stores.logs.append(c.seed(a).map((log) => (validateLog(log) as { ok: true; record: LogRecord }).record));
      }
      const answer = await postIngest(server.url, c.body(a, b), c.options);
      assert.equal(answer.status, c.status, answer.text);
      assert.match(String(answer.headers['content-type']), /^application\/json/);
      if (c.status === 200) {
        assert.deepEqual(answer.body, c.report);
      } else {
        assert.equal(answer.body.Errors.length, 1);
        assert.equal(answer.body.Errors[0].Code, c.code);
        assert.equal(typeof answer.body.Errors[0].Details, 'string');
        assert.match(answer.body.ResponseContext.RequestId, /^[0-9a-f-]{36}$/);
        assert.ok(!answer.text.includes(INGEST_TOKEN), 'the token is never echoed');
      }
      if (c.status === 401) assert.match(String(answer.headers['www-authenticate']), /^Bearer realm="oms"/);
      assert.deepEqual([await countOf(a), await countOf(b)], c.stored);
    });
  }

  it('takes a chunked body (no Content-Length) and refuses one that grows over the limit with 413', async () => {
    const a = accountId();
    const chunked = (chunks: string[]) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = httpRequest(`${server.url}/oms/v1/ingest`, {
          method: 'POST',
          headers: { authorization: `Bearer ${INGEST_TOKEN}`, 'content-type': 'application/x-ndjson' },
        });
        req.on('response', (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8') }));
        });
        req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
        for (const chunk of chunks) req.write(chunk);
        req.end();
      });
    const good = await chunked([JSON.stringify(wireLog(a)), '\n', JSON.stringify(wireLog(a)) + '\n']);
    assert.deepEqual(JSON.parse(good.text), { Accepted: 2, Duplicates: 0, Rejected: [] });
    const line = JSON.stringify(wireLog(a)) + '\n';
    const big = await chunked(Array.from({ length: Math.ceil((MAX_BODY_BYTES * 1.5) / line.length) }, () => line));
    assert.equal(big.status, 413);
    assert.equal(JSON.parse(big.text).Errors[0].Code, '4045');
    assert.equal(await countOf(a), 2);
  });

  it('answers a good batch right after all the bad ones', async () => {
    const a = accountId();
    const answer = await postIngest(server.url, ndjson([wireLog(a), wireLog(a), wireLog(a)]));
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body, { Accepted: 3, Duplicates: 0, Rejected: [] });
    assert.equal(await countOf(a), 3);
  });

  it('reports batches and records in /metrics', async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(text, /oms_ingest_records_total\{outcome="accepted"\} [1-9]\d*/);
    assert.match(text, /oms_ingest_records_total\{outcome="duplicate"\} [1-9]\d*/);
    assert.match(text, /oms_ingest_records_total\{outcome="rejected"\} [1-9]\d*/);
    assert.match(text, /oms_ingest_batches_total\{status="200"\} [1-9]\d*/);
    assert.match(text, /oms_ingest_batches_total\{status="401"\} [1-9]\d*/);
    assert.match(text, /oms_ingest_batches_total\{status="413"\} [1-9]\d*/);
    assert.match(text, /oms_ingest_batches_in_flight 0/);
  });
});

describe('ingest without a token configured', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => server.close());

  it('is disabled: 404 12000 whatever the token, and nothing is stored', async () => {
    const a = accountId();
    for (const token of [INGEST_TOKEN, null]) {
      const answer = await postIngest(server.url, ndjson([wireLog(a)]), { token });
      assert.equal(answer.status, 404);
      assert.deepEqual(answer.body.Errors, [{ Code: '12000', Type: 'InvalidAction', Details: 'Ingest is not enabled on this server.' }]);
    }
    assert.equal(await server.stores.logs.count({ accountId: a, fromUs: 0, toUs: Number.MAX_SAFE_INTEGER }), 0);
  });
});

/** A POST whose head and first body bytes are sent now and the rest only when `finish` is called. */
function startSlowIngest(baseUrl: string, body: Buffer): { finish: () => void; abort: () => void; answer: Promise<{ status: number; text: string }> } {
  let finish = () => {};
  let abort = () => {};
  const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = httpRequest(`${baseUrl}/oms/v1/ingest`, {
      method: 'POST',
      headers: { authorization: `Bearer ${INGEST_TOKEN}`, 'content-type': 'application/x-ndjson', 'content-length': String(body.length) },
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.write(body.subarray(0, 10));
    finish = () => req.end(body.subarray(10));
    abort = () => {
      req.on('error', () => {});
      req.destroy();
      resolve({ status: 0, text: '' });
    };
  });
  return { finish, abort, answer };
}

describe('ingest backpressure and store outages', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ settings: { ingestToken: INGEST_TOKEN, ingestMaxBatches: '2' } });
  });
  after(async () => server.close());

  it('beyond the batches in flight answers 429 RequestLimitExceeded with Retry-After, and takes batches again once they finish', async () => {
    const a = accountId();
    const slow = [startSlowIngest(server.url, Buffer.from(ndjson([wireLog(a)]))), startSlowIngest(server.url, Buffer.from(ndjson([wireLog(a)])))];
    // The two slow requests hold both slots once the server has seen their heads.
    let refused: Awaited<ReturnType<typeof postIngest>> | undefined;
    for (let attempt = 0; attempt < 100; attempt++) {
      refused = await postIngest(server.url, ndjson([wireLog(a)]));
      if (refused.status === 429) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(refused?.status, 429, refused?.text);
    assert.equal(refused?.headers['retry-after'], '1');
    assert.equal(refused?.body.Errors[0].Code, '10');
    assert.equal(refused?.body.Errors[0].Type, 'RequestLimitExceeded');
    const storedBefore = await server.stores.logs.count({ accountId: a, fromUs: 0, toUs: Number.MAX_SAFE_INTEGER });

    for (const s of slow) s.finish();
    const answers = await Promise.all(slow.map((s) => s.answer));
    for (const answer of answers) assert.deepEqual(JSON.parse(answer.text), { Accepted: 1, Duplicates: 0, Rejected: [] });
    const after = await postIngest(server.url, ndjson([wireLog(a)]));
    assert.equal(after.status, 200);
    // Only the 429s' records are missing: the early probes that got in before the slots filled count.
    assert.equal(await server.stores.logs.count({ accountId: a, fromUs: 0, toUs: Number.MAX_SAFE_INTEGER }), storedBefore + 3);
  });

  it('frees the slots of clients that disconnect in the middle of their body', async () => {
    const a = accountId();
    const inFlight = async () => Number(/oms_ingest_batches_in_flight (\d+)/.exec(await (await fetch(`${server.url}/metrics`)).text())?.[1]);
    for (let round = 0; round < 3; round++) {
      const slow = [startSlowIngest(server.url, Buffer.from(ndjson([wireLog(a)]))), startSlowIngest(server.url, Buffer.from(ndjson([wireLog(a)])))];
      for (let attempt = 0; attempt < 100 && (await inFlight()) < 2; attempt++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(await inFlight(), 2);
      for (const s of slow) s.abort();
      for (let attempt = 0; attempt < 100 && (await inFlight()) > 0; attempt++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(await inFlight(), 0);
    }
    assert.deepEqual((await postIngest(server.url, ndjson([wireLog(a)]))).body, { Accepted: 1, Duplicates: 0, Rejected: [] });
    assert.equal(await server.stores.logs.count({ accountId: a, fromUs: 0, toUs: Number.MAX_SAFE_INTEGER }), 1);
  });

  it('answers 503 ServiceUnavailable with Retry-After while the store is locked, acknowledges nothing, and takes the same batch afterwards', async () => {
    const a = accountId();
    const body = ndjson([wireLog(a), wireLog(a), wireLog(a)]);
    // Another process holds the write lock past the store's busy timeout: a real outage of the file.
    const other = new Database(sqliteStorePath(server.config));
    other.exec('BEGIN IMMEDIATE');
    let refused;
    try {
      refused = await postIngest(server.url, body);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    assert.equal(refused.status, 503, refused.text);
    assert.equal(refused.headers['retry-after'], '5');
    assert.equal(refused.body.Errors[0].Code, '2001');
    assert.equal(await server.stores.logs.count({ accountId: a, fromUs: 0, toUs: Number.MAX_SAFE_INTEGER }), 0);

    const retried = await postIngest(server.url, body);
    assert.deepEqual(retried.body, { Accepted: 3, Duplicates: 0, Rejected: [] });
    const again = await postIngest(server.url, body);
    assert.deepEqual(again.body, { Accepted: 0, Duplicates: 3, Rejected: [] });
    assert.equal(await server.stores.logs.count({ accountId: a, fromUs: 0, toUs: Number.MAX_SAFE_INTEGER }), 3);
  });
});
