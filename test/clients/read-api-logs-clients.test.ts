import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { AwsClient } from 'aws4fetch';
import { makeRecord, REGION, startTestServer, type TestKey, type TestServer } from '../fixtures/test-server.js';

const run = promisify(execFile);

/**
 * The real clients OUTSCALE users sign with, against a real `oms serve` over loopback: curl's
 * --aws-sigv4 in both provider forms, aws4fetch (what the official TypeScript SDK signs with) and the
 * AWS SDK's SigV4 signer. Each must read exactly the same logs.
 */
describe('ReadApiLogs with real signing clients', () => {
  let t: TestServer;
  let key: TestKey;
  const body = JSON.stringify({ Filters: { QueryCallNames: ['CreateVolume', 'DeleteVolume'] } });
  let expectedIds: string[];

  before(async () => {
    t = await startTestServer();
    key = await t.createKey();
    const now = Date.now() * 1000;
    const records = [
      makeRecord({ AccountId: key.accountId, QueryDateUs: now - 3_000_000, QueryCallName: 'CreateVolume' }),
      makeRecord({ AccountId: key.accountId, QueryDateUs: now - 2_000_000, QueryCallName: 'DeleteVolume' }),
      makeRecord({ AccountId: key.accountId, QueryDateUs: now - 1_000_000, QueryCallName: 'ReadVolumes' }),
    ];
    await t.seed(records);
    expectedIds = records.slice(0, 2).map((r) => r.RequestId);
  });
  after(async () => {
    await t.close();
  });

  async function curl(provider: string, path = '/api/v1/ReadApiLogs', secret = key.secretKey) {
    const { stdout } = await run('curl', [
      '-sS', '--aws-sigv4', provider, '--user', `${key.accessKeyId}:${secret}`,
      '-H', 'Content-Type: application/json', '-d', body, '-w', '\n%{http_code}', `${t.url}${path}`,
    ]);
    const split = stdout.lastIndexOf('\n');
    return { status: Number(stdout.slice(split + 1)), body: JSON.parse(stdout.slice(0, split)) };
  }

  it(`curl --aws-sigv4 "osc:osc:${REGION}:api" reads the logs`, async () => {
    const answer = await curl(`osc:osc:${REGION}:api`);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual(answer.body.Logs.map((l: any) => l.RequestId), expectedIds);
  });

  it(`curl --aws-sigv4 "aws:amz:${REGION}:api" reads the logs`, async () => {
    const answer = await curl(`aws:amz:${REGION}:api`);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual(answer.body.Logs.map((l: any) => l.RequestId), expectedIds);
  });

  it('curl reaches /api/latest/ReadApiLogs, and a wrong secret gets 401', async () => {
    assert.equal((await curl(`osc:osc:${REGION}:api`, '/api/latest/ReadApiLogs')).status, 200);
    const denied = await curl(`osc:osc:${REGION}:api`, '/api/v1/ReadApiLogs', 'Z'.repeat(40));
    assert.equal(denied.status, 401);
    assert.equal(denied.body.Errors[0].Type, 'AccessDenied');
  });

  it('aws4fetch, as the OUTSCALE TypeScript SDK configures it, reads the logs', async () => {
    const client = new AwsClient({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretKey, service: 'api', region: REGION });
    const response = await client.fetch(`${t.url}/api/v1/ReadApiLogs`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
    const answer = (await response.json()) as any;
    assert.equal(response.status, 200, JSON.stringify(answer));
    assert.deepEqual(answer.Logs.map((l: any) => l.RequestId), expectedIds);
  });

  it("the AWS SDK's SigV4 signer reads the logs", async () => {
    const url = new URL(`${t.url}/api/v1/ReadApiLogs`);
    const signer = new SignatureV4({ service: 'api', region: REGION, credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretKey }, sha256: Sha256 });
    const signed = await signer.sign({
      method: 'POST',
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      headers: { host: url.host, 'content-type': 'application/json' },
      body,
    });
    const { host: _host, ...headers } = signed.headers;
    const response = await fetch(url, { method: 'POST', headers, body });
    const answer = (await response.json()) as any;
    assert.equal(response.status, 200, JSON.stringify(answer));
    assert.deepEqual(answer.Logs.map((l: any) => l.RequestId), expectedIds);
  });

  /**
   * osc-cli's request, as its OSCCall builds it (osc_sdk/sdk.py): the URL is `"/".join([endpoint,
   * "/api/latest/" + call])` (so the path starts with `//`), the canonical URI is `/api/latest/<call>`,
   * the signed headers are host;x-osc-date;x-osc-target. Signed here with node:crypto step by step.
   */
  function oscCliCall(endpoint: string, secret = key.secretKey): Promise<{ status: number; body: any }> {
    const date = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    const day = date.slice(0, 8);
    const target = 'OutscaleService.ReadApiLogs';
    const url = new URL(`${endpoint}/${'/api/latest/ReadApiLogs'}`);
    const canonical = ['POST', '/api/latest/ReadApiLogs', '', `host:${url.host}\nx-osc-date:${date}\nx-osc-target:${target}\n`, 'host;x-osc-date;x-osc-target', createHash('sha256').update(body).digest('hex')].join('\n');
    const scope = `${day}/${REGION}/api/osc4_request`;
    const toSign = ['OSC4-HMAC-SHA256', date, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
    let signingKey: Buffer = Buffer.from(`OSC4${secret}`);
    for (const part of [day, REGION, 'api', 'osc4_request']) signingKey = createHmac('sha256', signingKey).update(part).digest();
    const signature = createHmac('sha256', signingKey).update(toSign).digest('hex');
    const headers = {
      'Content-Type': 'application/json',
      'User-agent': 'osc_sdk/1.10.0',
      'X-Osc-Date': date,
      'x-osc-target': target,
      Authorization: `OSC4-HMAC-SHA256 Credential=${key.accessKeyId}/${scope}, SignedHeaders=host;x-osc-date;x-osc-target, Signature=${signature}`,
    };
    return new Promise((resolve, reject) => {
      // url.pathname would already hold the path as sent; node:http sends `path` untouched.
      const req = httpRequest({ host: url.hostname, port: url.port, method: 'POST', path: url.pathname, headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) }));
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  it('osc-cli, with the profile endpoint the README gives (the origin), reads the logs', async () => {
    const answer = await oscCliCall(t.url);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual(answer.body.Logs.map((l: any) => l.RequestId), expectedIds);
    assert.equal((await oscCliCall(t.url, 'Z'.repeat(40))).status, 401);
  });

  it('osc-cli with an endpoint ending in /api/v1 reaches no call (it appends /api/latest/ itself): 404', async () => {
    const answer = await oscCliCall(`${t.url}/api/v1`);
    assert.equal(answer.status, 404, JSON.stringify(answer.body));
  });
});
