import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { recordTextBytes, toWireLog } from '../../src/domain/log.js';
import { formatIsoUs } from '../../src/domain/time.js';
import { isOmsError, OmsError } from '../../src/domain/oms-error.js';
import { buildReadSql, ISO_DATE_SQL, shapeOf, WIRE_PAGE_BY_SEQ_SQL, type ReadKind, type ReadPlan } from '../../src/store/sqlite/read-query.js';
import { SCHEMA_VERSION, identityHash } from '../../src/store/sqlite/schema.js';
import { inSeqOrder, SqliteLogStore, type SqliteLogStoreOptions } from '../../src/store/sqlite/sqlite-log-store.js';
import { WriteThread } from '../../src/store/sqlite/write-thread.js';
import { describeLogStore, makeRecord } from './log-store.suite.js';

const root = mkdtempSync(path.join(tmpdir(), 'oms-sqlite-store-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

let fileCounter = 0;
function freshPath(): string {
  const dir = path.join(root, `store-${++fileCounter}`);
  mkdirSync(dir);
  return path.join(dir, 'logs.sqlite');
}

function open(options: Partial<SqliteLogStoreOptions> & { path: string }): SqliteLogStore {
  // A small cache keeps many stores in one test process cheap; behaviour does not depend on it.
  return new SqliteLogStore({ cacheSizeMb: 8, ...options });
}

describeLogStore('SqliteLogStore', async () => {
  const file = freshPath();
  const store = open({ path: file });
  return {
    store,
    cleanup: async () => {
      await store.close();
      rmSync(path.dirname(file), { recursive: true, force: true });
    },
  };
});

describeLogStore('SqliteLogStore (writes in the calling thread, identities merged every 3 records, no checkpoint worker)', async () => {
  const file = freshPath();
  const store = open({ path: file, writeThread: false, recentIdentities: 3, backgroundCheckpoint: false });
  return {
    store,
    cleanup: async () => {
      await store.close();
      rmSync(path.dirname(file), { recursive: true, force: true });
    },
  };
});

describeLogStore('SqliteLogStore (identity filter of 4, built 1 entry per append, identities merged every 3 records)', async () => {
  const file = freshPath();
  const store = open({ path: file, writeThread: false, recentIdentities: 3, identityFilter: { minCapacity: 4, scanRows: 1 }, backgroundCheckpoint: false });
  return {
    store,
    cleanup: async () => {
      await store.close();
      rmSync(path.dirname(file), { recursive: true, force: true });
    },
  };
});

/** Asserts that `action` fails with StoreUnavailable, with a short fixed text and no SQL. */
async function assertUnavailable(action: () => unknown): Promise<OmsError> {
  let caught: unknown;
  try {
    await action();
  } catch (err) {
    caught = err;
  }
  assert.ok(isOmsError(caught), `expected an OmsError, got ${String(caught)}`);
  assert.equal(caught.kind, 'StoreUnavailable');
  assert.doesNotMatch(caught.details, /\b(SELECT|INSERT|UPDATE|DELETE|CREATE|PRAGMA|FROM|WHERE)\b/i);
  assert.doesNotMatch(caught.details, /logs_by|log_ids|store_meta|sqlite/i);
  assert.ok(caught.details.length < 80);
  return caught;
}

describe('SqliteLogStore: file', () => {
  it('records the schema version in user_version', async () => {
    const file = freshPath();
    const store = open({ path: file });
    await store.close();
    const db = new Database(file, { readonly: true });
    assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    db.close();
  });

  it('keeps records and the ArrivalSeq counter when the file is reopened', async () => {
    const file = freshPath();
    let store = open({ path: file });
    const first = [makeRecord({ QueryDateUs: 10 }), makeRecord({ QueryDateUs: 20 })];
    await store.append(first);
    const mark = await store.highWaterMark();
    // Purge the newest records: a counter derived from max(ArrivalSeq) would go back.
    await store.append([makeRecord({ QueryDateUs: 5 })]);
    const markAfter = await store.highWaterMark();
    await store.purgeBefore(6);
    await store.close();

    store = open({ path: file });
    assert.equal(await store.highWaterMark(), markAfter);
    assert.ok(markAfter > mark);
    assert.deepEqual(await store.append(first), { inserted: 0, duplicateIndexes: [0, 1] });
    await store.append([makeRecord({ QueryDateUs: 1 })]);
    const page = await store.readPage({ accountId: first[0]!.AccountId, fromUs: 0, toUs: 100, limit: 10 });
    assert.deepEqual(page.records.map((r) => r.QueryDateUs), [1, 10, 20]);
    assert.ok(page.records[0]!.ArrivalSeq > markAfter);
    await store.close();
  });

  it('lets two stores on one file (server and oms admin) share idempotence and the counter', async () => {
    const file = freshPath();
    const server = open({ path: file, recentIdentities: 2 });
    const admin = open({ path: file, recentIdentities: 2 });
    const records = Array.from({ length: 9 }, (_, i) => makeRecord({ QueryDateUs: 100 + i }));
    assert.equal((await server.append(records.slice(0, 5))).inserted, 5);
    assert.deepEqual(await admin.append(records.slice(3)), { inserted: 4, duplicateIndexes: [0, 1] });
    assert.deepEqual(await server.append(records), { inserted: 0, duplicateIndexes: [0, 1, 2, 3, 4, 5, 6, 7, 8] });
    assert.equal(await server.highWaterMark(), await admin.highWaterMark());
    const page = await server.readPage({ accountId: records[0]!.AccountId, fromUs: 0, toUs: 1_000, limit: 20 });
    assert.deepEqual(page.records.map((r) => r.QueryDateUs), records.map((r) => r.QueryDateUs));
    await admin.close();
    await server.close();
  });

  it('keeps idempotence exact across two writers of one file, whatever their appends, purges and identity filter rebuilds', async () => {
    const T0 = Date.UTC(2025, 0, 15, 10) * 1000;
    const recordOf = (id: number) => makeRecord({ QueryDateUs: T0 + id, RequestId: `00000000-0000-4000-8000-${id.toString(16).padStart(12, '0')}` });
    const step = fc.oneof(
      fc.record({ writer: fc.integer({ min: 0, max: 1 }), ids: fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 7 }) }),
      fc.record({ writer: fc.integer({ min: 0, max: 1 }), purgeBelow: fc.integer({ min: 0, max: 40 }) }),
    );
    await fc.assert(
      // Filters of 3, rebuilt every few appends, or of 200, built once and then kept up to date; either
      // way read one or two entries per append, so that a build spans appends.
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 30 }), fc.constantFrom(3, 200), async (steps, minCapacity) => {
        const file = freshPath();
        const filterOptions = { recentIdentities: 2, identityFilter: { minCapacity, scanRows: 1 }, backgroundCheckpoint: false };
        const writers = [open({ path: file, writeThread: false, ...filterOptions }), open({ path: file, ...filterOptions })];
        const stored = new Set<number>();
        try {
          for (const s of steps) {
            const writer = writers[s.writer]!;
            if ('purgeBelow' in s) {
              await writer.purgeBefore(T0 + s.purgeBelow);
              for (const id of stored) if (id < s.purgeBelow) stored.delete(id);
              continue;
            }
            const expected: number[] = [];
            s.ids.forEach((id, i) => {
              if (stored.has(id)) expected.push(i);
              stored.add(id);
            });
            const result = await writer.append(s.ids.map(recordOf));
            assert.deepEqual(result, { inserted: s.ids.length - expected.length, duplicateIndexes: expected });
          }
          const page = await writers[0]!.readPage({ accountId: recordOf(0).AccountId, fromUs: 0, toUs: T0 + 100, limit: 100 });
          assert.deepEqual(page.records.map((r) => r.QueryDateUs - T0), [...stored].sort((x, y) => x - y));
        } finally {
          for (const writer of writers) await writer.close();
          rmSync(path.dirname(file), { recursive: true, force: true });
        }
      }),
      { numRuns: 40 },
    );
  });

  it('sees the rows another writer appends after one of its own appends rolled back', async () => {
    const file = freshPath();
    const first = open({ path: file, writeThread: false, backgroundCheckpoint: false });
    const second = open({ path: file, writeThread: false, backgroundCheckpoint: false });
    try {
      await first.append([makeRecord({ QueryDateUs: 1 })]);
      // A value that the STRICT table refuses: the transaction fails after the identity filter was updated.
      await assert.rejects(first.append([makeRecord({ QueryDateUs: 2 }), makeRecord({ QueryDateUs: 2.5 })]));
      const other = makeRecord({ QueryDateUs: 3 });
      assert.equal((await second.append([other])).inserted, 1);
      assert.deepEqual(await first.append([other, makeRecord({ QueryDateUs: 4 })]), { inserted: 1, duplicateIndexes: [0] });
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('copies the WAL into the database in the background, commits of one record each included', async () => {
    const file = freshPath();
    const store = open({ path: file });
    const emptySize = statSync(file).size;
    for (let i = 0; i < 300; i++) await store.append([makeRecord({ QueryDateUs: i, QueryHeaderRaw: 'h'.repeat(2_000) })]);
    // Until a checkpoint, new pages live in the WAL only; the checkpointer copies them within its interval.
    const deadline = Date.now() + 10_000;
    const copied = () => statSync(file).size > emptySize + 300 * 2_000;
    while (!copied() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(copied(), `database file: ${statSync(file).size} bytes`);
    await store.close();
  });

  it('joins a page\'s logs in the order of the ArrivalSeq list it is given, and says which order it joined', async () => {
    // readWirePage takes the joined logs only when the second column repeats its list; this checks the
    // bundled SQLite visits the list in order, so that the fallback is never the usual path.
    const file = freshPath();
    const store = open({ path: file });
    const records = Array.from({ length: 300 }, (_, i) => makeRecord({ QueryDateUs: (i * 7919) % 300, RequestId: `order-${i}` }));
    await store.append(records);
    await store.close();
    const db = new Database(file, { readonly: true });
    const statement = db.prepare(WIRE_PAGE_BY_SEQ_SQL).raw(true);
    const seqs = (db.prepare('SELECT ArrivalSeq FROM logs').pluck().all() as number[]).sort((a, b) => a - b);
    const requestIdBySeq = new Map((db.prepare('SELECT ArrivalSeq, RequestId FROM logs').raw(true).all() as [number, string][]));
    fc.assert(
      fc.property(fc.shuffledSubarray(seqs, { minLength: 1 }), (list) => {
        const [joined, joinedSeqs] = statement.get(JSON.stringify(list)) as [Buffer, string];
        assert.equal(joinedSeqs, JSON.stringify(list));
        const logs = JSON.parse(`[${joined.toString('utf8')}]`) as { RequestId: string }[];
        assert.deepEqual(logs.map((log) => log.RequestId), list.map((seq) => requestIdBySeq.get(seq)));
      }),
      { numRuns: 200 },
    );
    db.close();
  });

  it('puts rows read in any order back in the order of the page, and refuses a key without its row', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: 1_000_000 }), { minLength: 1, maxLength: 50 }), fc.integer(), (seqs, seed) => {
        const rows = seqs.map((seq) => [seq, JSON.stringify({ seq, text: 'é"\\' })] as const);
        const shuffled = [...rows].sort((a, b) => ((a[0] * 2654435761 + seed) >>> 0) - ((b[0] * 2654435761 + seed) >>> 0));
        assert.deepEqual(inSeqOrder(seqs, shuffled), rows);
      }),
    );
    assert.throws(() => inSeqOrder([1, 2], [[1, '{}'] as const]), /no row for ArrivalSeq 2/);
  });

  it('reads through the pinned index and sorts nothing, with or without planner statistics', async () => {
    const file = freshPath();
    const store = open({ path: file });
    await store.append(Array.from({ length: 200 }, (_, i) => makeRecord({ QueryDateUs: i * 1_000_000_000 })));
    await store.close();
    const db = new Database(file);
    const shapes: [ReadKind, ReadPlan, Record<string, unknown[]>, string][] = [
      ['page', 'time', {}, 'INDEX logs_by_time'],
      ['page', 'time', { userAgents: ['u'], apiNames: ['a'] }, 'INDEX logs_by_time'],
      ['keys', 'time', {}, 'COVERING INDEX logs_by_time'],
      ['keys', 'time', { userAgents: ['u'] }, 'INDEX logs_by_time'],
      ['keys', 'callNames', { callNames: ['a', 'b'] }, 'COVERING INDEX logs_by_call'],
      ['keys', 'accessKeys', { accessKeys: ['k'] }, 'COVERING INDEX logs_by_key'],
      ['keys', 'ipAddresses', { ipAddresses: ['i'], userAgents: ['u'] }, 'INDEX logs_by_ip'],
      ['keys', 'statusCodes', { statusCodes: [500], callNames: ['a'] }, 'INDEX logs_by_status'],
      ['count', 'callNames', { callNames: ['a'] }, 'COVERING INDEX logs_by_call'],
    ];
    for (const statistics of ['none', 'ANALYZE']) {
      if (statistics === 'ANALYZE') db.exec('ANALYZE');
      for (const [kind, plan, lists, index] of shapes) {
        const sql = buildReadSql(shapeOf(kind, plan, { accountId: 'a', fromUs: 0, toUs: 1, ...lists }));
        const parameters = new Array((sql.match(/\?/g) ?? []).length).fill(1);
        const detail = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...parameters) as { detail: string }[])
          .map((row) => row.detail)
          .join(' | ');
        const seeks = new RegExp(`USING ${index} \\(<expr>=\\? AND AccountId=\\?`);
        assert.match(detail, seeks, `${kind} ${plan} (${statistics}): ${detail}`);
        assert.doesNotMatch(detail, /TEMP B-TREE/, `${kind} ${plan} (${statistics}): ${detail}`);
      }
    }
    db.close();
  });

  it('stores distinct records whose identities share a hash, and still finds each one exactly', async () => {
    // Two request ids of one account with the same 48-bit identity hash, found by a birthday search.
    const [first, second] = COLLIDING_REQUEST_IDS;
    assert.equal(identityHash(COLLIDING_ACCOUNT, first), identityHash(COLLIDING_ACCOUNT, second));
    for (const recentIdentities of [1_000, 1]) {
      const store = open({ path: freshPath(), recentIdentities });
      const a = makeRecord({ AccountId: COLLIDING_ACCOUNT, RequestId: first, QueryDateUs: 1 });
      const b = makeRecord({ AccountId: COLLIDING_ACCOUNT, RequestId: second, QueryDateUs: 2 });
      assert.deepEqual(await store.append([a, b, a]), { inserted: 2, duplicateIndexes: [2] });
      assert.deepEqual(await store.append([b, a]), { inserted: 0, duplicateIndexes: [0, 1] });
      const query = { accountId: COLLIDING_ACCOUNT, fromUs: 0, toUs: 10, limit: 10 };
      assert.deepEqual((await store.readPage({ ...query, requestIds: [second] })).records.map((r) => r.RequestId), [second]);
      assert.deepEqual((await store.readPage({ ...query, requestIds: [first, second] })).records.length, 2);
      assert.equal(await store.purgeBefore(2), 1);
      assert.deepEqual(await store.append([b]), { inserted: 0, duplicateIndexes: [0] });
      assert.deepEqual(await store.append([a]), { inserted: 1, duplicateIndexes: [] });
      await store.close();
    }
  });
});

