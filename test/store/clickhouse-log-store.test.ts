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
