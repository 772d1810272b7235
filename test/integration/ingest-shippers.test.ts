import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { Log } from '../../src/domain/index.js';
import { INGEST_TOKEN, sendRaw, wireLog } from '../fixtures/ingest-client.js';
import { callSigned, startTestServer, type TestKey, type TestServer } from '../fixtures/test-server.js';

/**
 * The requests Fluent Bit's `http` output and Vector's `http` sink send with the configurations of
 * docs/ingest.md, byte for byte as those programs write them (neither is packaged by Debian, so the
 * tests replay their wire format): header names, casing and order, body framing, gzip, JSON escaping.
 *
 * Fluent Bit (plugins/out_http/http.c, src/flb_http_client.c): `Host` and `Content-Length` first, then
 * `Content-Type: application/x-ndjson` for json_lines (application/json for json), `Content-Encoding:
 * gzip`, `User-Agent: Fluent-Bit`, then the configured `Header`s; each record is one line ending with
 * a newline; its JSON writer escapes `/` as `\/` and non-ASCII characters as `\uXXXX`.
 *
 * Vector (src/sinks/http/config.rs): lower-case header names (hyper), `content-type:
 * application/x-ndjson` for the json codec with newline_delimited framing (application/json and a
 * JSON array with the default framing), `content-encoding: gzip`, `authorization: Bearer …` from
 * `auth.strategy = "bearer"`, its user-agent and accept-encoding, keys in alphabetical order.
 */