describe('SqliteLogStore: wire JSON written by SQLite', () => {
  it('formats QueryDate in SQL exactly as formatIsoUs does, for every safe integer of microseconds', () => {
    const db = new Database(':memory:');
    const format = db.prepare(`SELECT ${ISO_DATE_SQL} FROM (SELECT ? AS QueryDateUs)`).pluck();
    const edges = [0, -1, 1, 999_999, 1_000_000, -1_000_000, -1_000_001, 59_999_999, 86_400_000_000 - 1, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 951_782_400_000_000, 4_107_456_000_000_000];
    for (const us of edges) assert.equal(format.get(us), formatIsoUs(us), String(us));
    fc.assert(
      fc.property(fc.integer({ min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }), (us) => {
        assert.equal(format.get(us), formatIsoUs(us));
      }),
      { numRuns: 20_000 },
    );
    db.close();
  });

  it('gives each log the very text JSON.stringify writes for its wire Log, whatever its strings hold', async () => {
    const store = open({ path: freshPath() });
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.string({ unit: 'grapheme-ascii', maxLength: 40 }),
      fc.constantFrom('"', '\\', '\\n', '\n\r\t\b\f', '\u0000\u001f\u007f', '\u2028\u2029', '\ud83d\ude00', '</script>', "'; DROP TABLE logs; --"),
    );
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(text, text, text, text, fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER - 1 })), { minLength: 1, maxLength: 8 }), async (fields) => {
        const records = fields.map(([header, payload, agent, id, dateUs]) =>
          makeRecord({ RequestId: `req-${++n}-${id.length}`, QueryHeaderRaw: header, QueryPayloadRaw: payload, QueryUserAgent: agent, QueryIpAddress: id, QueryDateUs: dateUs }),
        );
        await store.append(records);
        // The window ends before toUs: the latest date a read can cover is MAX_SAFE_INTEGER - 1.
        const query = { accountId: records[0]!.AccountId, fromUs: 0, toUs: Number.MAX_SAFE_INTEGER, limit: 1_000, requestIds: records.map((r) => r.RequestId) };
        const [wire, page] = [await store.readWirePage(query), await store.readPage(query)];
        assert.equal(page.records.length, records.length);
        assert.deepEqual(wire.logsJson, Buffer.from(page.records.map((r) => JSON.stringify(toWireLog(r))).join(',')));
        const window = await store.readWirePage({ ...query, requestIds: undefined, limit: 1_000 });
        const all = await store.readPage({ ...query, requestIds: undefined, limit: 1_000 });
        assert.deepEqual(window.logsJson, Buffer.from(all.records.map((r) => JSON.stringify(toWireLog(r))).join(',')));
        // A filter with its own index: keys first, then the rows by ArrivalSeq.
        const byIp = { ...query, requestIds: undefined, ipAddresses: [records[0]!.QueryIpAddress] };
        const [ipWire, ipPage] = [await store.readWirePage(byIp), await store.readPage(byIp)];
        assert.ok(ipPage.records.length >= 1);
        assert.deepEqual(ipWire.logsJson, Buffer.from(ipPage.records.map((r) => JSON.stringify(toWireLog(r))).join(',')));
      }),
      { numRuns: 60 },
    );
    await store.close();
  });
});

