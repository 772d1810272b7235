/**
 * The SQLite schema of the log store: versioned DDL applied in order, recorded in `PRAGMA user_version`.
 *
 * Figures: `node --import tsx bench/store-import.ts` on the reference machine (2 cores, 24 GiB, SSD),
 * 2 million generated records (100 accounts, one holding 40 %; bench/lib/generate-logs.ts) appended in
 * batches of 10,000. Runs vary by about 15 % on that machine; the figures are typical runs.
 *
 * Where the time goes. The naive layout (UNIQUE (AccountId, RequestId) and four (AccountId, <col>,
 * QueryDateUs) indexes, transactions of 1,000) imports about 10,000 records/s, slowing down as the
 * file grows. In WAL mode each commit writes every page it changed to the `-wal` file and the
 * checkpoint later copies it again into the database. An index whose inserts land all over its
 * B-tree changes about one page per record: a UUID RequestId, but also (AccountId, QueryCallName, ...)
 * with thousands of (account, call) pairs active at once. That is a page written twice to store a
 * 60-byte entry; the page cache does not help, the cost is writing (cache_size 2 → 256 MiB moved the
 * naive layout from 9,900 to 10,700 records/s). So every index below inserts *where the last batch
 * inserted*, and the figure that matters is bytes written per record (/proc/self/io write_bytes):
 *
 * 1. `logs` is a rowid table whose rowid is ArrivalSeq: rows are appended at the right edge of the
 *    B-tree, each page filled and written once. The big text columns come last.
 *
 * 2. Every index starts with the hour of QueryDateUs: `(QueryDateUs / 3600000000, AccountId, <col>,
 *    QueryDateUs)`. Records arrive in date order (give or take seconds), so a batch only adds entries
 *    to the region of the current hours, a few pages shared by all accounts, written about once, like
 *    an append-only log. Measured, all five indexes:
 *      (AccountId, <col>, QueryDateUs)              27,000 records/s  (4 KiB pages, checkpoint inline)
 *      (AccountId, hour, <col>, QueryDateUs)        37,000 records/s  (same conditions)
 *                                                   48,800 records/s, 5,050 bytes written per record
 *      (hour, AccountId, <col>, QueryDateUs)        67,900 records/s, 2,710 bytes written per record
 *    (the last two with the checkpoint worker and 16 KiB pages, 600,000 records). With the account
 *    first, every active account keeps its own hot page in each index, a hundred pages per commit.
 *    Readers list the hours of their window (`IN (SELECT value FROM json_each(?))`) and order by
 *    (hour, QueryDateUs, ArrivalSeq): the same order as (QueryDateUs, ArrivalSeq), since the hour is a
 *    non-decreasing function of the date, so SQLite reads it straight from the index with no sort
 *    (read-query.ts). A 32-day window costs 768 seeks per value, about a millisecond.
 *
 * 3. Identity (AccountId, RequestId) is a 48-bit hash (`identityHash`, 6 bytes on disk) in two tables,
 *    always confirmed against the row, so a collision never drops a distinct record:
 *      log_ids_recent  the last ~200,000 identities: small, so a batch rewrites at most its few pages;
 *      log_ids         everything older, merged from log_ids_recent in hash order in one pass when
 *                      it is full, so each page of log_ids is written once per merge, not per record.
 *    With one table of hashes, import fell from 39,000 to 25,000 records/s as it grew; with two it
 *    held 35,000-40,000 (2M records, before points 2 and 4). The UNIQUE (AccountId, RequestId) index
 *    of the naive layout is 60 bytes per entry inserted at random: its largest single cost.
 *    log_ids also serves the RequestIds filter: hash → ArrivalSeq → row, then the exact comparison.
 *    The limit of this layout: a merge lands in nearly every page of log_ids, so it costs what log_ids
 *    weighs (200,000 identities merged into 2M, 8M and 16M entries: 0.36, 1.27 and 2.43 s), and the
 *    bookkeeping per record grows with the store (alone: 3.7 µs an identity up to 2M, 6.4 from 6M to 8M).
 *    BENCHMARKS.md has the figures, the tiered runs that were tried instead, and a table per run, which
 *    measured flat at 2.8 µs an identity to 8M and is the way out.
 *    An append asks the writer's in-memory Bloom filter of the stored hashes first (identity-filter.ts;
 *    2.5 to 5 bytes per stored record, up to 7.5 while a larger one is filled) and probes the tables only for its rare positives: probing both
 *    tables for every record cost 2.1 to 2.7 µs a record. With it, and the batch's identities passed to
 *    SQLite as one array of hashes, 2M records imported at 46,167 records/s against 40,543 the same day
 *    (12-02), and 600,000 records 13 % faster in alternating runs of the two versions.
 *
 * 4. The WAL is copied into the database on a worker thread (checkpointer.ts), not inside the COMMIT
 *    of whichever append crosses wal_autocheckpoint: 50,200 → 74,000 records/s on 2M records.
 *
 * 5. 16 KiB pages: the same bytes in a quarter of the WAL frames and system calls, and denser indexes.
 *    Against 4 KiB on 2M records: 76,300 vs 72,800 records/s, 1,111 vs 1,193 bytes per record in the
 *    file, window pages of 1,000 rows in 2.9 vs 4.3 ms (p50).
 *
 * Each filter index costs about 2 µs of CPU per record and ~130 bytes written per record (all four:
 * 97,000 → 75,000 records/s); each serves a filter that would otherwise scan the whole window of the
 * account: rare IPs, rare status codes, rare call names, one access key. QueryUserAgents and
 * QueryApiNames have no index: an account has a handful of user agents and one API name, so a scan of
 * the time index finds matches at once; a value the account never used costs a scan of the window.
 *
 * 6. Rows keep the fields as columns, not the wire JSON of the log. Keeping each log's JSON text in
 *    the row (and only the filtered fields as columns) made a 1,000-row page read 4x faster in SQL
 *    (better-sqlite3 pays about 0.35 µs per column value it hands to JavaScript: 7.9 ms for the 17
 *    columns against 1.9 ms for ArrivalSeq, QueryDateUs and the JSON, 300k records), but the JSON made
 *    the file 1,653 bytes per record instead of 1,111 (the 16 key names alone are 260 bytes) and
 *    JSON.stringify cost about 10 µs per record at append: 2M records imported at 25,800 records/s
 *    instead of 66,000. A record is written once and read rarely, so the cost stays on the read side;
 *    there, SQLite writes each log's JSON from the columns as it reads them and joins a page's logs into
 *    one value (WIRE_PAGE_BY_SEQ_SQL in read-query.ts): one value per page reaches JavaScript.
 *
 * Retention: `purgeBefore` deletes the oldest hours first through `logs_by_time`, a chunk of rows per
 * transaction, with the identities of the deleted rows.
 */
