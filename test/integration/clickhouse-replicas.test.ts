/**
 * Several `oms serve` replicas in front of one ClickHouse cluster (two shards, started by the test):
 * they share identities and the page-token key, so a client may send each page request to any of them.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LogRecord } from '../../src/domain/log.js';
import { loadOrCreateMasterKey } from '../../src/identity/secret-box.js';
import { startClickHouseCluster, type ClickHouseTestCluster } from '../fixtures/clickhouse-server.js';
import { callSigned, makeRecord, startTestServer, type TestKey, type TestServer } from '../fixtures/test-server.js';

let cluster: ClickHouseTestCluster | undefined;
let keyDir = '';
let replicas: TestServer[] = [];
const HOUR_US = 3_600_000_000;

function clusterUrl(c: ClickHouseTestCluster, database: string): string {
  return `clickhouse://${c.servers.map((s) => `127.0.0.1:${s.httpPort}`).join(',')}/${database}?cluster=${c.name}`;
}

before(async () => {
  cluster = await startClickHouseCluster(2);
  keyDir = mkdtempSync(path.join(tmpdir(), 'oms-replicas-key-'));
  const masterKeyFile = path.join(keyDir, 'master.key');
  loadOrCreateMasterKey(masterKeyFile);
  const settings = { store: clusterUrl(cluster, 'oms_replicas'), masterKeyFile };
  replicas = [await startTestServer({ settings }), await startTestServer({ settings })];
});

after(async () => {
  for (const replica of replicas) await replica.close();
  await cluster?.destroy();
  rmSync(keyDir, { recursive: true, force: true });
});

function isoUs(us: number): string {
  return new Date(Math.floor(us / 1000)).toISOString();
}

describe('oms serve replicas on a ClickHouse cluster', () => {
  it('serve one paging session alternately and return exactly the records stored when it began', async () => {
    const [a, b] = replicas as [TestServer, TestServer];
    // Created through replica A, used on both.
    const key = await a.createKey();
    const other = await b.createKey();
    const startUs = (Math.floor(Date.now() / 1000) - 3_600) * 1_000_000;
    const records: LogRecord[] = [];
    for (let i = 0; i < 230; i++) {
      // Equal dates in runs of three: their order is their arrival order.
      records.push(makeRecord({ AccountId: key.accountId, QueryDateUs: startUs + Math.floor(i / 3) * 1_000, QueryCallName: i % 5 === 0 ? 'CreateVolume' : 'ReadVms' }));
      records.push(makeRecord({ AccountId: other.accountId, QueryDateUs: startUs + i * 1_000 }));
    }
    await a.seed(records.slice(0, 200));
    await b.seed(records.slice(200));
    const window = { QueryDateAfter: isoUs(startUs - HOUR_US), QueryDateBefore: isoUs(startUs + HOUR_US) };
    const sessions: { filters: Record<string, unknown>; callNames: string[] | undefined }[] = [
      { filters: window, callNames: undefined },
      { filters: { ...window, QueryCallNames: ['CreateVolume'] }, callNames: ['CreateVolume'] },
    ];
    for (const { filters, callNames } of sessions) {
      const expected = [...records]
        .filter((r) => r.AccountId === key.accountId && (callNames === undefined || callNames.includes(r.QueryCallName)))
        .sort((x, y) => x.QueryDateUs - y.QueryDateUs)
        .map((r) => r.RequestId);
      const seen: string[] = [];
      let token: string | undefined;
      for (let page = 0; page < 100; page++) {
        const replica = (page % 2 === 0 ? a : b) as TestServer;
        const answer = await callSigned(replica.url, key, { Filters: filters, ResultsPerPage: 17, ...(token === undefined ? {} : { NextPageToken: token }) });
        assert.equal(answer.status, 200, answer.text);
        seen.push(...(answer.body.Logs as { RequestId: string }[]).map((log) => log.RequestId));
        // Records arriving meanwhile (each call is logged, and more are seeded) stay out of this session.
        // Distinct dates: records of two writers with equal dates are ordered by the millisecond their
        // ArrivalSeq was allocated, not by which replica stored them first (arrival-sequence.ts).
        const late = makeRecord({ AccountId: key.accountId, QueryDateUs: startUs + 500 + page, QueryCallName: 'CreateVolume' });
        await (page % 2 === 0 ? b : a).seed([late]);
        records.push(late);
        token = answer.body.NextPageToken as string | undefined;
        if (token === undefined) break;
      }
      assert.deepEqual(seen, expected);
    }
  });

  it('answer 503 ServiceUnavailable for the accounts of a stopped shard and serve them again after its restart', async () => {
    const c = cluster as ClickHouseTestCluster;
    const [a, b] = replicas as [TestServer, TestServer];
    // Accounts go to shards by cityHash64(AccountId): with 16 of them, both shards hold some but once in 30,000 runs.
    const keys: TestKey[] = [];
    for (let i = 0; i < 16; i++) keys.push(await a.createKey());
    const nowUs = Date.now() * 1000;
    for (const key of keys) await a.seed([makeRecord({ AccountId: key.accountId, QueryDateUs: nowUs - HOUR_US })]);
    await c.servers[1]!.stop();
    try {
      let unavailable = 0;
      for (const key of keys) {
        for (const replica of [a, b]) {
          const answer = await callSigned(replica.url, key, {});
          if (answer.status === 503) {
            unavailable++;
            assert.equal(answer.body.Errors[0].Code, '2001');
            assert.equal(answer.body.Errors[0].Type, 'ServiceUnavailable');
            assert.ok(answer.headers.get('retry-after') !== null);
            assert.equal(answer.body.Logs, undefined, 'no partial answer');
          } else {
            assert.equal(answer.status, 200, answer.text);
            assert.ok(answer.body.Logs.length >= 1, 'accounts of the running shard get their complete answer');
          }
        }
      }
      assert.ok(unavailable > 0 && unavailable < keys.length * 2, `${unavailable} answers of ${keys.length * 2} were 503`);
    } finally {
      await c.servers[1]!.start();
    }
    for (const key of keys) {
      const answer = await callSigned(b.url, key, {});
      assert.equal(answer.status, 200, answer.text);
      assert.ok(answer.body.Logs.length >= 1);
    }
  });

  it('says not ready and answers 503 when ClickHouse cannot be reached', async () => {
    const unreachable = await startTestServer({ settings: { store: 'clickhouse://127.0.0.1:9/oms_nowhere' } });
    try {
      const ready = await fetch(`${unreachable.url}/readyz`);
      assert.equal(ready.status, 503);
      assert.equal(((await ready.json()) as { Status: string }).Status, 'not ready');
      const answer = await callSigned(unreachable.url, { accessKeyId: 'AKAAAAAAAAAAAAAAAAAA', secretKey: 'x'.repeat(40) }, {});
      assert.equal(answer.status, 503, answer.text);
      assert.equal(answer.body.Errors[0].Type, 'ServiceUnavailable');
      assert.doesNotMatch(answer.text, /SELECT|127\.0\.0\.1|ECONNREFUSED/);
    } finally {
      await unreachable.close();
    }
  });
});