function fluentBitJson(value: unknown): string {
  return JSON.stringify(value)
    .replaceAll('/', '\\/')
    .replace(/[\u0080-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function vectorJson(log: Log): string {
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(log).sort()) sorted[key] = (log as unknown as Record<string, unknown>)[key];
  return JSON.stringify(sorted);
}

const byId = (x: Log, y: Log) => (x.RequestId < y.RequestId ? -1 : x.RequestId > y.RequestId ? 1 : 0);

describe('the request shapes of log shippers are accepted', () => {
  let t: TestServer;
  let key: TestKey;
  let host: string;
  before(async () => {
    t = await startTestServer({ settings: { ingestToken: INGEST_TOKEN } });
    host = new URL(t.url).host;
  });
  after(async () => t.close());

  const logsOf = (n: number): Log[] =>
    Array.from({ length: n }, (_, i) => wireLog(key.accountId, { QueryUserAgent: `terraform-provider-outscale/1.0 (+https://registry.terraform.io) é ${i}`, QueryPayloadRaw: '{"Path":"/a/b"}' }));

  const readBack = async (): Promise<Log[]> => {
    const answer = await callSigned(t.url, key, { Filters: { QueryCallNames: ['ReadVms'] }, ResultsPerPage: 1000 });
    assert.equal(answer.status, 200, answer.text);
    return [...(answer.body.Logs as Log[])].sort(byId);
  };

  it('Fluent Bit, http output, Format json_lines, Compress gzip', async () => {
    key = await t.createKey();
    const logs = logsOf(3);
    const body = gzipSync(logs.map((l) => fluentBitJson(l) + '\n').join(''));
    const head =
      'POST /oms/v1/ingest HTTP/1.1\r\n' +
      `Host: ${host}\r\n` +
      `Content-Length: ${body.length}\r\n` +
      'Content-Type: application/x-ndjson\r\n' +
      'Content-Encoding: gzip\r\n' +
      'User-Agent: Fluent-Bit\r\n' +
      `Authorization: Bearer ${INGEST_TOKEN}\r\n` +
      'Connection: keep-alive\r\n\r\n';
    const answer = await sendRaw(t.url, head, body);
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(answer.body, { Accepted: 3, Duplicates: 0, Rejected: [] });
    assert.deepEqual(await readBack(), [...logs].sort(byId));
  });

  it('Fluent Bit, http output, Format json (an array), no compression', async () => {
    key = await t.createKey();
    const logs = logsOf(2);
    const body = Buffer.from(fluentBitJson(logs));
    const head =
      'POST /oms/v1/ingest HTTP/1.1\r\n' +
      `Host: ${host}\r\n` +
      `Content-Length: ${body.length}\r\n` +
      'Content-Type: application/json\r\n' +
      'User-Agent: Fluent-Bit\r\n' +
      `Authorization: Bearer ${INGEST_TOKEN}\r\n\r\n`;
    const answer = await sendRaw(t.url, head, body);
    assert.deepEqual(answer.body, { Accepted: 2, Duplicates: 0, Rejected: [] });
    assert.deepEqual(await readBack(), [...logs].sort(byId));
  });

  it('Vector, http sink, codec json with newline_delimited framing, gzip, bearer auth', async () => {
    key = await t.createKey();
    const logs = logsOf(4);
    const body = gzipSync(logs.map((l) => vectorJson(l) + '\n').join(''));
    const head =
      'POST /oms/v1/ingest HTTP/1.1\r\n' +
      'content-type: application/x-ndjson\r\n' +
      'content-encoding: gzip\r\n' +
      `authorization: Bearer ${INGEST_TOKEN}\r\n` +
      'user-agent: Vector/0.43.1 (x86_64-unknown-linux-gnu e30bf1f 2024-12-10 16:14:47.175528383)\r\n' +
      'accept-encoding: zstd,gzip,deflate,br\r\n' +
      `host: ${host}\r\n` +
      `content-length: ${body.length}\r\n\r\n`;
    const answer = await sendRaw(t.url, head, body);
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(answer.body, { Accepted: 4, Duplicates: 0, Rejected: [] });
    assert.deepEqual(await readBack(), [...logs].sort(byId));
  });

  it('Vector, http sink, codec json with its default framing (a JSON array), sent again after a retry', async () => {
    key = await t.createKey();
    const logs = logsOf(2);
    const body = Buffer.from(`[${logs.map(vectorJson).join(',')}]`);
    const head =
      'POST /oms/v1/ingest HTTP/1.1\r\n' +
      'content-type: application/json\r\n' +
      `authorization: Bearer ${INGEST_TOKEN}\r\n` +
      'user-agent: Vector/0.43.1 (x86_64-unknown-linux-gnu e30bf1f 2024-12-10 16:14:47.175528383)\r\n' +
      `host: ${host}\r\n` +
      `content-length: ${body.length}\r\n\r\n`;
    assert.deepEqual((await sendRaw(t.url, head, body)).body, { Accepted: 2, Duplicates: 0, Rejected: [] });
    // A shipper that did not see the answer sends the batch again: nothing is stored twice.
    assert.deepEqual((await sendRaw(t.url, head, body)).body, { Accepted: 0, Duplicates: 2, Rejected: [] });
    assert.deepEqual(await readBack(), [...logs].sort(byId));
  });

  it('takes a batch of 2,000 records (over the 1 MiB limit of the API routes) at the default body limit', async () => {
    key = await t.createKey();
    const logs = Array.from({ length: 2_000 }, () => wireLog(key.accountId, { QueryPayloadRaw: 'p'.repeat(300) }));
    const body = Buffer.from(logs.map((l) => JSON.stringify(l) + '\n').join(''));
    assert.ok(body.length > 1_048_576);
    const head =
      'POST /oms/v1/ingest HTTP/1.1\r\n' +
      `Host: ${host}\r\nContent-Length: ${body.length}\r\nContent-Type: application/x-ndjson\r\nAuthorization: Bearer ${INGEST_TOKEN}\r\n\r\n`;
    assert.deepEqual((await sendRaw(t.url, head, body)).body, { Accepted: 2_000, Duplicates: 0, Rejected: [] });
  });

  it("Vector's healthcheck (HEAD on healthcheck.uri) answers 200", async () => {
    const answer = await fetch(`${t.url}/healthz`, { method: 'HEAD' });
    assert.equal(answer.status, 200);
  });
});

describe('docs/ingest.md holds the configurations these shapes come from', () => {
  const doc = readFileSync(new URL('../../docs/ingest.md', import.meta.url), 'utf8');

  it('Fluent Bit: json_lines to /oms/v1/ingest, date key off, bearer header from the environment', () => {
    for (const line of ['Name            http', 'URI             /oms/v1/ingest', 'Format          json_lines', 'json_date_key   false', 'Compress        gzip', 'Header          Authorization Bearer ${OMS_INGEST_TOKEN}']) {
      assert.ok(doc.includes(line), line);
    }
  });

  it('Vector: http sink, json codec, newline_delimited framing, gzip, bearer auth', () => {
    for (const line of ['type = "http"', 'uri = "http://127.0.0.1:8080/oms/v1/ingest"', 'encoding.codec = "json"', 'framing.method = "newline_delimited"', 'compression = "gzip"', 'auth.strategy = "bearer"', 'auth.token = "${OMS_INGEST_TOKEN}"']) {
      assert.ok(doc.includes(line), line);
    }
  });
});
