/**
 * Real signing clients against verifySignature, over loopback: curl --aws-sigv4 (OSC4 and AWS4), aws4fetch
 * (what the official OUTSCALE TypeScript SDK signs with), @smithy/signature-v4 (the AWS SDK signer) and a
 * doubled-slash path as osc-cli sends it. A node:http server captures each request exactly as received.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { IncomingHttpHeaders, Server } from 'node:http';
import { promisify } from 'node:util';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { AwsClient } from 'aws4fetch';
import { parseSigningDate, signRequest, verifySignature } from '../../src/identity/sigv4/index.js';
import type { ReceivedRequest, SigningAlgorithm } from '../../src/identity/sigv4/index.js';

const execFileAsync = promisify(execFile);

const ACCESS_KEY_ID = 'AKIAOMSTEST000000001';
const SECRET = 'OMSTESTSECRETKEY0000000000000000000000001';
const WRONG_SECRET = 'OMSTESTSECRETKEY0000000000000000000000002';
const REGION = 'eu-west-2';
const BODY = '{"Filters":{}}';

interface Captured {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

let server: Server;
let origin: string;
let port: number;
const captured: Captured[] = [];


before(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      captured.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** Runs `send`, then returns the one request the server received meanwhile. */
async function capture(send: () => Promise<unknown>): Promise<Captured> {
  captured.length = 0;
  await send();
  assert.equal(captured.length, 1, 'the client sent exactly one request');
  return captured[0] as Captured;
}

function received(c: Captured): ReceivedRequest {
  return { method: c.method, path: c.url, headers: c.headers, body: c.body };
}

function assertVerifies(c: Captured): void {
  const request = received(c);
  assert.deepEqual(verifySignature(request, SECRET, Date.now()), { ok: true });
  const wrong = verifySignature(request, WRONG_SECRET, Date.now());
  assert.equal(wrong.ok, false);
  if (!wrong.ok) assert.equal(wrong.code, 'SignatureMismatch');
}

function curl(provider: string, target: string, extra: string[] = []): Promise<unknown> {
  return execFileAsync(
    'curl',
    [
      '-sS',
      '--max-time',
      '10',
      '--aws-sigv4',
      provider,
      '--user',
      `${ACCESS_KEY_ID}:${SECRET}`,
      '-H',
      'Content-Type: application/json',
      ...extra,
      '-d',
      BODY,
      `${origin}${target}`,
    ],
    { timeout: 15_000 },
  );
}

/** signRequest on the same inputs and at the instant curl signed. */
function resign(c: Captured, algorithm: SigningAlgorithm, headers: Record<string, string>): string | undefined {
  const dateHeader = algorithm === 'OSC4-HMAC-SHA256' ? c.headers['x-osc-date'] : c.headers['x-amz-date'];
  assert.equal(typeof dateHeader, 'string');
  const now = parseSigningDate(dateHeader as string);
  assert.notEqual(now, undefined);
  return signRequest({
    method: c.method,
    url: `${origin}${c.url}`,
    headers,
    body: c.body,
    accessKeyId: ACCESS_KEY_ID,
    secretKey: SECRET,
    region: REGION,
    algorithm,
    ...(now === undefined ? {} : { now }),
  })['Authorization'];
}

// curl is part of the test environment (.ci/run installs it): its absence is a failure, not a skip.
describe('curl --aws-sigv4', () => {
  it('osc:osc:eu-west-2:api verifies, and signRequest writes the same Authorization', async () => {
    const c = await capture(() => curl(`osc:osc:${REGION}:api`, '/api/v1/ReadApiLogs'));
    assert.match(
      c.headers['authorization'] ?? '',
      /^OSC4-HMAC-SHA256 Credential=AKIAOMSTEST000000001\/\d{8}\/eu-west-2\/api\/osc4_request, SignedHeaders=content-type;host;x-osc-date, Signature=[0-9a-f]{64}$/,
    );
    // curl 7.88 sends no payload hash header: the server hashes the body itself.
    assert.equal(c.headers['x-osc-content-sha256'], undefined);
    assert.equal(c.headers['x-amz-content-sha256'], undefined);
    assertVerifies(c);
    assert.equal(resign(c, 'OSC4-HMAC-SHA256', { 'Content-Type': 'application/json' }), c.headers['authorization']);
  });

  it('aws:amz:eu-west-2:api verifies, and signRequest writes the same Authorization', async () => {
    const c = await capture(() => curl(`aws:amz:${REGION}:api`, '/api/v1/ReadApiLogs'));
    assert.match(
      c.headers['authorization'] ?? '',
      /^AWS4-HMAC-SHA256 Credential=AKIAOMSTEST000000001\/\d{8}\/eu-west-2\/api\/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=[0-9a-f]{64}$/,
    );
    assertVerifies(c);
    assert.equal(resign(c, 'AWS4-HMAC-SHA256', { 'Content-Type': 'application/json' }), c.headers['authorization']);
  });

  it('signs extra headers with whitespace collapsed, as signRequest does', async () => {
    const c = await capture(() =>
      curl(`osc:osc:${REGION}:api`, '/api/v1/ReadApiLogs?a=1&b=x%2Fy', ['-H', 'X-Trace:  one   two  ']),
    );
    assertVerifies(c);
    const headers = { 'Content-Type': 'application/json', 'X-Trace': 'one   two' };
    assert.equal(resign(c, 'OSC4-HMAC-SHA256', headers), c.headers['authorization']);
  });

  it('an unsorted query string verifies (curl 7.88 signs the query as sent)', async () => {
    const c = await capture(() => curl(`osc:osc:${REGION}:api`, '/api/v1/ReadApiLogs?b=2&a=1'));
    assertVerifies(c);
  });

  it('a doubled slash kept with --path-as-is verifies (curl signs the path as sent)', async () => {
    const c = await capture(() => curl(`osc:osc:${REGION}:api`, '//api/v1/ReadApiLogs', ['--path-as-is']));
    assert.equal(c.url, '//api/v1/ReadApiLogs');
    assertVerifies(c);
  });
});

