import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isOmsError } from '../../src/domain/oms-error.js';
import { ClickHouseLogStore } from '../../src/store/clickhouse/clickhouse-log-store.js';
import { ClickHouseNode } from '../../src/store/clickhouse/clickhouse-node.js';
import { startClickHouse, type ClickHouseTestServer } from '../fixtures/clickhouse-server.js';
import { describeLogStore, makeRecord } from './log-store.suite.js';

let server: (ClickHouseTestServer & { destroy(): Promise<void> }) | undefined;
before(async () => {
  server = await startClickHouse();
});
after(async () => {
  await server?.destroy();
});

let databaseCounter = 0;
function openStore(extra: { database?: string } = {}): ClickHouseLogStore {
  const url = (server as ClickHouseTestServer).httpUrl;
  return new ClickHouseLogStore({ nodes: [{ url }], database: extra.database ?? `oms_test_${process.pid}_${++databaseCounter}` });
}

async function dropDatabase(database: string): Promise<void> {
  const node = new ClickHouseNode({ url: (server as ClickHouseTestServer).httpUrl });
  await node.command(`DROP DATABASE IF EXISTS ${database}`);
  await node.close();
}

describeLogStore('ClickHouseLogStore (single node)', async () => {
  const store = openStore();
  return {
    store,
    cleanup: async () => {
      await store.close();
      await dropDatabase(store.database);
    },
  };
});

const ALL_TIME = { fromUs: 0, toUs: Number.MAX_SAFE_INTEGER };

async function rawNode(): Promise<ClickHouseNode> {
  return new ClickHouseNode({ url: (server as ClickHouseTestServer).httpUrl });
}

async function assertUnavailable(action: () => Promise<unknown>): Promise<void> {
  let caught: unknown;
  try {
    await action();
  } catch (err) {
    caught = err;
  }
  assert.ok(isOmsError(caught), `expected an OmsError, got ${String(caught)}`);
  assert.equal(caught.kind, 'StoreUnavailable');
  assert.doesNotMatch(caught.details, /\b(SELECT|INSERT|ALTER|CREATE|FROM|WHERE)\b|logs|log_ids|writers/);
}

describe('ClickHouseLogStore: retried inserts', () => {
  it('never returns a record twice when copies of its rows are stored before any merge', async () => {
    const store = openStore();
    const node = await rawNode();
    try {
      const records = Array.from({ length: 30 }, (_, i) => makeRecord({ QueryDateUs: 1_000 + (i % 4) }));
      await store.append(records);
      await node.command(`SYSTEM STOP MERGES`);
      // Copies identical to the stored rows, as an insert whose answer was lost and that landed after
      // its retry would leave: same ArrivalSeq, same everything.
      const copies = await node.rows(`SELECT * FROM ${store.database}.logs`);
      assert.equal(copies.length, 30);
      await node.command(`INSERT INTO ${store.database}.logs SELECT * FROM ${store.database}.logs`);
      await node.command(`INSERT INTO ${store.database}.logs SELECT * FROM ${store.database}.logs LIMIT 10`);
      assert.ok(Number((await node.rows(`SELECT count() FROM ${store.database}.logs`))[0]?.[0]) >= 70, 'the copies are on disk, unmerged');
      const accountId = (records[0] as { AccountId: string }).AccountId;
      for (const limit of [1, 7, 30, 100]) {
        const seen: string[] = [];
        let after: { dateUs: number; seq: number } | undefined;
        for (;;) {
          const page = await store.readPage({ accountId, ...ALL_TIME, limit, after });
          seen.push(...page.records.map((r) => r.RequestId));
          const last = page.records.at(-1);
          if (!page.hasMore || last === undefined) break;
          after = { dateUs: last.QueryDateUs, seq: last.ArrivalSeq };
        }
        assert.deepEqual([...seen].sort(), records.map((r) => r.RequestId).sort(), `page size ${limit}`);
      }
      assert.equal(await store.count({ accountId, ...ALL_TIME }), 30);
      assert.equal((await store.readPage({ accountId, ...ALL_TIME, requestIds: [records[3]!.RequestId], limit: 10 })).records.length, 1);
      await node.command(`SYSTEM START MERGES`);
      await node.command(`OPTIMIZE TABLE ${store.database}.logs FINAL`);
      assert.equal(Number((await node.rows(`SELECT count() FROM ${store.database}.logs`))[0]?.[0]), 30, 'merges remove the copies');
      assert.equal((await store.readPage({ accountId, ...ALL_TIME, limit: 100 })).records.length, 30);
    } finally {
      await node.command(`SYSTEM START MERGES`);
      await node.close();
      await store.close();
      await dropDatabase(store.database);
    }
  });

  it('counts records stored by an append whose answer was lost as inserted when it is retried, and stores them once', async () => {
    const { startLossyProxy } = await import('../fixtures/lossy-proxy.js');
    const proxy = await startLossyProxy((server as ClickHouseTestServer).httpUrl);
    const database = `oms_test_${process.pid}_${++databaseCounter}`;
    const store = new ClickHouseLogStore({ nodes: [{ url: proxy.url }], database });
    try {
      const first = Array.from({ length: 5 }, (_, i) => makeRecord({ QueryDateUs: 2_000 + i }));
      await store.append(first);
      for (const lostStep of [/INSERT INTO \w+\.logs /, /INSERT INTO \w+\.log_ids /, /INSERT INTO \w+\.writers /]) {
        const batch = [first[1]!, ...Array.from({ length: 4 }, (_, i) => makeRecord({ QueryDateUs: 2_100 + i }))];
        proxy.loseAnswers(lostStep);
        await assertUnavailable(() => store.append(batch));
        assert.deepEqual(await store.append(batch), { inserted: 4, duplicateIndexes: [0] }, String(lostStep));
        assert.deepEqual(await store.append(batch), { inserted: 0, duplicateIndexes: [0, 1, 2, 3, 4] });
      }
      assert.equal(proxy.lost(), 3);
      const page = await store.readPage({ accountId: first[0]!.AccountId, ...ALL_TIME, limit: 100 });
      assert.equal(page.records.length, 17);
      assert.equal(new Set(page.records.map((r) => r.RequestId)).size, 17);
      assert.equal(await store.highWaterMark(), Math.max(...page.records.map((r) => r.ArrivalSeq)));
    } finally {
      await store.close();
      await proxy.close();
      await dropDatabase(database);
    }
  });
});

