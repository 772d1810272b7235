import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { AwsClient } from 'aws4fetch';
import { formatHeaderRaw, MASK } from '../../src/capture/index.js';
import type { StoredLogRecord } from '../../src/domain/index.js';
import { startUpstreamFixture, type ReceivedRequest, type UpstreamFixture } from '../fixtures/upstream-fixture.js';
import { callSigned, REGION, startTestServer, type TestKey, type TestServer } from '../fixtures/test-server.js';

const run = promisify(execFile);

/**
 * The gateway end to end over loopback: the OUTSCALE-like upstream fixture behind a real `oms serve`
 * (SQLite file, undici upstream), driven by real signing clients; ReadApiLogs then shows exactly the
 * records the calls should have left, every field checked.
 */

async function recordsOf(t: TestServer, accountId: string): Promise<StoredLogRecord[]> {
  const page = await t.stores.logs.readPage({ accountId, fromUs: 0, toUs: Number.MAX_SAFE_INTEGER, limit: 1000 });
  // ReadApiLogs' own records are OMS's, not the gateway's.
  return page.records.filter((r) => r.QueryCallName !== 'ReadApiLogs');
}

function lastRequest(upstream: UpstreamFixture): ReceivedRequest {
  const request = upstream.requests.at(-1);
  assert.ok(request, 'the upstream received the call');
  return request;
}

/**
 * The caller's header lines as the upstream got them: same order and values, X-Forwarded-For added.
 * Names are compared without case (RFC 9110 section 5.1): undici writes `host` and `content-length`
 * in lower case, and adds its own `connection`, a hop-by-hop field.
 */
function upstreamHeaderLines(received: ReceivedRequest): string[] {
  const pairs = received.headers.filter(([name]) => !['x-forwarded-for', 'connection'].includes(name.toLowerCase()));
  return formatHeaderRaw(pairs.flat()).split('\\n').map(lowerName);
}

function lowerName(line: string): string {
  const colon = line.indexOf(':');
  return line.slice(0, colon).toLowerCase() + line.slice(colon);
}

function header(received: ReceivedRequest, name: string): string | undefined {
  return received.headers.find(([n]) => n.toLowerCase() === name)?.[1];
}

async function curl(args: string[]): Promise<{ status: number; body: string; headers: string }> {
  const { stdout } = await run('curl', ['-sS', '-D', '-', '-w', '\n%{http_code}', ...args], { maxBuffer: 64 * 1024 * 1024 });
  const split = stdout.lastIndexOf('\n');
  const text = stdout.slice(0, split);
  const headEnd = text.indexOf('\r\n\r\n');
  return { status: Number(stdout.slice(split + 1)), headers: text.slice(0, headEnd), body: text.slice(headEnd + 4) };
}

/** Sends raw bytes on a fresh connection and returns everything the server sent back until it closed. */
function rawExchange(port: number, data: string | Buffer, options: { endAfterMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.write(data);
    if (options.endAfterMs !== undefined) setTimeout(() => socket.end(), options.endAfterMs);
  });
}

