import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { formatIsoUs, type LogRecord } from '../../src/domain/index.js';
import { SqliteLogStore } from '../../src/store/sqlite/sqlite-log-store.js';
import { callSigned, makeRecord } from '../fixtures/test-server.js';
import { freePort } from '../../bench/lib/http-client.js';

const OMS = path.resolve('dist/cli/oms.js');
const dirs: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'oms-cli-'));
  dirs.push(dir);
  return dir;
}

after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function oms(args: string[], options: { env?: Record<string, string>; input?: string | Buffer } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [OMS, ...args], { env: { PATH: process.env.PATH ?? '', ...options.env }, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

function wireLine(record: LogRecord): string {
  const { QueryDateUs, ...rest } = record;
  return JSON.stringify({ ...rest, QueryDate: formatIsoUs(QueryDateUs) });
}


describe('oms admin', () => {
  it('creates accounts, users and access keys and prints them as JSON', async () => {
    const data = tempDir();
    const account = await oms(['admin', 'create-account', '--data', data, '--account-id', '123456789012', '--email', 'sec@example.com']);
    assert.equal(account.code, 0, account.stderr);
    assert.deepEqual(JSON.parse(account.stdout), { AccountId: '123456789012', Email: 'sec@example.com' });
    const user = await oms(['admin', 'create-user', '--data', data, '--account-id', '123456789012', '--user-name', 'auditor']);
    assert.deepEqual(JSON.parse(user.stdout), { AccountId: '123456789012', UserName: 'auditor' });
    const key = await oms(['admin', 'create-access-key', '--data', data, '--account-id', '123456789012', '--user-name', 'auditor']);
    const parsed = JSON.parse(key.stdout);
    assert.deepEqual(Object.keys(parsed), ['AccessKeyId', 'SecretKey', 'AccountId', 'UserName']);
    assert.match(parsed.AccessKeyId, /^[A-Z0-9]{20}$/);
    assert.match(parsed.SecretKey, /^[A-Z0-9]{40}$/);
    const credentials = readFileSync(path.join(data, 'credentials.db'));
    assert.equal(credentials.includes(Buffer.from(parsed.SecretKey)), false, 'the secret is not stored in clear');
    const state = await oms(['admin', 'update-access-key', '--data', data, '--access-key-id', parsed.AccessKeyId, '--state', 'INACTIVE']);
    assert.deepEqual(JSON.parse(state.stdout), { AccessKeyId: parsed.AccessKeyId, State: 'INACTIVE' });
  });

  it('refuses mistakes with one line and the right exit code', async () => {
    const data = tempDir();
    const cases: { args: string[]; env?: Record<string, string>; code: number; message: RegExp }[] = [
      { args: ['admin', 'create-user', '--data', data, '--account-id', '999999999999', '--user-name', 'x'], code: 1, message: /no account 999999999999/ },
      { args: ['admin', 'create-account', '--data', data, '--account-id', '12ab'], code: 1, message: /12 digits/ },
      { args: ['admin', 'create-access-key', '--data', data], code: 2, message: /--account-id/ },
      { args: ['admin', 'create-account', '--data', data, '--no-such-flag'], code: 2, message: /unknown option/ },
      { args: ['admin', 'update-access-key', '--data', data, '--access-key-id', 'X', '--state', 'ON'], code: 2, message: /ACTIVE or INACTIVE/ },
      { args: ['serve', '--data', data], env: { OMS_PORT: 'eighty' }, code: 2, message: /--port \/ OMS_PORT/ },
      { args: ['serve', '--data', data, '--retention-days', '0'], code: 2, message: /--retention-days \/ OMS_RETENTION_DAYS/ },
      { args: ['serve', '--data', data, '--trusted-proxies', '10.0.0.0/99'], code: 2, message: /OMS_TRUSTED_PROXIES/ },
      { args: ['admin', 'import', '--data', data, path.join(data, 'missing.ndjson')], code: 1, message: /cannot read .*ENOENT/ },
    ];
    for (const c of cases) {
      const result = await oms(c.args, { env: c.env ?? {} });
      assert.equal(result.code, c.code, `${c.args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, c.message);
      assert.equal(result.stderr.includes('    at '), false, 'no stack trace');
    }
  });

  it('imports NDJSON and gzip, reports duplicates and each rejected line, and stores each record once', async () => {
    const data = tempDir();
    const now = Date.now() * 1000;
    const records = Array.from({ length: 20 }, (_, i) => makeRecord({ AccountId: '210987654321', QueryDateUs: now - (i + 1) * 1_000_000 }));
    const lines = records.map(wireLine);
    lines.splice(3, 0, '{not json');
    lines.splice(7, 0, JSON.stringify({ ...JSON.parse(lines[0]!), AccountId: 'abc' }));
    lines.splice(9, 0, '');
    lines.push(lines[1]!);
    const file = path.join(data, 'logs.ndjson');
    writeFileSync(file, lines.join('\n') + '\n');

    const first = await oms(['admin', 'import', '--data', data, file]);
    assert.equal(first.code, 1, 'a rejected line makes the exit code 1');
    assert.deepEqual(JSON.parse(first.stdout), {
      Imported: 20,
      Duplicates: 1,
      Rejected: [
        { Line: 4, Error: 'not valid JSON' },
        { Line: 8, Error: 'AccountId must be 12 digits' },
      ],
    });
    const gz = path.join(data, 'logs.ndjson.gz');
    writeFileSync(gz, gzipSync(records.map(wireLine).join('\n')));
    const again = await oms(['admin', 'import', '--data', data, gz]);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(JSON.parse(again.stdout), { Imported: 0, Duplicates: 20, Rejected: [] });
    const fromStdin = await oms(['admin', 'import', '--data', data, '-'], { input: gzipSync(wireLine(makeRecord({ AccountId: '210987654321', QueryDateUs: now }))) });
    assert.deepEqual(JSON.parse(fromStdin.stdout), { Imported: 1, Duplicates: 0, Rejected: [] });

    const store = new SqliteLogStore({ path: path.join(data, 'logs.db') });
    try {
      assert.equal(await store.count({ accountId: '210987654321', fromUs: 0, toUs: now + 1 }), 21);
    } finally {
      await store.close();
    }
  });

  it('reports a damaged gzip file with one line', async () => {
    const data = tempDir();
    const gz = gzipSync(wireLine(makeRecord({ AccountId: '210987654321', QueryDateUs: Date.now() * 1000 })).repeat(1));
    const file = path.join(data, 'bad.ndjson.gz');
    writeFileSync(file, gz.subarray(0, gz.length - 6));
    const result = await oms(['admin', 'import', '--data', data, file]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^oms: .*gzip/);
  });

  it('purges what is older than the retention', async () => {
    const data = tempDir();
    const store = new SqliteLogStore({ path: path.join(data, 'logs.db') });
    const now = Date.now() * 1000;
    await store.append([
      makeRecord({ AccountId: '210987654321', QueryDateUs: now - 40 * 86_400_000_000 }),
      makeRecord({ AccountId: '210987654321', QueryDateUs: now - 10 * 86_400_000_000 }),
    ]);
    await store.close();
    const result = await oms(['admin', 'purge', '--data', data]);
    assert.deepEqual(JSON.parse(result.stdout), { Purged: 1 });
  });
});

describe('oms serve', () => {
  it('prints the first account and key once, serves them, and on SIGTERM writes every pending record', async () => {
    const data = tempDir();
    const port = await freePort();
    const start = () => {
      const child = spawn(process.execPath, [OMS, 'serve', '--data', data, '--port', String(port), '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      return { child, stdout: () => stdout };
    };
    const waitReady = async () => {
      for (let i = 0; i < 200; i++) {
        try {
          if ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok) return;
        } catch {
          // not listening yet
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error('oms serve did not become ready');
    };

    const first = start();
    await waitReady();
    const out = first.stdout();
    const accessKeyId = /AccessKeyId: (\S+)/.exec(out)?.[1];
    const secretKey = /SecretKey: {3}(\S+)/.exec(out)?.[1];
    const accountId = /AccountId: {3}(\d{12})/.exec(out)?.[1];
    assert.ok(accessKeyId && secretKey && accountId, out);
    const key = { accessKeyId, secretKey };
    const calls = await Promise.all(Array.from({ length: 20 }, () => callSigned(`http://127.0.0.1:${port}`, key, {})));
    for (const c of calls) assert.equal(c.status, 200, c.text);
    first.child.kill('SIGTERM');
    const [code] = await new Promise<[number | null]>((resolve) => first.child.once('exit', (c) => resolve([c])));
    assert.equal(code, 0);

    const second = start();
    await waitReady();
    assert.equal(second.stdout().includes('SecretKey'), false, 'the secret is printed on first start only');
    const logs = await callSigned(`http://127.0.0.1:${port}`, key, { Filters: { QueryCallNames: ['ReadApiLogs'] }, ResultsPerPage: 1000 });
    const ids = new Set(logs.body.Logs.map((l: { RequestId: string }) => l.RequestId));
    for (const c of calls) assert.ok(ids.has(c.body.ResponseContext.RequestId), 'every answered call has its record after a restart');
    assert.equal(logs.body.Logs.every((l: { AccountId: string }) => l.AccountId === accountId), true);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(metrics, /oms_api_requests_total\{call="ReadApiLogs",status="200"\} 1/);
    second.child.kill('SIGTERM');
    await new Promise((resolve) => second.child.once('exit', resolve));
  });
});