import type { Database } from 'better-sqlite3';
import { STRING_FIELDS } from '../../domain/log.js';
import { OmsError } from '../../domain/oms-error.js';

/** Page size of new databases (fixed when the file is created; point 5 above). */
export const PAGE_SIZE_BYTES = 16_384;

/** Width of the date buckets that lead every index (point 2 above). */
export const BUCKET_US = 3_600_000_000;

/** The bucket expression, exactly as the indexes declare it: queries must repeat it verbatim to use them. */
export const BUCKET_SQL = 'QueryDateUs / 3600000000';

/**
 * A row's text bytes (recordTextBytes in domain/log.ts). octet_length of a TEXT column reads the
 * size in the record header, not the text: 300 rows of 1 MiB each in 0.02 ms, against 150 ms for length().
 */
export const TEXT_BYTES_SQL = STRING_FIELDS.map((field) => `octet_length(${field})`).join(' + ');

export interface Migration {
  version: number;
  summary: string;
  statements: readonly string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    summary: 'logs in arrival order, hour-first indexes, two-level identity',
    statements: [
      // The 16 fields of `Log` under their OUTSCALE names; QueryDate as integer microseconds
      // (QueryDateUs); ArrivalSeq is the rowid, assigned from store_meta so it is never reused
      // even when the newest rows are purged. STRICT: a non-integer where an integer is due is an error.
      `CREATE TABLE logs (
        ArrivalSeq INTEGER PRIMARY KEY,
        AccountId TEXT NOT NULL,
        QueryDateUs INTEGER NOT NULL,
        QueryCallName TEXT NOT NULL,
        QueryAccessKey TEXT NOT NULL,
        QueryIpAddress TEXT NOT NULL,
        ResponseStatusCode INTEGER NOT NULL,
        QueryUserAgent TEXT NOT NULL,
        QueryApiName TEXT NOT NULL,
        QueryApiVersion TEXT NOT NULL,
        RequestId TEXT NOT NULL,
        CallDuration INTEGER NOT NULL,
        QueryHeaderSize INTEGER NOT NULL,
        QueryPayloadSize INTEGER NOT NULL,
        ResponseSize INTEGER NOT NULL,
        QueryPayloadRaw TEXT NOT NULL,
        QueryHeaderRaw TEXT NOT NULL
      ) STRICT`,
      // Window-only reads, unindexed filters, purge. ArrivalSeq, the rowid, is the implicit last
      // column of every index, so each one is ordered by (hour, AccountId, [value,] QueryDateUs, ArrivalSeq).
      `CREATE INDEX logs_by_time ON logs (${BUCKET_SQL}, AccountId, QueryDateUs)`,
      `CREATE INDEX logs_by_call ON logs (${BUCKET_SQL}, AccountId, QueryCallName, QueryDateUs)`,
      `CREATE INDEX logs_by_ip ON logs (${BUCKET_SQL}, AccountId, QueryIpAddress, QueryDateUs)`,
      `CREATE INDEX logs_by_status ON logs (${BUCKET_SQL}, AccountId, ResponseStatusCode, QueryDateUs)`,
      `CREATE INDEX logs_by_key ON logs (${BUCKET_SQL}, AccountId, QueryAccessKey, QueryDateUs)`,
      // Identity: (identityHash(AccountId, RequestId), ArrivalSeq). Two rows may share a hash.
      `CREATE TABLE log_ids (
        IdHash INTEGER NOT NULL,
        ArrivalSeq INTEGER NOT NULL,
        PRIMARY KEY (IdHash, ArrivalSeq)
      ) STRICT, WITHOUT ROWID`,
      `CREATE TABLE log_ids_recent (
        IdHash INTEGER NOT NULL,
        ArrivalSeq INTEGER NOT NULL,
        PRIMARY KEY (IdHash, ArrivalSeq)
      ) STRICT, WITHOUT ROWID`,
      // NextArrivalSeq: the next ArrivalSeq to assign. MergedArrivalSeq: rows up to it have their
      // identity in log_ids, later ones in log_ids_recent.
      `CREATE TABLE store_meta (
        Name TEXT PRIMARY KEY,
        Value INTEGER NOT NULL
      ) STRICT, WITHOUT ROWID`,
      `INSERT INTO store_meta (Name, Value) VALUES ('NextArrivalSeq', 1), ('MergedArrivalSeq', 0)`,
    ],
  },
  {
    version: 2,
    summary: 'an upper bound of the text bytes of any stored record, for page byte budgets',
    statements: [
      // MaxRecordTextBytes: no stored record has more text bytes. Appends raise it (with a bound that
      // needs no encoding); a read whose page cannot pass its byte budget at that size skips measuring
      // its rows. Purges leave it as it is: still a bound. Measuring the rows of an existing file reads
      // every leaf page of `logs` (not the text in overflow pages) under the write lock: 2.8 s for 2M
      // records with the file out of the OS cache, 0.9 s with it in, once.
      `INSERT INTO store_meta (Name, Value) SELECT 'MaxRecordTextBytes', coalesce(max(${TEXT_BYTES_SQL}), 0) FROM logs`,
    ],
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

/**
 * Brings the file to SCHEMA_VERSION. Runs under BEGIN IMMEDIATE so that two processes opening a new
 * file at the same time apply each migration once. A file from a newer version of OMS, or a database
 * that OMS did not create, is refused rather than altered.
 */
export function migrateSchema(db: Database): void {
  const migrate = db.transaction(() => {
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > SCHEMA_VERSION) {
      throw new OmsError('StoreUnavailable', 'the log store file was written by a newer version of OMS');
    }
    if (current === 0 && db.prepare('SELECT count(*) FROM sqlite_schema').pluck().get() !== 0) {
      throw new OmsError('StoreUnavailable', 'the log store file holds another database');
    }
    for (const migration of MIGRATIONS) {
      if (migration.version <= current) continue;
      for (const statement of migration.statements) db.exec(statement);
      db.pragma(`user_version = ${migration.version}`);
    }
  });
  migrate.immediate();
}

