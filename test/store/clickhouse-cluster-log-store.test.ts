import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isOmsError } from '../../src/domain/oms-error.js';
import type { LogRecord } from '../../src/domain/log.js';
import { ClickHouseLogStore } from '../../src/store/clickhouse/clickhouse-log-store.js';
import { ClickHouseNode } from '../../src/store/clickhouse/clickhouse-node.js';
import { startClickHouseCluster, type ClickHouseTestCluster } from '../fixtures/clickhouse-server.js';
import { describeLogStore, makeRecord } from './log-store.suite.js';

let cluster: ClickHouseTestCluster | undefined;
before(async () => {
  cluster = await startClickHouseCluster(2);
});
after(async () => {
  await cluster?.destroy();
});

const ALL_TIME = { fromUs: 0, toUs: Number.MAX_SAFE_INTEGER };
let databaseCounter = 0;

function openStore(): ClickHouseLogStore {
  const c = cluster as ClickHouseTestCluster;
  return new ClickHouseLogStore({
    nodes: c.servers.map((s) => ({ url: s.httpUrl, requestTimeoutMs: 10_000 })),
    database: `oms_cluster_${process.pid}_${++databaseCounter}`,
    cluster: c.name,
  });
}

async function onEveryNode(sql: string): Promise<void> {
  for (const server of (cluster as ClickHouseTestCluster).servers) {
    const node = new ClickHouseNode({ url: server.httpUrl });
    await node.command(sql);
    await node.close();
  }
}

async function rowsOn(shard: number, sql: string): Promise<unknown[][]> {
  const node = new ClickHouseNode({ url: (cluster as ClickHouseTestCluster).servers[shard]!.httpUrl });
  try {
    return await node.rows(sql);
  } finally {
    await node.close();
  }
}

describeLogStore('ClickHouseLogStore (2-shard cluster)', async () => {
  const store = openStore();
  return {
    store,
    cleanup: async () => {
      await store.close();
      await onEveryNode(`DROP DATABASE IF EXISTS ${store.database}`);
    },
  };
});

/** Accounts that the sharding key places on shard 0 and on shard 1. */
async function accountsPerShard(store: ClickHouseLogStore): Promise<[string, string]> {
  const found: (string | undefined)[] = [undefined, undefined];
  for (let i = 0; found.some((a) => a === undefined); i++) {
    const account = String(100_000_000_000 + i);
    const rows = await rowsOn(0, `SELECT cityHash64('${account}') % 2`);
    const shard = Number(rows[0]?.[0]);
    found[shard] ??= account;
  }
  void store;
  return found as [string, string];
}

