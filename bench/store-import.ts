/**
 * The SQLite log store under a realistic load, next to a naive SQLite layout measured in the same run.
 *
 *   node --import tsx bench/store-import.ts [--records N] [--batch N] [--baseline-records N] [--no-baseline]
 *
 * 0. The first --compare-records (default 200,000) into two fresh stores, alternating batches: writes on
 *    the store's write thread (as `oms serve` does) against writes in the calling thread.
 * 1. Imports N generated records (default 2,000,000; see bench/lib/generate-logs.ts) into a fresh store
 *    under os.tmpdir(), writing in the calling thread, in batches of --batch (default 10,000), timing only LogStore.append: records/s
 *    per slice of 200,000 and overall, the slowest append, file size and bytes per record.
 * 2. Page reads (SQL and row decoding, through LogStore.readPage) for each query shape, for the large
 *    account and for small ones, pages of 100 and 1,000: p50/p99 over --queries (default 200) queries with
 *    random windows (30 % the last 48 h, the others 1 h to 32 days) and random values. Once as the store
 *    runs (plans pinned, statistics from PRAGMA optimize), once after a full ANALYZE.
 * 3. The naive layout: one table, five indexes (UNIQUE (AccountId, RequestId), (AccountId, QueryDateUs),
 *    (AccountId, QueryCallName, QueryDateUs), (AccountId, QueryIpAddress, QueryDateUs),
 *    (AccountId, ResponseStatusCode, QueryDateUs)), INSERT OR IGNORE, one transaction per 1,000 records,
 *    SQLite's own checkpoints. Its import is timed over --baseline-records (default 500,000: it runs at
 *    a tenth of the speed); the file is then filled to N records untimed, in larger transactions, so that
 *    its reads, after ANALYZE, are measured on the same data.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { LogRecord } from '../src/domain/log.js';
import { US_PER_DAY, US_PER_HOUR } from '../src/domain/time.js';
import type { LogQuery } from '../src/store/log-store.js';
import { SqliteLogStore } from '../src/store/sqlite/sqlite-log-store.js';
import { createLogModel, DEFAULT_START_US, generateLogBatches } from './lib/generate-logs.js';
import { describeMachine } from './lib/machine.js';
import { Prng } from './lib/prng.js';
import { fmt, summarize } from './lib/stats.js';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '2000000' },
    batch: { type: 'string', default: '10000' },
    'baseline-records': { type: 'string', default: '500000' },
    'no-baseline': { type: 'boolean', default: false },
    queries: { type: 'string', default: '200' },
    keep: { type: 'boolean', default: false },
    'compare-records': { type: 'string', default: '200000' },
  },
  strict: false,
});
const RECORDS = Number(values.records);
const BATCH = Number(values.batch);
const BASELINE_RECORDS = Math.min(RECORDS, Number(values['baseline-records']));
const QUERIES = Number(values.queries);
const SLICE = RECORDS >= 2_000_000 ? 200_000 : Math.max(BATCH, Math.round(RECORDS / 10 / BATCH) * BATCH);
const SPAN_DAYS = 32;
const GENERATOR = { records: RECORDS, seed: 1, startUs: DEFAULT_START_US, spanDays: SPAN_DAYS };
const END_US = DEFAULT_START_US + SPAN_DAYS * US_PER_DAY;

console.log(`machine: ${describeMachine()}`);
console.log(`records: ${RECORDS}, batches of ${BATCH}, 100 accounts (the first holds 40 %), ${SPAN_DAYS} days`);
const dir = mkdtempSync(path.join(tmpdir(), 'oms-bench-store-'));
const model = createLogModel(GENERATOR);
const sampledIds: { AccountId: string; RequestId: string }[] = [];

// ---------------------------------------------------------------- 0. write thread or calling thread
// The same batches into two fresh stores, one writing on its write thread (what `oms serve` does), one
// in the calling thread, alternating batch by batch so that both see the same machine.
{
  const compareRecords = Math.min(RECORDS, Number(values['compare-records']));
  const stores = [
    { name: 'write thread', store: new SqliteLogStore({ path: path.join(dir, 'threaded.sqlite') }), ms: 0 },
    { name: 'calling thread', store: new SqliteLogStore({ path: path.join(dir, 'inline.sqlite'), writeThread: false }), ms: 0 },
  ];
  for (const batch of generateLogBatches({ ...GENERATOR, records: compareRecords, batchSize: BATCH })) {
    for (const entry of stores) {
      const t = performance.now();
      await entry.store.append(batch);
      entry.ms += performance.now() - t;
    }
  }
  console.log(`\n== append on the write thread or in the calling thread (first ${compareRecords} records, alternating batches)`);
  for (const entry of stores) {
    await entry.store.close();
    console.log(`${entry.name.padEnd(15)} ${Math.round(compareRecords / (entry.ms / 1000))} records/s`);
  }
  const [threaded, inline] = stores as [(typeof stores)[number], (typeof stores)[number]];
  console.log(`ratio write thread / calling thread: ${(inline.ms / threaded.ms).toFixed(2)}`);
  rmSync(path.join(dir, 'threaded.sqlite'), { force: true });
  rmSync(path.join(dir, 'inline.sqlite'), { force: true });
}

// ---------------------------------------------------------------- 1. import into the store
// Appends in the calling thread: the store's own write cost, with no thread hand-off (section 0 measures
// the hand-off that `oms serve` and `oms admin import` pay to keep their event loop free).
const storePath = path.join(dir, 'store.sqlite');
{
  const store = new SqliteLogStore({ path: storePath, writeThread: false });
  const rates: number[] = [];
  let done = 0;
  let sliceMs = 0;
  let totalMs = 0;
  let slowestMs = 0;
  let duplicates = 0;
  const sampler = new Prng(7);
  const started = performance.now();
  for (const batch of generateLogBatches({ ...GENERATOR, batchSize: BATCH })) {
    const t = performance.now();
    const result = await store.append(batch);
    const ms = performance.now() - t;
    duplicates += result.duplicateIndexes.length;
    slowestMs = Math.max(slowestMs, ms);
    sliceMs += ms;
    totalMs += ms;
    if (sampler.next() < 0.3) sampledIds.push(pickIdentity(batch, sampler));
    for (let i = 0; i < batch.length; i++) {
      done++;
      if (done % SLICE === 0) {
        rates.push(SLICE / (sliceMs / 1000));
        sliceMs = 0;
      }
    }
  }
  const wallMs = performance.now() - started;
  await store.close();
  const bytes = statSync(storePath).size;
  console.log('\n== store: import');
  console.log(`records/s per ${SLICE} records: ${rates.map((r) => Math.round(r)).join(' ')}`);
  console.log(
    `overall: ${Math.round(done / (totalMs / 1000))} records/s in append (${(totalMs / 1000).toFixed(1)} s; ` +
      `${(wallMs / 1000).toFixed(1)} s with generation), slowest append ${Math.round(slowestMs)} ms, duplicates ${duplicates}`,
  );
  console.log(`file: ${(bytes / 2 ** 20).toFixed(0)} MiB, ${Math.round(bytes / done)} bytes/record`);
}

// ---------------------------------------------------------------- 2. reads through the store
type Shape = 'window' | 'calls (common)' | 'calls (rare)' | 'rare ip' | 'status 500/503' | 'access key' | 'request ids';
const SHAPES: Shape[] = ['window', 'calls (common)', 'calls (rare)', 'rare ip', 'status 500/503', 'access key', 'request ids'];

function buildQuery(shape: Shape, accountId: string, limit: number, prng: Prng): LogQuery {
  const profile = model.accounts.find((a) => a.AccountId === accountId) ?? model.accounts[0]!;
  let fromUs: number;
  let toUs: number;
  if (shape === 'request ids') {
    fromUs = DEFAULT_START_US;
    toUs = END_US;
  } else if (prng.next() < 0.3) {
    fromUs = END_US - 48 * US_PER_HOUR;
    toUs = END_US;
  } else {
    const lengthUs = Math.round(US_PER_HOUR + prng.next() * (SPAN_DAYS * US_PER_DAY - US_PER_HOUR));
    fromUs = DEFAULT_START_US + Math.floor(prng.next() * (SPAN_DAYS * US_PER_DAY - lengthUs));
    toUs = fromUs + lengthUs;
  }
  const query: LogQuery = { accountId, fromUs, toUs, limit };
  const names = model.callNames.items;
  const some = <T>(items: readonly T[]) => Array.from({ length: prng.int(1, 3) }, () => prng.pick(items));
  switch (shape) {
    case 'window':
      break;
    case 'calls (common)':
      query.callNames = some(names.slice(0, 5));
      break;
    case 'calls (rare)':
      query.callNames = some(names.slice(-40));
      break;
    case 'rare ip':
      // An occasional address of the account (~0.06 % of its calls), or one it never used.
      query.ipAddresses = [prng.next() < 0.8 ? prng.pick(profile.occasionalIps) : '203.0.113.77'];
      break;
    case 'status 500/503':
      query.statusCodes = prng.next() < 0.7 ? [500, 503] : [prng.pick([408, 413, 422, 502, 504])];
      break;
    case 'access key':
      query.accessKeys = [prng.pick(profile.accessKeys.items)];
      break;
    case 'request ids': {
      const own = sampledIds.filter((s) => s.AccountId === accountId);
      query.requestIds = own.length === 0 ? ['00000000-0000-4000-8000-000000000000'] : some(own).map((s) => s.RequestId);
      break;
    }
  }
  return query;
}

const bigAccount = model.accounts[0]!.AccountId;
const smallAccounts = model.accounts.slice(20).map((a) => a.AccountId);

async function measureReads(title: string, readPage: (query: LogQuery) => Promise<number> | number): Promise<void> {
  console.log(`\n== ${title}: page read ms (SQL + rows), p50 / p99 over ${QUERIES} queries`);
  console.log('shape            account  limit 100      limit 1000     rows/page (1000)');
  const warm = new Prng(99);
  for (let i = 0; i < 100; i++) {
    const shape = warm.pick(SHAPES);
    await readPage(buildQuery(shape, warm.next() < 0.5 ? bigAccount : warm.pick(smallAccounts), 100, warm));
  }
  for (const shape of SHAPES) {
    for (const who of ['large', 'small'] as const) {
      const cells: string[] = [];
      let rows = 0;
      for (const limit of [100, 1000]) {
        const prng = new Prng(shape.length * 1000 + limit + (who === 'large' ? 1 : 2));
        const samples: number[] = [];
        rows = 0;
        for (let i = 0; i < QUERIES; i++) {
          const query = buildQuery(shape, who === 'large' ? bigAccount : prng.pick(smallAccounts), limit, prng);
          const t = performance.now();
          rows += await readPage(query);
          samples.push(performance.now() - t);
        }
        const s = summarize(samples);
        cells.push(`${fmt(s.p50).padStart(6)} / ${fmt(s.p99).padEnd(6)}`);
      }
      console.log(`${shape.padEnd(16)} ${who.padEnd(8)} ${cells.join('  ')}  ${Math.round(rows / QUERIES)}`);
    }
  }
}

{
  const store = new SqliteLogStore({ path: storePath });
  let t = performance.now();
  await store.optimize();
  console.log(`\nPRAGMA optimize: ${Math.round(performance.now() - t)} ms`);
  const read = async (query: LogQuery) => (await store.readPage(query)).records.length;
  await measureReads('store', read);
  await store.close();

  const side = new Database(storePath);
  t = performance.now();
  side.exec('ANALYZE');
  console.log(`\nANALYZE: ${Math.round(performance.now() - t)} ms`);
  side.close();
  const analysed = new SqliteLogStore({ path: storePath });
  await measureReads('store after ANALYZE', async (query) => (await analysed.readPage(query)).records.length);
  await analysed.close();
}

// ---------------------------------------------------------------- 3. the naive layout
if (values['no-baseline'] !== true) {
  const naivePath = path.join(dir, 'naive.sqlite');
  const db = new Database(naivePath);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(`
    CREATE TABLE logs (
      ArrivalSeq INTEGER PRIMARY KEY AUTOINCREMENT, AccountId TEXT NOT NULL, CallDuration INTEGER NOT NULL,
      QueryAccessKey TEXT NOT NULL, QueryApiName TEXT NOT NULL, QueryApiVersion TEXT NOT NULL, QueryCallName TEXT NOT NULL,
      QueryDateUs INTEGER NOT NULL, QueryHeaderRaw TEXT NOT NULL, QueryHeaderSize INTEGER NOT NULL,
      QueryIpAddress TEXT NOT NULL, QueryPayloadRaw TEXT NOT NULL, QueryPayloadSize INTEGER NOT NULL,
      QueryUserAgent TEXT NOT NULL, RequestId TEXT NOT NULL, ResponseSize INTEGER NOT NULL, ResponseStatusCode INTEGER NOT NULL);
    CREATE UNIQUE INDEX naive_identity ON logs (AccountId, RequestId);
    CREATE INDEX naive_time ON logs (AccountId, QueryDateUs);
    CREATE INDEX naive_call ON logs (AccountId, QueryCallName, QueryDateUs);
    CREATE INDEX naive_ip ON logs (AccountId, QueryIpAddress, QueryDateUs);
    CREATE INDEX naive_status ON logs (AccountId, ResponseStatusCode, QueryDateUs);`);
  const insert = db.prepare(
    'INSERT OR IGNORE INTO logs (AccountId, CallDuration, QueryAccessKey, QueryApiName, QueryApiVersion, QueryCallName, ' +
      'QueryDateUs, QueryHeaderRaw, QueryHeaderSize, QueryIpAddress, QueryPayloadRaw, QueryPayloadSize, QueryUserAgent, ' +
      'RequestId, ResponseSize, ResponseStatusCode) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const appendNaive = db.transaction((records: readonly LogRecord[]) => {
    for (const r of records) {
      insert.run(
        r.AccountId, r.CallDuration, r.QueryAccessKey, r.QueryApiName, r.QueryApiVersion, r.QueryCallName, r.QueryDateUs,
        r.QueryHeaderRaw, r.QueryHeaderSize, r.QueryIpAddress, r.QueryPayloadRaw, r.QueryPayloadSize, r.QueryUserAgent,
        r.RequestId, r.ResponseSize, r.ResponseStatusCode,
      );
    }
  });
  const naiveSlice = Math.max(1_000, Math.round(BASELINE_RECORDS / 5 / 1_000) * 1_000);
  const rates: number[] = [];
  let done = 0;
  let sliceMs = 0;
  let totalMs = 0;
  for (const batch of generateLogBatches({ ...GENERATOR, batchSize: 1_000 })) {
    if (done < BASELINE_RECORDS) {
      const t = performance.now();
      appendNaive.immediate(batch);
      const ms = performance.now() - t;
      sliceMs += ms;
      totalMs += ms;
      done += batch.length;
      if (done % naiveSlice === 0) {
        rates.push(naiveSlice / (sliceMs / 1000));
        sliceMs = 0;
      }
      if (done === BASELINE_RECORDS) {
        console.log(`\n== naive layout: import timed over the first ${BASELINE_RECORDS} records (transactions of 1,000)`);
        console.log(`records/s per ${naiveSlice} records: ${rates.map((r) => Math.round(r)).join(' ')}`);
        console.log(`overall: ${Math.round(done / (totalMs / 1000))} records/s`);
        if (done < RECORDS) console.log(`filling to ${RECORDS} records untimed (transactions of 10,000) for the reads`);
        db.exec('BEGIN');
      }
    } else {
      appendNaive(batch);
      done += batch.length;
      if (done % 10_000 === 0) db.exec('COMMIT; BEGIN');
    }
  }
  if (db.inTransaction) db.exec('COMMIT');
  db.pragma('wal_checkpoint(TRUNCATE)');
  console.log(`file: ${(statSync(naivePath).size / 2 ** 20).toFixed(0)} MiB, ${Math.round(statSync(naivePath).size / done)} bytes/record`);
  const t = performance.now();
  db.exec('ANALYZE');
  console.log(`ANALYZE: ${Math.round(performance.now() - t)} ms`);

  const COLUMN_LIST =
    'ArrivalSeq, AccountId, CallDuration, QueryAccessKey, QueryApiName, QueryApiVersion, QueryCallName, QueryDateUs, ' +
    'QueryHeaderRaw, QueryHeaderSize, QueryIpAddress, QueryPayloadRaw, QueryPayloadSize, QueryUserAgent, RequestId, ' +
    'ResponseSize, ResponseStatusCode';
  const LISTS = [
    ['callNames', 'QueryCallName'],
    ['accessKeys', 'QueryAccessKey'],
    ['ipAddresses', 'QueryIpAddress'],
    ['requestIds', 'RequestId'],
    ['statusCodes', 'ResponseStatusCode'],
  ] as const;
  const statements = new Map<string, Database.Statement>();
  await measureReads('naive layout after ANALYZE', (query) => {
    const where = ['AccountId = ?', 'QueryDateUs >= ?', 'QueryDateUs < ?'];
    const args: unknown[] = [query.accountId, query.fromUs, query.toUs];
    for (const [key, column] of LISTS) {
      const list = query[key] ?? [];
      if (list.length === 0) continue;
      where.push(`${column} IN (${list.map(() => '?').join(', ')})`);
      args.push(...list);
    }
    const sql = `SELECT ${COLUMN_LIST} FROM logs WHERE ${where.join(' AND ')} ORDER BY QueryDateUs, ArrivalSeq LIMIT ?`;
    let statement = statements.get(sql);
    if (statement === undefined) {
      statement = db.prepare(sql).raw(true);
      statements.set(sql, statement);
    }
    return Math.min(query.limit, statement.all(...args, query.limit + 1).length);
  });
  db.close();
}

if (values.keep === true) console.log(`\nkept ${dir}`);
else rmSync(dir, { recursive: true, force: true });

function pickIdentity(batch: readonly LogRecord[], prng: Prng): { AccountId: string; RequestId: string } {
  const record = prng.pick(batch);
  return { AccountId: record.AccountId, RequestId: record.RequestId };
}
