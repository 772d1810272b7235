import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { Agent, request } from 'undici';
import { signRequest } from '../../src/identity/sigv4/index.js';
import { SqliteLogStore } from '../../src/store/sqlite/sqlite-log-store.js';
import { startUpstreamFixture, type UpstreamFixture } from '../fixtures/upstream-fixture.js';
import { REGION, sqliteStorePath, startTestServer, type TestKey } from '../fixtures/test-server.js';
import { freePort } from '../../bench/lib/http-client.js';

const run = promisify(execFile);
const OMS = path.resolve('dist/cli/oms.js');
const dirs: string[] = [];

after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'oms-gw-'));
  dirs.push(dir);
  return dir;
}


const agent = new Agent({ connections: 64, keepAliveTimeout: 1_000 });

/**
 * One signed call through the gateway. Resolves with the RequestId of the answer only when the whole
 * answer arrived (status, every body byte, valid JSON); undefined when it did not.
 */
async function completeCall(baseUrl: string, key: Pick<TestKey, 'accessKeyId' | 'secretKey'>, n: number): Promise<string | undefined> {
  const url = `${baseUrl}/api/v1/CreateTags`;
  const body = JSON.stringify({ ResourceIds: [`vol-${n}`], Tags: [{ Key: 'n', Value: String(n) }] });
  const signed = signRequest({ method: 'POST', url, headers: { 'content-type': 'application/json' }, body, accessKeyId: key.accessKeyId, secretKey: key.secretKey, region: REGION });
  try {
    const answer = await request(url, { method: 'POST', headers: signed, body, dispatcher: agent });
    const text = await answer.body.text();
    if (answer.statusCode !== 200) return undefined;
    const id: unknown = (JSON.parse(text) as { ResponseContext?: { RequestId?: unknown } }).ResponseContext?.RequestId;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

/** Runs `concurrency` loops of calls until `stop()` says so; collects the RequestIds of complete answers. */
function load(baseUrl: string, key: TestKey, concurrency: number): { completed: string[]; failed: () => number; stop: () => Promise<void> } {
  const completed: string[] = [];
  let failed = 0;
  let stopped = false;
  let n = 0;
  const loops = Array.from({ length: concurrency }, async () => {
    while (!stopped) {
      const id = await completeCall(baseUrl, key, n++);
      if (id === undefined) failed++;
      else completed.push(id);
    }
  });
  return {
    completed,
    failed: () => failed,
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

async function countByRequestId(dbPath: string, accountId: string, ids: readonly string[]): Promise<Map<string, number>> {
  const store = new SqliteLogStore({ path: dbPath, readOnly: true, backgroundCheckpoint: false });
  try {
    const counts = new Map<string, number>();
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      let afterCursor: { dateUs: number; seq: number } | undefined;
      for (;;) {
        const page = await store.readPage({ accountId, fromUs: 0, toUs: Number.MAX_SAFE_INTEGER, requestIds: chunk, limit: 1000, ...(afterCursor ? { after: afterCursor } : {}) });
        for (const r of page.records) counts.set(r.RequestId, (counts.get(r.RequestId) ?? 0) + 1);
        if (!page.hasMore) break;
        const last = page.records.at(-1)!;
        afterCursor = { dateUs: last.QueryDateUs, seq: last.ArrivalSeq };
      }
    }
    return counts;
  } finally {
    await store.close();
  }
}

describe('the gateway when the store refuses writes', () => {
  it('keeps serving while another connection holds the write lock; afterwards every record is there once', async () => {
    const upstream = await startUpstreamFixture();
    const t = await startTestServer({ settings: { upstream: upstream.url } });
    const lock = new Database(sqliteStorePath(t.config));
    try {
      const key = await t.createKey();
      const traffic = load(t.url, key, 16);
      const warm = Date.now() + 20_000;
      while (traffic.completed.length < 100 && Date.now() < warm) await new Promise((r) => setTimeout(r, 20));
      // The outage: a writer in another connection holds the database's write lock.
      lock.exec('BEGIN IMMEDIATE');
      const atOutage = traffic.completed.length;
      await new Promise((r) => setTimeout(r, 1_500));
      const during = traffic.completed.length - atOutage;
      const ready = await fetch(`${t.url}/readyz`);
      const readiness = (await ready.json()) as { Status: string; SpoolBacklog: number };
      const metrics = await (await fetch(`${t.url}/metrics`)).text();
      lock.exec('COMMIT');
      await new Promise((r) => setTimeout(r, 300));
      await traffic.stop();

      assert.ok(during > 20, `calls kept being served during the outage (${during})`);
      assert.equal(traffic.failed(), 0, 'no call failed');
      assert.equal(ready.status, 503);
      assert.equal(readiness.Status, 'not ready');
      assert.ok(readiness.SpoolBacklog > 0, 'the spool backlog shows in /readyz');
      assert.match(metrics, /oms_spool_backlog_records [1-9]/);
      assert.ok((t.server.recordWriter?.spooled ?? 0) > 0, 'records went to the spool');

      await t.server.writer.flush();
      assert.equal(await t.server.recordWriter?.waitForReplay(20_000), true, 'the spool is replayed');
      assert.deepEqual(await (await fetch(`${t.url}/readyz`)).json(), { Status: 'ready', SpoolBacklog: 0 });
      const counts = await countByRequestId(sqliteStorePath(t.config), key.accountId, traffic.completed);
      assert.equal(counts.size, traffic.completed.length, 'every call has its record');
      for (const [id, count] of counts) assert.equal(count, 1, `one record for ${id}`);
      const total = await t.stores.logs.count({ accountId: key.accountId, fromUs: 0, toUs: Number.MAX_SAFE_INTEGER });
      assert.equal(total, traffic.completed.length, 'and no other');
    } finally {
      if (lock.inTransaction) lock.exec('ROLLBACK');
      lock.close();
      await t.close();
      await upstream.close();
    }
  });
});

for (const workers of [1, 2]) describe(`oms serve --upstream${workers > 1 ? ` --workers ${workers}` : ''} killed with SIGKILL under load`, () => {
  let upstream: UpstreamFixture | undefined;
  let child: ChildProcess | undefined;

  after(async () => {
    child?.kill('SIGKILL');
    await upstream?.close();
  });

  async function startServe(data: string, port: number, upstreamUrl: string): Promise<ChildProcess> {
    const proc = spawn(process.execPath, [OMS, 'serve', '--data', data, '--port', String(port), '--upstream', upstreamUrl, '--log-level', 'silent', '--workers', String(workers)], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { PATH: process.env.PATH ?? '' },
    });
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      try {
        if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return proc;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    proc.kill('SIGKILL');
    throw new Error('oms serve did not start');
  }

  it('every call whose answer arrived complete has exactly one record after a restart', async () => {
    upstream = await startUpstreamFixture();
    // A little upstream time keeps calls in flight at the moment of the kill.
    upstream.setBehaviour({ delayMs: 3 });
    const data = tempDir();
    const account = JSON.parse((await run(process.execPath, [OMS, 'admin', 'create-account', '--data', data])).stdout) as { AccountId: string };
    const created = JSON.parse((await run(process.execPath, [OMS, 'admin', 'create-access-key', '--data', data, '--account-id', account.AccountId])).stdout) as { AccessKeyId: string; SecretKey: string };
    const key: TestKey = { accountId: account.AccountId, accessKeyId: created.AccessKeyId, secretKey: created.SecretKey };

    const port = await freePort();
    child = await startServe(data, port, upstream.url);
    const traffic = load(`http://127.0.0.1:${port}`, key, 32);
    const deadline = Date.now() + 15_000;
    while (traffic.completed.length < 400 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    // With workers, the primary holds the write path: killing it is the crash that matters (its workers
    // then exit on their own, their channel to it gone).
    child.kill('SIGKILL');
    await new Promise((r) => child?.once('exit', r));
    await traffic.stop();
    assert.ok(traffic.completed.length >= 400, `calls completed before the kill (${traffic.completed.length})`);
    assert.ok(traffic.failed() > 0, 'calls were in flight at the kill');

    // Restart on the same data: whatever waits in the spool is replayed.
    const port2 = await freePort();
    child = await startServe(data, port2, upstream.url);
    const readyBy = Date.now() + 20_000;
    while (Date.now() < readyBy) {
      const answer = (await (await fetch(`http://127.0.0.1:${port2}/readyz`)).json()) as { Status: string; SpoolBacklog?: number };
      if (answer.Status === 'ready' && answer.SpoolBacklog === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGTERM');
    await new Promise((r) => child?.once('exit', r));
    child = undefined;
    // Workers of the killed primary are gone too: nothing answers on its port any more.
    await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`));

    const counts = await countByRequestId(path.join(data, 'logs.db'), key.accountId, traffic.completed);
    const missing = traffic.completed.filter((id) => !counts.has(id));
    assert.deepEqual(missing, [], 'every complete answer has its record');
    for (const [id, count] of counts) assert.equal(count, 1, `one record for ${id}`);
  });
});