describe('ClickHouseLogStore: byte budget', () => {
  it('stops reading a page of 1 MiB records at its budget, and the next reads work', async () => {
    const store = openStore();
    try {
      const records = Array.from({ length: 12 }, (_, i) => makeRecord({ QueryDateUs: 1_000 + i, QueryPayloadRaw: String.fromCharCode(97 + i).repeat(1_048_576) }));
      await store.append(records);
      const query = { accountId: records[0]!.AccountId, ...ALL_TIME, limit: 12, maxBytes: 3 * 1_048_576 };
      // Each record holds a little more than 1 MiB of text: two fit in 3 MiB, not three.
      const first = await store.readPage(query);
      assert.deepEqual(first.records.map((r) => r.RequestId), records.slice(0, 2).map((r) => r.RequestId));
      assert.equal(first.hasMore, true);
      const last = first.records.at(-1)!;
      const next = await store.readPage({ ...query, after: { dateUs: last.QueryDateUs, seq: last.ArrivalSeq } });
      assert.deepEqual(next.records.map((r) => r.QueryPayloadRaw), records.slice(2, 4).map((r) => r.QueryPayloadRaw));
      assert.equal(await store.count(query), 12);
    } finally {
      await store.close();
      await dropDatabase(store.database);
    }
  });
});

describe('ClickHouseLogStore: availability', () => {
  it('fails every call with StoreUnavailable when ClickHouse cannot be reached, and works once it is back', async () => {
    const { startLossyProxy } = await import('../fixtures/lossy-proxy.js');
    const database = `oms_test_${process.pid}_${++databaseCounter}`;
    const unreachable = new ClickHouseLogStore({ nodes: [{ url: 'http://127.0.0.1:9', requestTimeoutMs: 2_000 }], database });
    await assertUnavailable(() => unreachable.readPage({ accountId: 'a', ...ALL_TIME, limit: 10 }));
    await assertUnavailable(() => unreachable.highWaterMark());
    await assertUnavailable(() => unreachable.append([makeRecord()]));
    await assertUnavailable(() => unreachable.count({ accountId: 'a', ...ALL_TIME }));
    await assertUnavailable(() => unreachable.purgeBefore(1));
    await unreachable.close();

    const proxy = await startLossyProxy((server as ClickHouseTestServer).httpUrl);
    const store = new ClickHouseLogStore({ nodes: [{ url: proxy.url, requestTimeoutMs: 5_000 }], database });
    try {
      const record = makeRecord({ QueryDateUs: 5 });
      await store.append([record]);
      proxy.loseAnswers(/SELECT/);
      await assertUnavailable(() => store.readPage({ accountId: record.AccountId, ...ALL_TIME, limit: 10 }));
      const page = await store.readPage({ accountId: record.AccountId, ...ALL_TIME, limit: 10 });
      assert.equal(page.records.length, 1);
    } finally {
      await store.close();
      await proxy.close();
      await dropDatabase(database);
    }
  });

  it('fails every call with StoreUnavailable after close', async () => {
    const store = openStore();
    await store.append([makeRecord()]);
    await store.close();
    await store.close();
    await assertUnavailable(() => store.append([makeRecord()]));
    await assertUnavailable(() => store.readPage({ accountId: 'a', ...ALL_TIME, limit: 1 }));
    await dropDatabase(store.database);
  });
});

describe('ClickHouseLogStore: schema', () => {
  it('records the schema version and refuses a database written by a newer version', async () => {
    const store = openStore();
    await store.highWaterMark();
    await store.close();
    const node = await rawNode();
    try {
      assert.equal(Number((await node.rows(`SELECT max(Version) FROM ${store.database}.schema_version`))[0]?.[0]), 1);
      await node.command(`INSERT INTO ${store.database}.schema_version VALUES (99, 0)`);
      const again = openStore({ database: store.database });
      await assertUnavailable(() => again.highWaterMark());
      await again.close();
    } finally {
      await node.close();
      await dropDatabase(store.database);
    }
  });

  it('drops day partitions older than the cutoff and keeps the day that holds it', async () => {
    const store = openStore();
    const node = await rawNode();
    try {
      const day = 86_400_000_000;
      const records = [0, 1, 2, 3].map((d) => makeRecord({ QueryDateUs: 20_000 * day + d * day + 5 }));
      await store.append(records);
      assert.equal(await store.purgeBefore(20_002 * day + 10), 3);
      const partitions = await node.rows(
        `SELECT DISTINCT partition FROM system.parts WHERE database = '${store.database}' AND table = 'logs' AND active ORDER BY partition`,
      );
      assert.deepEqual(partitions.map((row) => String(row[0])), ['20002', '20003']);
      const left = await store.readPage({ accountId: records[0]!.AccountId, ...ALL_TIME, limit: 10 });
      assert.deepEqual(left.records.map((r) => r.QueryDateUs), [20_003 * day + 5]);
    } finally {
      await node.close();
      await store.close();
      await dropDatabase(store.database);
    }
  });
});
