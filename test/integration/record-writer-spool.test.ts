import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { DiskSpool, RecordWriter } from '../../src/capture/index.js';
import type { LogRecord } from '../../src/domain/index.js';
import { SqliteLogStore } from '../../src/store/sqlite/sqlite-log-store.js';
import { makeRecord } from '../fixtures/test-server.js';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const ACCOUNT = '123456789012';

function setup(): { dir: string; dbPath: string; spoolDir: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'oms-writer-'));
  dirs.push(dir);
  return { dir, dbPath: path.join(dir, 'logs.db'), spoolDir: path.join(dir, 'spool') };
}

function records(n: number, baseUs: number): LogRecord[] {
  return Array.from({ length: n }, (_, i) => makeRecord({ AccountId: ACCOUNT, QueryDateUs: baseUs + i }));
}

async function storedIds(store: SqliteLogStore): Promise<string[]> {
  const page = await store.readPage({ accountId: ACCOUNT, fromUs: 0, toUs: Number.MAX_SAFE_INTEGER, limit: 1000 });
  return page.records.map((r) => r.RequestId);
}

/**
 * The durable write path with real parts: a SQLite file whose write lock another connection takes
 * (the store refusing writes), and the disk spool in a directory.
 */
describe('RecordWriter with a disk spool', () => {
  it('resolves every write while the store refuses them, then replays them in order, once each', async () => {
    const { dbPath, spoolDir } = setup();
    const store = new SqliteLogStore({ path: dbPath, busyTimeoutMs: 20 });
    const spool = DiskSpool.open({ dir: spoolDir });
    const writer = new RecordWriter(store, { spool });
    const lock = new Database(dbPath);
    try {
      const before = records(5, 1_000);
      await Promise.all(before.map((r) => writer.write(r)));
      lock.exec('BEGIN IMMEDIATE');
      const during = records(50, 2_000);
      await Promise.all(during.map((r) => writer.write(r)));
      assert.equal(writer.storeRefusing, true);
      assert.equal(writer.spoolBacklog, 50, 'the refused records are durable in the spool');
      assert.deepEqual(await storedIds(store), before.map((r) => r.RequestId));
      // A record written after the outage began waits behind the spooled ones.
      const late = records(1, 3_000);
      await writer.write(late[0] as LogRecord);
      lock.exec('COMMIT');
      assert.equal(await writer.waitForReplay(10_000), true);
      assert.equal(writer.storeRefusing, false);
      const ids = await storedIds(store);
      assert.deepEqual(ids, [...before, ...during, ...late].map((r) => r.RequestId), 'each record once, in order');
    } finally {
      if (lock.inTransaction) lock.exec('ROLLBACK');
      lock.close();
      await writer.close(1_000);
      await spool.close();
      await store.close();
    }
  });

  it('a spool left by a stopped process is replayed by the next one, without duplicates', async () => {
    const { dbPath, spoolDir } = setup();
    const first = records(20, 5_000);
    {
      const store = new SqliteLogStore({ path: dbPath, busyTimeoutMs: 20 });
      const spool = DiskSpool.open({ dir: spoolDir });
      const writer = new RecordWriter(store, { spool });
      const lock = new Database(dbPath);
      lock.exec('BEGIN IMMEDIATE');
      await Promise.all(first.map((r) => writer.write(r)));
      assert.equal(writer.spoolBacklog, 20);
      // Stops while the store is still locked: the records stay in the spool.
      await writer.close(500);
      await spool.close();
      lock.exec('ROLLBACK');
      lock.close();
      await store.close();
    }
    const store = new SqliteLogStore({ path: dbPath });
    // One of them reached the store some other way (a replay cut short by a crash, an import).
    await store.append([first[3] as LogRecord]);
    const spool = DiskSpool.open({ dir: spoolDir });
    const writer = new RecordWriter(store, { spool });
    try {
      assert.equal(writer.storeRefusing, true, 'new records queue up behind the spooled ones');
      assert.equal(await writer.waitForReplay(10_000), true);
      const ids = await storedIds(store);
      assert.equal(ids.length, 20);
      assert.deepEqual([...ids].sort(), first.map((r) => r.RequestId).sort());
    } finally {
      await writer.close(1_000);
      await spool.close();
      await store.close();
    }
  });
});