/**
 * Merge threshold of log_ids_recent. Balances the pages a batch dirties in log_ids_recent (grows with
 * its size) against the pages a merge rewrites in log_ids (grows with the store): about
 * sqrt(20,000 × merged), 200,000 for 2 million stored identities.
 */
export function recentIdsMergeThreshold(mergedIds: number): number {
  return Math.min(1_000_000, Math.max(100_000, Math.round(Math.sqrt(20_000 * Math.max(0, mergedIds)))));
}

/**
 * The identity hash of (AccountId, RequestId): 48 bits, signed so that SQLite stores it in 6 bytes.
 * Two multiply-xorshift lanes over the UTF-16 code units, each string preceded by its length so that
 * no two pairs share an encoding. Stored on disk: changing it requires a schema migration.
 * Collisions are expected to be rare and are always resolved by comparing the stored row.
 */
export function identityHash(accountId: string, requestId: string): number {
  let h1 = 0xdeadbeef ^ accountId.length;
  let h2 = 0x41c6ce57 ^ accountId.length;
  for (let i = 0; i < accountId.length; i++) {
    const c = accountId.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ requestId.length, 2654435761);
  h2 = Math.imul(h2 ^ requestId.length, 1597334677);
  for (let i = 0; i < requestId.length; i++) {
    const c = requestId.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (h2 & 0xffff) * 4_294_967_296 + (h1 >>> 0) - 140_737_488_355_328;
}
