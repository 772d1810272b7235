/**
 * `oms api ReadApiLogs` as a subprocess against a real `oms serve` over loopback, next to curl --aws-sigv4;
 * the exact request it sends for a region (no endpoint); and its one-line refusals of bad input.
 */
import assert from 'node:assert/strict';
import { createHmac, createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { prepareCall, resolveClientProfile } from '../../src/client/index.js';
import { runApi, type ClientDeps } from '../../src/cli/commands/api.js';
import { parseSigningDate } from '../../src/identity/sigv4/index.js';
import { callSigned, makeRecord, REGION, startTestServer, type TestKey, type TestServer } from '../fixtures/test-server.js';
import { oms, startCaptureServer, TextSink } from '../fixtures/oms-cli.js';

const run = promisify(execFile);
const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'oms-api-'));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function stripVolatile(body: any): any {
  const { ResponseContext: _rc, NextPageToken: token, ...rest } = body;
  return { ...rest, HasNextPage: typeof token === 'string' };
}

describe('oms api ReadApiLogs against oms serve', () => {
  let t: TestServer;
  let key: TestKey;
  let env: Record<string, string>;
  const seeded: string[] = [];

  before(async () => {
    t = await startTestServer();
    key = await t.createKey();
    const now = Date.now() * 1000;
    const records = Array.from({ length: 2_345 }, (_, i) =>
      makeRecord({
        AccountId: key.accountId,
        // Groups of three share a timestamp.
        QueryDateUs: now - 3_600_000_000 + Math.floor(i / 3) * 1_000,
        QueryCallName: i % 5 === 0 ? 'CreateVolume' : 'ReadVms',
        QueryUserAgent: i % 7 === 0 ? 'curl/7.88' : 'osc-cli/1.11',
      }),
    );
    await t.seed(records);
    seeded.push(...records.filter((r) => r.QueryCallName === 'ReadVms').map((r) => r.RequestId));
    env = { OSC_ACCESS_KEY: key.accessKeyId, OSC_SECRET_KEY: key.secretKey, OSC_ENDPOINT_API: `${t.url}/api/v1`, HOME: tempDir() };
  });
  after(async () => {
    await t.close();
  });

  async function curl(body: string) {
    const { stdout } = await run('curl', [
      '-sS', '--aws-sigv4', `osc:osc:${REGION}:api`, '--user', `${key.accessKeyId}:${key.secretKey}`,
      '-H', 'Content-Type: application/json', '-d', body, `${t.url}/api/v1/ReadApiLogs`,
    ]);
    return JSON.parse(stdout);
  }

  it('answers what curl --aws-sigv4 answers for the same call, page after page', async () => {
    const filters = JSON.stringify({ QueryCallNames: ['ReadVms'], QueryUserAgents: ['osc-cli/1.11'] });
    const ours = await oms(['api', 'ReadApiLogs', '--Filters', filters, '--ResultsPerPage', '50', '--With', '{"QueryHeaderRaw":false}'], { env });
    assert.equal(ours.code, 0, ours.stderr);
    const theirs = await curl(JSON.stringify({ Filters: JSON.parse(filters), ResultsPerPage: 50, With: { QueryHeaderRaw: false } }));
    const parsed = JSON.parse(ours.stdout);
    assert.equal(parsed.Logs.length, 50);
    assert.equal('QueryHeaderRaw' in parsed.Logs[0], false);
    assert.deepEqual(stripVolatile(parsed), stripVolatile(theirs));

    // The next page through oms api with curl's token, and through curl with the same token.
    const next = await oms(['api', 'ReadApiLogs', '--Filters', filters, '--ResultsPerPage', '50', '--With', '{"QueryHeaderRaw":false}', '--NextPageToken', theirs.NextPageToken], { env });
    assert.equal(next.code, 0, next.stderr);
    const theirsNext = await curl(JSON.stringify({ Filters: JSON.parse(filters), ResultsPerPage: 50, With: { QueryHeaderRaw: false }, NextPageToken: theirs.NextPageToken }));
    assert.deepEqual(stripVolatile(JSON.parse(next.stdout)), stripVolatile(theirsNext));
    assert.notDeepEqual(JSON.parse(next.stdout).Logs[0], parsed.Logs[0]);
  });

  it('--DryRun answers only the ResponseContext, as curl gets it', async () => {
    const ours = await oms(['api', 'ReadApiLogs', '--DryRun'], { env });
    assert.equal(ours.code, 0, ours.stderr);
    const theirs = await curl('{"DryRun":true}');
    assert.deepEqual(Object.keys(JSON.parse(ours.stdout)), Object.keys(theirs));
    assert.deepEqual(Object.keys(theirs), ['ResponseContext']);
  });

  it('--all returns exactly the records of a full paging, merged or as NDJSON', async () => {
    const filters = { QueryCallNames: ['ReadVms'] };
    const paged: string[] = [];
    let token: string | undefined;
    do {
      const page = await callSigned(t.url, key, { Filters: filters, ResultsPerPage: 333, ...(token ? { NextPageToken: token } : {}) });
      assert.equal(page.status, 200, page.text);
      paged.push(...page.body.Logs.map((l: any) => JSON.stringify(l)));
      token = page.body.NextPageToken;
    } while (token !== undefined);
    assert.equal(paged.length, seeded.length);

    const merged = await oms(['api', 'ReadApiLogs', '--all', '--ResultsPerPage', '1000', '--Filters', JSON.stringify(filters)], { env });
    assert.equal(merged.code, 0, merged.stderr);
    const answer = JSON.parse(merged.stdout);
    assert.deepEqual(Object.keys(answer), ['ResponseContext', 'Logs']);
    assert.deepEqual(answer.Logs.map((l: any) => JSON.stringify(l)), paged);
    assert.deepEqual(answer.Logs.map((l: any) => l.RequestId), seeded);

    const ndjson = await oms(['api', 'ReadApiLogs', '--all', '--ndjson', '--ResultsPerPage', '100', '--Filters', JSON.stringify(filters)], { env });
    assert.equal(ndjson.code, 0, ndjson.stderr);
    assert.deepEqual(ndjson.stdout.trimEnd().split('\n'), paged);
  });

  it('prints an API error in full on standard output, one line on standard error, and exits 1', async () => {
    const result = await oms(['api', 'ReadApiLogs', '--Filters', '{"QueryCallName":["ReadVms"]}'], { env });
    assert.equal(result.code, 1);
    const body = JSON.parse(result.stdout);
    assert.deepEqual(body.Errors, [{ Code: '3001', Type: 'InvalidParameter', Details: body.Errors[0].Details }]);
    assert.match(body.ResponseContext.RequestId, /^[0-9a-f-]{36}$/);
    assert.match(result.stderr, /^oms: ReadApiLogs answered HTTP 400 3001 InvalidParameter: .+\n$/);

    const unauthorized = await oms(['api', 'ReadApiLogs'], { env: { ...env, OSC_SECRET_KEY: 'Z'.repeat(40) } });
    assert.equal(unauthorized.code, 1);
    assert.equal(JSON.parse(unauthorized.stdout).Errors[0].Type, 'AccessDenied');
    assert.match(unauthorized.stderr, /^oms: ReadApiLogs answered HTTP 401 1 AccessDenied: .*check the access key, the secret key and the region.*\n$/);
  });

  it('reads the credentials of a profile of ~/.osc/config.json', async () => {
    const home = tempDir();
    mkdirSync(path.join(home, '.osc'));
    writeFileSync(
      path.join(home, '.osc', 'config.json'),
      JSON.stringify({ default: { access_key: 'NOPE', secret_key: 'NOPE', region: REGION }, oms: { access_key: key.accessKeyId, secret_key: key.secretKey, region: REGION, endpoint: t.url } }),
    );
    const result = await oms(['api', 'ReadApiLogs', '--profile', 'oms', '--ResultsPerPage', '1', '--Filters', '{"QueryCallNames":["CreateVolume"]}'], { env: { HOME: home } });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).Logs[0].QueryCallName, 'CreateVolume');
  });
});