describe('ClickHouseLogStore (2-shard cluster): placement and failures', () => {
  it('stores each account on the shard its sharding key names, and reads every account through the Distributed table', async () => {
    const store = openStore();
    try {
      const [onFirst, onSecond] = await accountsPerShard(store);
      const records = [onFirst, onSecond, onFirst].map((AccountId, i) => makeRecord({ AccountId, QueryDateUs: 10 + i }));
      assert.deepEqual(await store.append(records), { inserted: 3, duplicateIndexes: [] });
      const local = async (shard: number) =>
        (await rowsOn(shard, `SELECT AccountId FROM ${store.database}.logs_local ORDER BY QueryDateUs`)).map((r) => String(r[0]));
      assert.deepEqual(await local(0), [onFirst, onFirst]);
      assert.deepEqual(await local(1), [onSecond]);
      assert.equal((await store.readPage({ accountId: onSecond, ...ALL_TIME, limit: 10 })).records.length, 1);
      assert.deepEqual(await store.append(records.slice(1)), { inserted: 0, duplicateIndexes: [0, 1] });
    } finally {
      await store.close();
      await onEveryNode(`DROP DATABASE IF EXISTS ${store.database}`);
    }
  });

  it('never returns a record twice when copies of its rows sit unmerged on its shard', async () => {
    const store = openStore();
    try {
      const [, onSecond] = await accountsPerShard(store);
      const records = Array.from({ length: 12 }, (_, i) => makeRecord({ AccountId: onSecond, QueryDateUs: 100 + (i % 3) }));
      await store.append(records);
      const node = new ClickHouseNode({ url: (cluster as ClickHouseTestCluster).servers[1]!.httpUrl });
      await node.command(`SYSTEM STOP MERGES`);
      await node.command(`INSERT INTO ${store.database}.logs_local SELECT * FROM ${store.database}.logs_local`);
      await node.command(`INSERT INTO ${store.database}.logs_local SELECT * FROM ${store.database}.logs_local LIMIT 5`);
      for (const limit of [1, 2, 5, 12]) {
        const seen: string[] = [];
        let cursor: { dateUs: number; seq: number } | undefined;
        for (;;) {
          const page = await store.readPage({ accountId: onSecond, ...ALL_TIME, limit, after: cursor });
          seen.push(...page.records.map((r) => r.RequestId));
          const last = page.records.at(-1);
          if (!page.hasMore || last === undefined) break;
          cursor = { dateUs: last.QueryDateUs, seq: last.ArrivalSeq };
        }
        assert.deepEqual([...seen].sort(), records.map((r) => r.RequestId).sort(), `page size ${limit}`);
      }
      assert.equal(await store.count({ accountId: onSecond, ...ALL_TIME }), 12);
      await node.command(`SYSTEM START MERGES`);
      await node.close();
    } finally {
      await store.close();
      await onEveryNode(`DROP DATABASE IF EXISTS ${store.database}`);
    }
  });

  it('fails the reads of a stopped shard\'s accounts with StoreUnavailable, never with part of an answer, and recovers after restart', async () => {
    const c = cluster as ClickHouseTestCluster;
    const store = openStore();
    try {
      const [onFirst, onSecond] = await accountsPerShard(store);
      const records: LogRecord[] = [];
      for (let i = 0; i < 20; i++) records.push(makeRecord({ AccountId: i % 2 === 0 ? onFirst : onSecond, QueryDateUs: 1_000 + i }));
      await store.append(records);
      const firstBefore = await store.readPage({ accountId: onFirst, ...ALL_TIME, limit: 100 });
      assert.equal(firstBefore.records.length, 10);

      await c.servers[1]!.stop();
      const unavailable = async (action: () => Promise<unknown>, what: string) => {
        let caught: unknown;
        try {
          await action();
        } catch (err) {
          caught = err;
        }
        assert.ok(isOmsError(caught) && caught.kind === 'StoreUnavailable', `${what}: expected StoreUnavailable, got ${String(caught)}`);
      };
      await unavailable(() => store.readPage({ accountId: onSecond, ...ALL_TIME, limit: 100 }), 'page of the stopped shard');
      await unavailable(() => store.count({ accountId: onSecond, ...ALL_TIME }), 'count of the stopped shard');
      await unavailable(() => store.append([makeRecord({ AccountId: onSecond, QueryDateUs: 5_000 })]), 'append to the stopped shard');
      // Across accounts, through the Distributed table: it fails rather than count one shard only.
      await unavailable(() => store.purgeBefore(1_005), 'purge over every shard');
      // The other shard holds every record of its accounts: their answers stay complete.
      assert.deepEqual((await store.readPage({ accountId: onFirst, ...ALL_TIME, limit: 100 })).records, firstBefore.records);

      await c.servers[1]!.start();
      assert.equal((await store.readPage({ accountId: onSecond, ...ALL_TIME, limit: 100 })).records.length, 10);
      assert.deepEqual(await store.append([makeRecord({ AccountId: onSecond, QueryDateUs: 5_000 })]), { inserted: 1, duplicateIndexes: [] });
      assert.equal(await store.purgeBefore(1_005), 5);
    } finally {
      await c.servers[1]!.start();
      await store.close();
      await onEveryNode(`DROP DATABASE IF EXISTS ${store.database}`);
    }
  });

  it('refuses a node list that does not match the cluster shards', async () => {
    const c = cluster as ClickHouseTestCluster;
    const swapped = new ClickHouseLogStore({
      nodes: [{ url: c.servers[1]!.httpUrl }, { url: c.servers[0]!.httpUrl }],
      database: `oms_cluster_${process.pid}_${++databaseCounter}`,
      cluster: c.name,
    });
    const short = new ClickHouseLogStore({ nodes: [{ url: c.servers[0]!.httpUrl }], database: 'oms_short', cluster: c.name });
    for (const store of [swapped, short]) {
      let caught: unknown;
      try {
        await store.highWaterMark();
      } catch (err) {
        caught = err;
      }
      assert.ok(isOmsError(caught) && caught.kind === 'StoreUnavailable');
      assert.match(caught.details, /shard/);
      await store.close();
    }
    await onEveryNode(`DROP DATABASE IF EXISTS ${swapped.database}`);
    await onEveryNode(`DROP DATABASE IF EXISTS oms_short`);
  });
});
