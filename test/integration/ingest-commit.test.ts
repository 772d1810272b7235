import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { IngestCommitter } from '../../src/capture/index.js';
import type { LogRecord } from '../../src/domain/index.js';
import type { AppendResult, LogStore } from '../../src/store/index.js';
import { SqliteLogStore } from '../../src/store/sqlite/sqlite-log-store.js';
import { makeRecord } from '../fixtures/test-server.js';

/** The real SQLite store, with a count of the appends it was asked for. */
function countingStore(store: SqliteLogStore): { store: LogStore; appends: number[] } {
  const appends: number[] = [];
  const counted = Object.create(store) as LogStore;
  counted.append = (records: readonly LogRecord[]): Promise<AppendResult> => {
    appends.push(records.length);
    return store.append(records);
  };
  return { store: counted, appends };
}

describe('IngestCommitter: batches that arrive together share one store append', () => {
  let dir: string;
  let sqlite: SqliteLogStore;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'oms-commit-'));
    sqlite = new SqliteLogStore({ path: path.join(dir, 'logs.db') });
  });
  after(async () => {
    await sqlite.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const records = (n: number, accountId = '111122223333') =>
    Array.from({ length: n }, () => makeRecord({ AccountId: accountId, QueryDateUs: Date.now() * 1000 }));

  it('merges concurrent batches into one append and gives each batch its own counts, duplicates across batches included', async () => {
    const { store, appends } = countingStore(sqlite);
    const committer = new IngestCommitter(store);
    const a = records(3);
    const b = [...records(2), a[0] as LogRecord, a[1] as LogRecord];
    const c = [records(1)[0] as LogRecord, b[0] as LogRecord];
    const outcomes = await Promise.all([committer.append(a), committer.append(b), committer.append(c)]);
    assert.deepEqual(appends, [9]);
    assert.deepEqual(outcomes, [
      { inserted: 3, duplicates: 0 },
      { inserted: 2, duplicates: 2 },
      { inserted: 1, duplicates: 1 },
    ]);
  });

  it('splits a queue larger than maxRecordsPerAppend, never splitting a batch', async () => {
    const { store, appends } = countingStore(sqlite);
    const committer = new IngestCommitter(store, { maxRecordsPerAppend: 5 });
    const outcomes = await Promise.all([committer.append(records(3)), committer.append(records(3)), committer.append(records(7)), committer.append(records(1))]);
    assert.deepEqual(appends, [3, 3, 7, 1]);
    assert.deepEqual(outcomes.map((o) => o.inserted), [3, 3, 7, 1]);
  });

  it('rejects every batch of a failed append, and takes batches again afterwards', async () => {
    const dir2 = mkdtempSync(path.join(tmpdir(), 'oms-commit-'));
    const closed = new SqliteLogStore({ path: path.join(dir2, 'logs.db') });
    await closed.close();
    const committer = new IngestCommitter(closed);
    const results = await Promise.allSettled([committer.append(records(2)), committer.append(records(2))]);
    for (const result of results) {
      assert.equal(result.status, 'rejected');
      assert.equal((result.reason as { kind?: string }).kind, 'StoreUnavailable');
    }
    rmSync(dir2, { recursive: true, force: true });
    const working = new IngestCommitter(sqlite);
    assert.deepEqual(await working.append(records(2)), { inserted: 2, duplicates: 0 });
  });

  it('answers an empty batch without touching the store', async () => {
    const { store, appends } = countingStore(sqlite);
    assert.deepEqual(await new IngestCommitter(store).append([]), { inserted: 0, duplicates: 0 });
    assert.deepEqual(appends, []);
  });
});