describe('aws4fetch (as the OUTSCALE TypeScript SDK uses it)', () => {
  const client = new AwsClient({ accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET, service: 'api', region: REGION });

  it('verifies', async () => {
    const c = await capture(async () => {
      const res = await client.fetch(`${origin}/api/v1/ReadApiLogs`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: BODY,
      });
      await res.text();
    });
    // aws4fetch never signs content-type, content-length or user-agent (its UNSIGNABLE_HEADERS).
    assert.match(c.headers['authorization'] ?? '', /SignedHeaders=host;x-amz-date,/);
    assertVerifies(c);
  });

  it('verifies a path it encodes twice', async () => {
    const c = await capture(async () => {
      const res = await client.fetch(`${origin}/api/v1/Read%20Api'Logs`, { method: 'POST', body: BODY });
      await res.text();
    });
    assert.equal(c.url, "/api/v1/Read%20Api'Logs");
    assertVerifies(c);
  });
});

describe('@smithy/signature-v4 (the AWS SDK signer), sent with fetch', () => {
  const signer = new SignatureV4({
    service: 'api',
    region: REGION,
    credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET },
    sha256: Sha256,
  });

  async function sendSigned(path: string, query: Record<string, string>): Promise<Captured> {
    const signed = await signer.sign({
      method: 'POST',
      protocol: 'http:',
      hostname: '127.0.0.1',
      port,
      path,
      query,
      headers: { host: `127.0.0.1:${port}`, 'content-type': 'application/json' },
      body: BODY,
    });
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(signed.headers)) if (name !== 'host') headers[name] = value;
    const search = new URLSearchParams(query).toString();
    return capture(async () => {
      const res = await fetch(`${origin}${path}${search === '' ? '' : `?${search}`}`, { method: 'POST', headers, body: BODY });
      await res.text();
    });
  }

  it('verifies, with the x-amz-content-sha256 header it adds', async () => {
    const c = await sendSigned('/api/v1/ReadApiLogs', {});
    assert.match(c.headers['authorization'] ?? '', /SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date,/);
    assertVerifies(c);
  });

  it('verifies an encoded path and a query', async () => {
    const c = await sendSigned('/api/v1/Read%20ApiLogs', { b: 'x y', a: '1' });
    assertVerifies(c);
  });
});

describe('a doubled-slash path as osc-cli sends it', () => {
  it('verifies when /api/latest/ReadApiLogs was signed and //api/latest/ReadApiLogs sent', async () => {
    const headers = signRequest({
      method: 'POST',
      url: `${origin}/api/latest/ReadApiLogs`,
      headers: { 'Content-Type': 'application/json' },
      body: BODY,
      accessKeyId: ACCESS_KEY_ID,
      secretKey: SECRET,
      region: REGION,
    });
    const c = await capture(
      () =>
        new Promise<void>((resolve, reject) => {
          const req = httpRequest(
            { host: '127.0.0.1', port, method: 'POST', path: '//api/latest/ReadApiLogs', headers, agent: false },
            (res) => {
              res.resume();
              res.on('end', resolve);
            },
          );
          req.on('error', reject);
          req.end(BODY);
        }),
    );
    assert.equal(c.url, '//api/latest/ReadApiLogs');
    assertVerifies(c);
  });
});