describe('the gateway with real signing clients', () => {
  let upstream: UpstreamFixture;
  let t: TestServer;
  let key: TestKey;

  before(async () => {
    upstream = await startUpstreamFixture();
    t = await startTestServer({ settings: { upstream: upstream.url, secretFields: 'ApiKey' } });
    key = await t.createKey();
  });
  after(async () => {
    await t.close();
    await upstream.close();
  });

  async function checkRecord(record: StoredLogRecord | undefined, received: ReceivedRequest, expected: { callName: string; body: string; payloadSize?: number; userAgent: string; responseSize: number; status?: number }): Promise<void> {
    assert.ok(record, 'one record');
    assert.equal(record.AccountId, key.accountId);
    assert.equal(record.QueryAccessKey, key.accessKeyId);
    assert.equal(record.QueryApiName, 'oapi');
    assert.equal(record.QueryApiVersion, '1.40');
    assert.equal(record.QueryCallName, expected.callName);
    assert.ok(Math.abs(record.QueryDateUs - Date.now() * 1000) < 60_000_000, 'QueryDate is now');
    // Hop-by-hop fields (Connection) are the caller's own to this server and are not forwarded.
    const recorded = record.QueryHeaderRaw.split('\\n').map(lowerName).filter((line) => !line.startsWith('connection:'));
    assert.deepEqual(recorded, upstreamHeaderLines(received));
    assert.match(record.QueryHeaderRaw, /(^|\\n)Authorization: \*{5}(\\n|$)/);
    assert.ok(!record.QueryHeaderRaw.includes('Signature='), 'no signature in the record');
    assert.ok(record.QueryHeaderSize > record.QueryHeaderRaw.length - 40);
    assert.equal(record.QueryIpAddress, '127.0.0.1');
    assert.equal(record.QueryPayloadRaw, expected.body);
    assert.equal(record.QueryPayloadSize, expected.payloadSize ?? Buffer.byteLength(expected.body));
    assert.equal(record.QueryUserAgent, expected.userAgent);
    assert.equal(record.RequestId, received.requestId);
    assert.equal(record.ResponseSize, expected.responseSize);
    assert.equal(record.ResponseStatusCode, expected.status ?? 200);
    assert.ok(record.CallDuration > 0 && record.CallDuration < 10_000_000, `CallDuration ${record.CallDuration} µs`);
  }

  it('curl --aws-sigv4 "osc:osc:…:api": forwarded untouched plus X-Forwarded-For, answer streamed back, one exact record', async () => {
    const body = '{"Filters":{"VmIds":["i-12345678"]}}';
    const answer = await curl(['--aws-sigv4', `osc:osc:${REGION}:api`, '--user', `${key.accessKeyId}:${key.secretKey}`, '-H', 'Content-Type: application/json', '-d', body, `${t.url}/api/v1/ReadVms`]);
    assert.equal(answer.status, 200, answer.body);
    const received = lastRequest(upstream);
    assert.equal(received.url, '/api/v1/ReadVms');
    assert.equal(received.body.toString(), body);
    assert.equal(header(received, 'x-forwarded-for'), '127.0.0.1');
    assert.match(header(received, 'authorization') ?? '', /^OSC4-HMAC-SHA256 /);
    assert.deepEqual(JSON.parse(answer.body), { ResponseContext: { RequestId: received.requestId } });
    await t.server.writer.flush();
    const records = (await recordsOf(t, key.accountId)).filter((r) => r.RequestId === received.requestId);
    assert.equal(records.length, 1);
    const version = (await run('curl', ['--version'])).stdout.split(' ')[1];
    await checkRecord(records[0], received, { callName: 'ReadVms', body, userAgent: `curl/${version}`, responseSize: Buffer.byteLength(answer.body) });
  });

  it('curl --aws-sigv4 "aws:amz:…:api" on /api/latest/: one exact record', async () => {
    const body = '{"Size":10,"SubregionName":"eu-west-2a"}';
    const answer = await curl(['--aws-sigv4', `aws:amz:${REGION}:api`, '--user', `${key.accessKeyId}:${key.secretKey}`, '-H', 'Content-Type: application/json', '-d', body, `${t.url}/api/latest/CreateVolume`]);
    assert.equal(answer.status, 200, answer.body);
    const received = lastRequest(upstream);
    assert.match(header(received, 'authorization') ?? '', /^AWS4-HMAC-SHA256 /);
    await t.server.writer.flush();
    const records = (await recordsOf(t, key.accountId)).filter((r) => r.RequestId === received.requestId);
    assert.equal(records.length, 1);
    const version = (await run('curl', ['--version'])).stdout.split(' ')[1];
    await checkRecord(records[0], received, { callName: 'CreateVolume', body, userAgent: `curl/${version}`, responseSize: Buffer.byteLength(answer.body) });
  });

  it('aws4fetch with x-osc-target on /: one exact record, secrets in the payload masked (built-in and --secret-fields)', async () => {
    const client = new AwsClient({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretKey, service: 'api', region: REGION });
    const body = '{"AccountId":"x","Pass\\u0077ord":"hunter2","ApiKey":{"Id":"k-123"},"Tags":[{"Key":"a","Value":"b"}]}';
    const response = await client.fetch(`${t.url}/`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-osc-target': 'OutscaleService.UpdateAccount', 'user-agent': 'aws4fetch-test' } });
    const text = await response.text();
    assert.equal(response.status, 200, text);
    const received = lastRequest(upstream);
    assert.equal(received.callName, 'UpdateAccount');
    assert.equal(received.body.toString(), body, 'the upstream gets the payload unmasked');
    await t.server.writer.flush();
    const records = (await recordsOf(t, key.accountId)).filter((r) => r.RequestId === received.requestId);
    assert.equal(records.length, 1);
    await checkRecord(records[0], received, { callName: 'UpdateAccount', body: body.replace('"hunter2"', `"${MASK}"`).replace('{"Id":"k-123"}', `"${MASK}"`), payloadSize: Buffer.byteLength(body), userAgent: 'aws4fetch-test', responseSize: Buffer.byteLength(text) });
  });

  it('reads the records back through ReadApiLogs on the same port', async () => {
    const answer = await callSigned(t.url, key, { Filters: { QueryCallNames: ['ReadVms', 'CreateVolume', 'UpdateAccount'] } });
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(answer.body.Logs.map((l: { QueryCallName: string }) => l.QueryCallName).sort(), ['CreateVolume', 'ReadVms', 'UpdateAccount']);
  });

  it('a bad signature is answered 401 in the OUTSCALE shape, not forwarded, not recorded; four lock the key', async () => {
    const before = upstream.requests.length;
    const recordsBefore = (await recordsOf(t, key.accountId)).length;
    const other = await t.createKey();
    for (let i = 0; i < 4; i++) {
      const answer = await callSigned(t.url, { accessKeyId: other.accessKeyId, secretKey: 'wrong'.repeat(8) }, {}, { path: '/api/v1/ReadVms' });
      assert.equal(answer.status, 401);
      assert.equal(answer.body.Errors[0].Code, '1');
      assert.equal(answer.body.Errors[0].Type, 'AccessDenied');
      assert.equal(typeof answer.body.ResponseContext.RequestId, 'string');
    }
    const locked = await callSigned(t.url, other, {}, { path: '/api/v1/ReadVms' });
    assert.equal(locked.status, 401);
    assert.equal(locked.body.Errors[0].Code, '5');
    assert.ok(Number(locked.headers.get('retry-after')) > 0);
    const unsigned = await fetch(`${t.url}/api/v1/ReadVms`, { method: 'POST', body: '{}' });
    assert.equal(unsigned.status, 401);
    assert.equal(upstream.requests.length, before, 'nothing reached the upstream');
    await t.server.writer.flush();
    assert.equal((await recordsOf(t, key.accountId)).length, recordsBefore);
    assert.equal((await recordsOf(t, other.accountId)).length, 0);
  });

  it('an unknown call is forwarded and its 404 passes back untouched, without a record', async () => {
    const recordsBefore = (await recordsOf(t, key.accountId)).length;
    const answer = await callSigned(t.url, key, {}, { path: '/api/v1/NoSuchCall' });
    assert.equal(answer.status, 404);
    const received = lastRequest(upstream);
    assert.equal(received.kind, 'unknown-call');
    assert.equal(answer.body.ResponseContext.RequestId, received.requestId);
    await t.server.writer.flush();
    assert.equal((await recordsOf(t, key.accountId)).length, recordsBefore);
  });

  it('an upstream 401 is passed back without a record', async () => {
    const recordsBefore = (await recordsOf(t, key.accountId)).length;
    upstream.setBehaviour({ status: 401 });
    try {
      const answer = await callSigned(t.url, key, {}, { path: '/api/v1/ReadVms' });
      assert.equal(answer.status, 401);
    } finally {
      upstream.setBehaviour({ status: undefined });
    }
    await t.server.writer.flush();
    assert.equal((await recordsOf(t, key.accountId)).length, recordsBefore);
  });

  it('AWS-compliant and Object Storage calls are forwarded without a record', async () => {
    const recordsBefore = (await recordsOf(t, key.accountId)).length;
    const before = upstream.requests.length;
    const fcu = await curl(['--aws-sigv4', `aws:amz:${REGION}:ec2`, '--user', `${key.accessKeyId}:${key.secretKey}`, `${t.url}/?Action=DescribeInstances&Version=2016-11-15`]);
    assert.equal(fcu.status, 200);
    assert.match(fcu.body, /<DescribeInstancesResponse/);
    const form = await curl(['-H', 'Content-Type: application/x-www-form-urlencoded', '-d', 'Action=DescribeLoadBalancers&Version=2012-06-01', `${t.url}/`]);
    assert.equal(form.status, 200);
    const target = await curl(['-H', 'x-amz-target: OvertureService.DescribeConnections', '-H', 'Content-Type: application/x-amz-json-1.1', '-d', '{}', `${t.url}/`]);
    assert.equal(target.status, 200);
    assert.equal(target.body, '{}');
    const oos = await curl(['--aws-sigv4', `aws:amz:${REGION}:s3`, '--user', `${key.accessKeyId}:${key.secretKey}`, '-X', 'PUT', '--data-binary', 'object bytes', `${t.url}/bucket/key.txt`]);
    assert.equal(oos.status, 404);
    assert.equal(upstream.requests.length, before + 4, 'all four reached the upstream');
    assert.equal(upstream.requests.at(-1)?.body.toString(), 'object bytes');
    await t.server.writer.flush();
    assert.equal((await recordsOf(t, key.accountId)).length, recordsBefore);
  });

  it('OMS routes are served by OMS, not forwarded', async () => {
    const before = upstream.requests.length;
    assert.equal((await fetch(`${t.url}/healthz`)).status, 200);
    const ready = await fetch(`${t.url}/readyz`);
    assert.deepEqual(await ready.json(), { Status: 'ready', SpoolBacklog: 0 });
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    assert.match(metrics, /oms_spool_backlog_records 0/);
    assert.match(metrics, /oms_gateway_calls_total\{kind="oapi",status="200",recorded="yes"\}/);
    assert.equal((await callSigned(t.url, key, {}, { path: '//api/latest/ReadApiLogs' })).status, 200);
    assert.equal(upstream.requests.length, before);
  });
});

describe('the gateway facing hostile upstreams', () => {
  let upstream: UpstreamFixture;
  let t: TestServer;
  let key: TestKey;

  before(async () => {
    upstream = await startUpstreamFixture();
    t = await startTestServer({ settings: { upstream: upstream.url, upstreamTimeoutMs: '400' } });
    key = await t.createKey();
  });
  after(async () => {
    await t.close();
    await upstream.close();
  });

  interface Outcome {
    status: number | 'cut';
    bytes: number;
    requestIdHeader: string | null;
  }

  /** One signed call read to its end (or until the stream is cut), counting the body bytes. */
  async function call(path = '/api/v1/ReadVms'): Promise<Outcome> {
    const { signRequest } = await import('../../src/identity/sigv4/index.js');
    const url = t.url + path;
    const signed = signRequest({ method: 'POST', url, headers: { 'content-type': 'application/json' }, body: '{}', accessKeyId: key.accessKeyId, secretKey: key.secretKey, region: REGION });
    const { Host: _h, host: _lh, ...headers } = signed;
    const response = await fetch(url, { method: 'POST', headers, body: '{}' });
    let bytes = 0;
    try {
      for await (const chunk of response.body ?? []) bytes += (chunk as Uint8Array).length;
    } catch {
      return { status: 'cut', bytes, requestIdHeader: response.headers.get('x-oms-request-id') };
    }
    return { status: response.status, bytes, requestIdHeader: response.headers.get('x-oms-request-id') };
  }

  const cases: Array<{ name: string; behaviour: Parameters<UpstreamFixture['setBehaviour']>[0]; seen: number | 'cut'; recorded: { status: number; bytes: number | 'answer'; requestId: 'upstream' | 'generated' } | null }> = [
    { name: 'an answer without a body', behaviour: { emptyBody: true }, seen: 200, recorded: { status: 200, bytes: 0, requestId: 'generated' } },
    { name: 'an answer without a RequestId', behaviour: { omitRequestId: true }, seen: 200, recorded: { status: 200, bytes: 'answer', requestId: 'generated' } },
    { name: 'an answer that is not valid JSON', behaviour: { invalidJson: true }, seen: 200, recorded: { status: 200, bytes: 'answer', requestId: 'upstream' } },
    { name: 'an enormous answer, RequestId at its end', behaviour: { bodyBytes: 24 * 1024 * 1024, requestIdLast: true }, seen: 200, recorded: { status: 200, bytes: 24 * 1024 * 1024, requestId: 'upstream' } },
    { name: 'a slow answer, chunk by chunk', behaviour: { bodyBytes: 64 * 1024, chunkBytes: 8 * 1024, bodyDelayMs: 30 }, seen: 200, recorded: { status: 200, bytes: 64 * 1024, requestId: 'upstream' } },
    { name: 'an error status (409)', behaviour: { status: 409 }, seen: 409, recorded: { status: 409, bytes: 'answer', requestId: 'upstream' } },
    { name: 'a 503 from the upstream, passed back as is', behaviour: { status: 503 }, seen: 503, recorded: { status: 503, bytes: 'answer', requestId: 'upstream' } },
    { name: 'a head that comes too late: 504', behaviour: { delayMs: 1_500 }, seen: 504, recorded: { status: 504, bytes: 'answer', requestId: 'generated' } },
    { name: 'a reset after the head, before any body byte: 502', behaviour: { resetAfterHeadMs: 20 }, seen: 502, recorded: { status: 502, bytes: 'answer', requestId: 'generated' } },
    { name: 'an answer that never ends, before its first chunk left: 504', behaviour: { neverEnd: true }, seen: 504, recorded: { status: 504, bytes: 'answer', requestId: 'generated' } },
    { name: 'an answer that never ends, after some chunks: the stream is cut', behaviour: { neverEnd: true, bodyBytes: 64 * 1024, chunkBytes: 8 * 1024 }, seen: 'cut', recorded: { status: 200, bytes: 'answer', requestId: 'upstream' } },
  ];

  for (const c of cases) {
    it(`${c.name}: the caller sees ${c.seen}, recorded ${c.recorded === null ? 'never' : `with ${c.recorded.status}`}`, async () => {
      upstream.setBehaviour(c.behaviour);
      const rssBefore = process.memoryUsage().rss;
      let outcome: Outcome;
      try {
        outcome = await call();
      } finally {
        upstream.setBehaviour(Object.fromEntries(Object.keys(c.behaviour).map((k) => [k, undefined])));
      }
      assert.equal(outcome.status, c.seen);
      assert.ok(process.memoryUsage().rss - rssBefore < 200 * 1024 * 1024, 'memory stays bounded');
      await t.server.writer.flush();
      const received = lastRequest(upstream);
      const records = (await recordsOf(t, key.accountId)).filter((r) => r.RequestId === received.requestId || r.RequestId === outcome.requestIdHeader);
      if (c.recorded === null) {
        assert.equal(records.length, 0);
        return;
      }
      assert.equal(records.length, 1);
      const record = records[0] as StoredLogRecord;
      assert.equal(record.ResponseStatusCode, c.recorded.status);
      assert.equal(record.RequestId, c.recorded.requestId === 'upstream' ? received.requestId : outcome.requestIdHeader);
      assert.equal(record.ResponseSize, c.recorded.bytes === 'answer' ? outcome.bytes : c.recorded.bytes);
      if (c.seen !== 'cut') assert.equal(record.ResponseSize, outcome.bytes);
    });
  }

  it('an upstream that cannot be reached: 503 in the OUTSCALE shape, recorded with 503', async () => {
    const down = await startUpstreamFixture();
    const url = down.url;
    await down.close();
    const t2 = await startTestServer({ settings: { upstream: url } });
    try {
      const key2 = await t2.createKey();
      const answer = await callSigned(t2.url, key2, {}, { path: '/api/v1/ReadVms' });
      assert.equal(answer.status, 503);
      assert.equal(answer.body.Errors[0].Code, '2001');
      assert.equal(answer.body.Errors[0].Type, 'ServiceUnavailable');
      const requestId = answer.body.ResponseContext.RequestId;
      assert.equal(answer.headers.get('x-oms-request-id'), requestId);
      await t2.server.writer.flush();
      const records = await recordsOf(t2, key2.accountId);
      assert.equal(records.length, 1);
      assert.equal(records[0]?.RequestId, requestId);
      assert.equal(records[0]?.ResponseStatusCode, 503);
      assert.equal(records[0]?.ResponseSize, Buffer.byteLength(answer.text));
    } finally {
      await t2.close();
    }
  });
});

describe('the gateway facing hostile callers', () => {
  let upstream: UpstreamFixture;
  let t: TestServer;
  let key: TestKey;
  let port: number;

  before(async () => {
    upstream = await startUpstreamFixture();
    t = await startTestServer({ settings: { upstream: upstream.url } });
    key = await t.createKey();
    port = Number(new URL(t.url).port);
  });
  after(async () => {
    await t.close();
    await upstream.close();
  });

  const cases: Array<{ name: string; request: () => string | Buffer; status: string }> = [
    { name: 'bad chunked encoding', request: () => 'POST /api/v1/ReadVms HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n', status: '400' },
    { name: 'headers over 16 KiB', request: () => `POST /api/v1/ReadVms HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\nContent-Length: 2\r\n\r\n{}`, status: '431' },
    { name: 'a body over 1 MiB (declared)', request: () => `POST /api/v1/ReadVms HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n{`, status: '413' },
    { name: 'a body over 1 MiB (chunked)', request: () => Buffer.concat([Buffer.from('POST /api/v1/ReadVms HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n'), Buffer.from(`200000\r\n${'x'.repeat(0x200000)}\r\n0\r\n\r\n`)]), status: '413' },
    { name: 'Content-Length and Transfer-Encoding together', request: () => 'POST /api/v1/ReadVms HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', status: '400' },
    { name: 'a request target that is not a path', request: () => 'GET * HTTP/1.1\r\nHost: x\r\n\r\n', status: '400' },
  ];

  for (const c of cases) {
    it(`${c.name}: answered ${c.status}, nothing forwarded, nothing recorded, the server keeps serving`, async () => {
      const before = upstream.requests.length;
      const answer = await rawExchange(port, c.request(), { endAfterMs: 2_000 });
      assert.match(answer, new RegExp(`^HTTP/1\\.1 ${c.status} `));
      const body = answer.slice(answer.indexOf('\r\n\r\n') + 4);
      if (body.length > 0) assert.equal(typeof JSON.parse(body).Errors[0].Code, 'string');
      assert.equal(upstream.requests.length, before);
      assert.equal((await callSigned(t.url, key, {}, { path: '/api/v1/ReadVms' })).status, 200);
    });
  }

  it('a slow body, arriving piece by piece, is forwarded whole and recorded once', async () => {
    const { signRequest } = await import('../../src/identity/sigv4/index.js');
    const body = JSON.stringify({ Description: 'd'.repeat(3000) });
    const signed = signRequest({ method: 'POST', url: `${t.url}/api/v1/CreateVolume`, headers: { 'content-type': 'application/json' }, body, accessKeyId: key.accessKeyId, secretKey: key.secretKey, region: REGION });
    const head = `POST /api/v1/CreateVolume HTTP/1.1\r\n${Object.entries(signed).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('error', reject);
      socket.on('close', () => resolve(Buffer.concat(chunks).toString()));
      socket.write(head);
      let offset = 0;
      const next = (): void => {
        socket.write(body.slice(offset, offset + 500));
        offset += 500;
        if (offset < body.length) setTimeout(next, 40);
      };
      next();
    });
    assert.match(answer, /^HTTP\/1\.1 200 /);
    const received = lastRequest(upstream);
    assert.equal(received.body.toString(), body);
    await t.server.writer.flush();
    const records = (await recordsOf(t, key.accountId)).filter((r) => r.RequestId === received.requestId);
    assert.equal(records.length, 1);
    assert.equal(records[0]?.QueryPayloadSize, body.length);
  });
});

describe('the gateway under backpressure and in relaxed mode', () => {
  it('calls beyond --max-in-flight get 429 RequestLimitExceeded with Retry-After, and no record', async () => {
    const upstream = await startUpstreamFixture();
    const t = await startTestServer({ settings: { upstream: upstream.url, maxInFlight: '4' } });
    try {
      const key = await t.createKey();
      upstream.setBehaviour({ delayMs: 400 });
      const answers = await Promise.all(Array.from({ length: 10 }, () => callSigned(t.url, key, {}, { path: '/api/v1/ReadVms' })));
      const ok = answers.filter((a) => a.status === 200);
      const refused = answers.filter((a) => a.status === 429);
      assert.equal(ok.length, 4);
      assert.equal(refused.length, 6);
      for (const answer of refused) {
        assert.equal(answer.body.Errors[0].Code, '10');
        assert.equal(answer.body.Errors[0].Type, 'RequestLimitExceeded');
        assert.equal(answer.headers.get('retry-after'), '1');
      }
      assert.equal(upstream.requests.length, 4, 'refused calls never reach the upstream');
      await t.server.writer.flush();
      const records = await recordsOf(t, key.accountId);
      assert.deepEqual(records.map((r) => r.RequestId).sort(), ok.map((a) => a.body.ResponseContext.RequestId).sort());
      upstream.setBehaviour({ delayMs: undefined });
      assert.equal((await callSigned(t.url, key, {}, { path: '/api/v1/ReadVms' })).status, 200, 'served again once below the limit');
    } finally {
      await t.close();
      await upstream.close();
    }
  });

  it('--durability relaxed records every call, written after the answer', async () => {
    const upstream = await startUpstreamFixture();
    const t = await startTestServer({ settings: { upstream: upstream.url, durability: 'relaxed' } });
    try {
      const key = await t.createKey();
      const answers = await Promise.all(Array.from({ length: 20 }, () => callSigned(t.url, key, { n: 1 }, { path: '/api/v1/ReadVolumes' })));
      assert.ok(answers.every((a) => a.status === 200));
      await t.server.writer.flush();
      const records = await recordsOf(t, key.accountId);
      assert.deepEqual(records.map((r) => r.RequestId).sort(), answers.map((a) => a.body.ResponseContext.RequestId).sort());
      assert.ok(records.every((r) => r.QueryCallName === 'ReadVolumes' && r.QueryPayloadRaw === '{"n":1}'));
    } finally {
      await t.close();
      await upstream.close();
    }
  });
});