describe('SqliteLogStore: failures', () => {
  it('fails with StoreUnavailable when the file cannot be opened', async () => {
    await assertUnavailable(() => open({ path: path.join(root, 'missing-directory', 'logs.sqlite') }));
    const dir = path.join(root, 'a-directory');
    mkdirSync(dir);
    await assertUnavailable(() => open({ path: dir }));
  });

  it('refuses a database it did not create, and one from a newer schema version, without changing them', async () => {
    const foreign = freshPath();
    const other = new Database(foreign);
    other.exec('CREATE TABLE logs (x)');
    other.close();
    await assertUnavailable(() => open({ path: foreign }));

    const newer = freshPath();
    await open({ path: newer }).close();
    const db = new Database(newer);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    await assertUnavailable(() => open({ path: newer }));
    await assertUnavailable(() => open({ path: newer, readOnly: true }));
    const check = new Database(newer, { readonly: true });
    assert.equal(check.pragma('user_version', { simple: true }), SCHEMA_VERSION + 1);
    check.close();
  });

  it('keeps in MaxRecordTextBytes a bound of the text bytes of every stored record, computed exactly for a file of schema 1', async () => {
    const file = freshPath();
    let store = open({ path: file });
    const records = ['x', 'é'.repeat(3_000), '😀'.repeat(700), 'y'.repeat(2_000)].map((QueryPayloadRaw, i) => makeRecord({ QueryDateUs: i, QueryPayloadRaw }));
    await store.append(records.slice(0, 2));
    await store.append(records.slice(2));
    await store.close();
    const largest = Math.max(...records.map(recordTextBytes));
    const metaOf = (db: Database.Database) => db.prepare(`SELECT Value FROM store_meta WHERE Name = 'MaxRecordTextBytes'`).pluck().get() as number;
    let db = new Database(file);
    assert.ok(metaOf(db) >= largest, `${metaOf(db)} >= ${largest}`);
    // The same records in a file of schema 1, which had no such row: opening it measures them.
    db.prepare(`DELETE FROM store_meta WHERE Name = 'MaxRecordTextBytes'`).run();
    db.pragma('user_version = 1');
    db.close();
    store = open({ path: file });
    const page = await store.readPage({ accountId: records[0]!.AccountId, fromUs: 0, toUs: 10, limit: 10, maxBytes: recordTextBytes(records[0]!) + recordTextBytes(records[1]!) });
    assert.deepEqual(page.records.map((r) => r.QueryDateUs), [0, 1]);
    assert.equal(page.hasMore, true);
    await store.close();
    db = new Database(file, { readonly: true });
    assert.equal(metaOf(db), largest);
    assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    db.close();
  });

  it('cuts pages at their byte budget exactly when MaxRecordTextBytes is missing', async () => {
    const file = freshPath();
    const store = open({ path: file, writeThread: false, backgroundCheckpoint: false });
    const records = [300, 10, 10, 400].map((n, i) => makeRecord({ QueryDateUs: i, QueryHeaderRaw: 'h'.repeat(n) }));
    await store.append(records);
    const db = new Database(file);
    db.prepare(`DELETE FROM store_meta WHERE Name = 'MaxRecordTextBytes'`).run();
    db.close();
    const maxBytes = recordTextBytes(records[1]!) + recordTextBytes(records[2]!);
    const query = { accountId: records[0]!.AccountId, fromUs: 0, toUs: 10, limit: 10, maxBytes };
    const sizes: number[] = [];
    let after: { dateUs: number; seq: number } | undefined;
    for (;;) {
      const wire = await store.readWirePage({ ...query, after });
      const page = await store.readPage({ ...query, after });
      assert.equal(wire.count, page.records.length);
      sizes.push(page.records.length);
      if (!page.hasMore || wire.last === undefined) break;
      after = wire.last;
    }
    assert.deepEqual(sizes, [1, 2, 1]);
    await store.close();
  });

  it('fails with StoreUnavailable when the file is not a database', async () => {
    const file = freshPath();
    writeFileSync(file, 'this is not a database, only some text that is long enough to be a header '.repeat(100));
    await assertUnavailable(() => open({ path: file }));
  });

  it('fails appends and purges with StoreUnavailable on a store opened read-only, and still reads', async () => {
    const file = freshPath();
    const writer = open({ path: file });
    const record = makeRecord();
    await writer.append([record]);
    await writer.close();
    const reader = open({ path: file, readOnly: true });
    await assertUnavailable(() => reader.append([makeRecord()]));
    await assertUnavailable(() => reader.purgeBefore(Number.MAX_SAFE_INTEGER));
    const page = await reader.readPage({ accountId: record.AccountId, fromUs: 0, toUs: Number.MAX_SAFE_INTEGER, limit: 10 });
    assert.equal(page.records.length, 1);
    await reader.close();
  });

  it('fails appends with StoreUnavailable when another process holds the write lock past busyTimeoutMs', async () => {
    const file = freshPath();
    const store = open({ path: file, busyTimeoutMs: 50 });
    const other = new Database(file);
    other.exec('BEGIN IMMEDIATE');
    try {
      await assertUnavailable(() => store.append([makeRecord()]));
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    assert.equal((await store.append([makeRecord()])).inserted, 1, 'the store works again once the lock is gone');
    await store.close();
  });

  it('fails every call with StoreUnavailable after close', async () => {
    const store = open({ path: freshPath() });
    await store.close();
    await store.close();
    await assertUnavailable(() => store.append([makeRecord()]));
    await assertUnavailable(() => store.readPage({ accountId: 'a', fromUs: 0, toUs: 1, limit: 1 }));
    await assertUnavailable(() => store.highWaterMark());
  });

  it('finishes a purge in progress when closed, without failing it', async () => {
    const store = open({ path: freshPath() });
    const records = Array.from({ length: 12_000 }, (_, i) => makeRecord({ QueryDateUs: i, AccountId: `acct-${i % 3}` }));
    await store.append(records);
    const purge = store.purgeBefore(Number.MAX_SAFE_INTEGER);
    await store.close();
    const deleted = await purge;
    assert.ok(deleted > 0 && deleted <= records.length);
  });
});

// Found among 64 million random UUIDs (a 48-bit hash gives about 7 such pairs); valid as long as
// identityHash is unchanged, which the schema version guarantees.
const COLLIDING_ACCOUNT = '123456789012';
const COLLIDING_REQUEST_IDS: [string, string] = ['2f33e620-9ec5-4cd3-af3b-b5ee98e72b8d', 'da78453c-7071-466f-becc-4e7b461cd2d4'];

describe('SqliteLogStore write thread', () => {
  it('fails the writes of a thread that cannot open its file with StoreUnavailable, without crashing', async () => {
    const thread = new WriteThread({
      path: path.join(root, 'no-such-dir', 'logs.sqlite'),
      synchronous: 'NORMAL',
      busyTimeoutMs: 0,
      cacheSizeMb: 1,
      walLimitBytes: 1 << 20,
      recentIdentities: undefined,
      backgroundCheckpoint: true,
    });
    const err = await assertUnavailable(() => thread.append([makeRecord()]));
    assert.equal(err.details, 'the log store file cannot be opened');
    await assertUnavailable(() => thread.purgeChunk(0));
    await thread.close();
    await assertUnavailable(() => thread.append([makeRecord()]));
  });

  it('fails the pending writes of a thread that dies with StoreUnavailable, and starts a new one for the next write', async () => {
    const file = freshPath();
    const store = open({ path: file });
    await store.close();
    const data = { path: file, synchronous: 'NORMAL' as const, busyTimeoutMs: 1_000, cacheSizeMb: 1, walLimitBytes: 1 << 20, recentIdentities: undefined, backgroundCheckpoint: false };
    // A heap of 16 MB cannot take 48 MB of records: the thread dies of it, and only the thread.
    const thread = new WriteThread(data, { resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 } });
    try {
      const first = makeRecord({ QueryDateUs: 1 });
      assert.equal((await thread.append([first])).inserted, 1);
      const huge = Array.from({ length: 48 }, (_, i) => makeRecord({ QueryDateUs: 10 + i, QueryHeaderRaw: `${i}`.padEnd(1 << 20, 'h') }));
      const small = makeRecord({ QueryDateUs: 2 });
      const [dying, queued] = await Promise.allSettled([thread.append(huge), thread.append([small])]);
      for (const outcome of [dying, queued]) {
        assert.equal(outcome.status, 'rejected');
        assert.ok(isOmsError(outcome.reason) && outcome.reason.kind === 'StoreUnavailable', String(outcome.reason));
        assert.equal(outcome.reason.details, 'the log store writer stopped');
      }
      // The next write starts a thread again; what the dead one had not committed is not there.
      assert.equal((await thread.append([small])).inserted, 1);
      assert.deepEqual((await thread.append([first, small])).duplicateIndexes, [0, 1]);
    } finally {
      await thread.close();
    }
    const reader = open({ path: file, readOnly: true });
    const page = await reader.readPage({ accountId: makeRecord().AccountId, fromUs: 0, toUs: Number.MAX_SAFE_INTEGER, limit: 100 });
    assert.deepEqual(page.records.map((r) => r.QueryDateUs), [1, 2]);
    await reader.close();
  });

  it('answers writes in the order they were sent, reads seeing each once it is answered', async () => {
    const file = freshPath();
    const store = open({ path: file });
    try {
      const records = Array.from({ length: 50 }, (_, i) => makeRecord({ QueryDateUs: 1_000 + i }));
      const results = await Promise.all(records.map((r) => store.append([r, r])));
      assert.deepEqual(results, records.map(() => ({ inserted: 1, duplicateIndexes: [1] })));
      const page = await store.readPage({ accountId: records[0]!.AccountId, fromUs: 0, toUs: 10_000, limit: 100 });
      assert.deepEqual(page.records.map((r) => r.ArrivalSeq), records.map((_, i) => i + 1));
    } finally {
      await store.close();
    }
  });
});