/** OSC4-HMAC-SHA256 written out again from the OUTSCALE documentation, apart from the project's signer. */
function independentOsc4(secret: string, date: string, region: string, canonicalRequest: string): string {
  const day = date.slice(0, 8);
  const scope = `${day}/${region}/api/osc4_request`;
  const stringToSign = `OSC4-HMAC-SHA256\n${date}\n${scope}\n${createHash('sha256').update(canonicalRequest).digest('hex')}`;
  let k: Buffer = createHmac('sha256', `OSC4${secret}`).update(day).digest();
  for (const part of [region, 'api', 'osc4_request']) k = createHmac('sha256', k).update(part).digest();
  return createHmac('sha256', k).update(stringToSign).digest('hex');
}

describe('the request sent for a region, without an endpoint', () => {
  const ACCESS = 'AKIAOMSCLIENT0000001';
  const SECRET = 'OMSCLIENTSECRET000000000000000000000001';
  const NOW_MS = Date.UTC(2026, 10, 5, 10, 20, 30);

  it('defaults to https://api.REGION.outscale.com/api/v1 and sends exactly the signed headers and body', async () => {
    const home = tempDir();
    mkdirSync(path.join(home, '.osc'));
    writeFileSync(path.join(home, '.osc', 'config.json'), JSON.stringify({ default: { access_key: ACCESS, secret_key: SECRET, region: 'cloudgouv-eu-west-1' } }));
    assert.equal(resolveClientProfile({ env: {}, homeDir: home }).apiBaseUrl, 'https://api.cloudgouv-eu-west-1.outscale.com/api/v1');

    const capture = await startCaptureServer(() => ({ status: 200, body: '{"ResponseContext":{"RequestId":"0475ca1e-d0c5-441d-712a-da55a4175157"},"Logs":[]}' }));
    try {
      const stdout = new TextSink();
      const deps: ClientDeps = { env: {}, homeDir: home, stdout: stdout as never, stderr: new TextSink() as never, dispatcher: capture.dispatcher, nowMs: () => NOW_MS };
      await runApi('ReadApiLogs', { Filters: '{"QueryCallNames":["ReadVms"],"QueryDateAfter":"2026-11-01"}', ResultsPerPage: '10' }, deps);
      assert.deepEqual(JSON.parse(stdout.text), { ResponseContext: { RequestId: '0475ca1e-d0c5-441d-712a-da55a4175157' }, Logs: [] });

      assert.equal(capture.requests.length, 1);
      const c = capture.requests[0]!;
      const body = '{"Filters":{"QueryCallNames":["ReadVms"],"QueryDateAfter":"2026-11-01"},"ResultsPerPage":10}';
      assert.equal(c.method, 'POST');
      assert.equal(c.url, '/api/v1/ReadApiLogs');
      assert.equal(c.body, body);
      const host = 'api.cloudgouv-eu-west-1.outscale.com';
      const date = '20261105T102030Z';
      const canonical = `POST\n/api/v1/ReadApiLogs\n\ncontent-type:application/json\nhost:${host}\nx-osc-date:${date}\n\ncontent-type;host;x-osc-date\n${createHash('sha256').update(body).digest('hex')}`;
      const signature = independentOsc4(SECRET, date, 'cloudgouv-eu-west-1', canonical);
      assert.deepEqual(
        { ...c.headers },
        {
          host,
          connection: 'keep-alive',
          'content-type': 'application/json',
          'x-osc-date': date,
          authorization: `OSC4-HMAC-SHA256 Credential=${ACCESS}/20261105/cloudgouv-eu-west-1/api/osc4_request, SignedHeaders=content-type;host;x-osc-date, Signature=${signature}`,
          'user-agent': 'oms-cli/0.1.0',
          'content-length': String(body.length),
        },
      );
    } finally {
      await capture.close();
    }
  });

  it('signs what curl --aws-sigv4 "osc:osc:REGION:api" signs for the same request', async () => {
    const captured: { headers: Record<string, string | string[] | undefined>; body: string }[] = [];
    const server: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        captured.push({ headers: req.headers, body });
        res.end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const body = '{"Filters":{"QueryCallNames":["ReadVms"]},"ResultsPerPage":10}';
      await run('curl', ['-sS', '--aws-sigv4', `osc:osc:${REGION}:api`, '--user', `${ACCESS}:${SECRET}`, '-H', 'Content-Type: application/json', '-d', body, `${origin}/api/v1/ReadApiLogs`]);
      const curlRequest = captured[0]!;
      const nowMs = parseSigningDate(String(curlRequest.headers['x-osc-date']))!;
      const profile = { profileName: undefined, accessKeyId: ACCESS, secretKey: SECRET, region: REGION, apiBaseUrl: `${origin}/api/v1` };
      const ours = prepareCall(profile, 'ReadApiLogs', JSON.parse(body), nowMs);
      assert.equal(ours.body, curlRequest.body);
      assert.equal(ours.headers['Authorization'], curlRequest.headers['authorization']);
      assert.equal(ours.headers['X-Osc-Date'], curlRequest.headers['x-osc-date']);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('oms api refuses bad input with one line and a non-zero exit', () => {
  let htmlServer: Server;
  let hangingServer: Server;
  let htmlUrl: string;
  let hangingUrl: string;
  before(async () => {
    htmlServer = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html><body>Welcome to nginx!</body></html>');
    });
    hangingServer = createServer(() => {
      // never answers
    });
    await new Promise<void>((resolve) => htmlServer.listen(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => hangingServer.listen(0, '127.0.0.1', resolve));
    htmlUrl = `http://127.0.0.1:${(htmlServer.address() as AddressInfo).port}`;
    hangingUrl = `http://127.0.0.1:${(hangingServer.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const s of [htmlServer, hangingServer]) {
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  });

  it('each case', async () => {
    const keys = { OSC_ACCESS_KEY: 'AKIAOMSCLIENT0000001', OSC_SECRET_KEY: 'S'.repeat(40) };
    const notJsonHome = tempDir();
    mkdirSync(path.join(notJsonHome, '.osc'));
    writeFileSync(path.join(notJsonHome, '.osc', 'config.json'), '{"default": {"access_key": "A",');
    const noKeysHome = tempDir();
    mkdirSync(path.join(noKeysHome, '.osc'));
    writeFileSync(path.join(noKeysHome, '.osc', 'config.json'), JSON.stringify({ default: { access_key: 'A', region: REGION } }));
    const emptyHome = tempDir();
    const cases: { name: string; args: string[]; env: Record<string, string>; code: number; message: RegExp }[] = [
      { name: 'wrong JSON in --Filters', args: ['--Filters', '{"QueryCallNames":'], env: { ...keys, HOME: emptyHome }, code: 2, message: /--Filters is not valid JSON/ },
      { name: 'a list in --With', args: ['--With', '[]'], env: { ...keys, HOME: emptyHome }, code: 2, message: /--With must be a JSON object/ },
      { name: 'ResultsPerPage not a number', args: ['--ResultsPerPage', 'ten'], env: { ...keys, HOME: emptyHome }, code: 2, message: /--ResultsPerPage must be a whole number/ },
      { name: 'an unknown flag', args: ['--Filter', '{}'], env: { ...keys, HOME: emptyHome }, code: 2, message: /unknown option '--Filter'/ },
      { name: 'a missing profile', args: ['--profile', 'prod'], env: { HOME: emptyHome }, code: 2, message: /no profile file .*\.osc\/config\.json.*--profile/ },
      { name: 'no credentials at all', args: [], env: { HOME: emptyHome }, code: 2, message: /no credentials: .*OSC_ACCESS_KEY and OSC_SECRET_KEY are not set/ },
      { name: 'a profile file that is not JSON', args: [], env: { HOME: notJsonHome }, code: 2, message: /config\.json is not valid JSON/ },
      { name: 'a profile without its secret key', args: [], env: { HOME: noKeysHome }, code: 2, message: /"secret_key" is missing/ },
      { name: 'one key variable without the other', args: [], env: { HOME: emptyHome, OSC_ACCESS_KEY: 'A' }, code: 2, message: /OSC_ACCESS_KEY is set but OSC_SECRET_KEY is not/ },
      { name: 'a region that is not a name', args: [], env: { ...keys, HOME: emptyHome, OSC_REGION: 'eu-west-2.evil.com/x' }, code: 2, message: /OSC_REGION: the region .* is not a region name/ },
      { name: 'an unreachable endpoint', args: [], env: { ...keys, HOME: emptyHome, OSC_ENDPOINT_API: 'http://127.0.0.1:1/api/v1' }, code: 1, message: /cannot reach 127\.0\.0\.1:1: ECONNREFUSED/ },
      { name: 'an endpoint answering HTML', args: [], env: { ...keys, HOME: emptyHome, OSC_ENDPOINT_API: htmlUrl }, code: 1, message: /answered HTTP 200 with text\/html, not JSON/ },
      { name: 'an endpoint that hangs', args: ['--timeout', '1'], env: { ...keys, HOME: emptyHome, OSC_ENDPOINT_API: hangingUrl }, code: 1, message: /did not answer within 1 s/ },
      { name: 'an unknown call', args: [], env: { ...keys, HOME: emptyHome }, code: 2, message: /oms api knows ReadApiLogs, not "ReadVms"/ },
    ];
    const results = await Promise.all(cases.map((c) => oms(c.name === 'an unknown call' ? ['api', 'ReadVms'] : ['api', 'ReadApiLogs', ...c.args], { env: c.env })));
    for (const [i, c] of cases.entries()) {
      const result = results[i]!;
      assert.equal(result.code, c.code, `${c.name}: ${result.stderr}`);
      assert.match(result.stderr, c.message, c.name);
      assert.equal(result.stderr.includes('    at '), false, `${c.name}: no stack trace`);
      if (c.code === 2 && !c.name.includes('flag')) assert.equal(result.stderr.trimEnd().split('\n').length, 1, `${c.name}: one line`);
      assert.equal(result.stderr.includes('S'.repeat(40)), false, `${c.name}: the secret never shows`);
    }
  });
});
