/**
 * The SQLite schema of the log store: versioned DDL applied in order, recorded in `PRAGMA user_version`.
 *
 * Figures below come from `bench/store-import.ts` on the reference machine (2 cores, SSD) with 2 million
 * generated records (100 accounts, one holding 40 %), appended in batches of 10,000. See the numbers
 * printed by that bench for the current run; the design reasons are these.
 *
 * Where the time goes. A naive layout (five indexes including UNIQUE (AccountId, RequestId), one
 * transaction per 1,000 records) imports about 7,000 records/s and slows down as the file grows. Every
 * commit writes each page it dirtied to the WAL, and later the checkpoint copies it again into the
 * database. An index whose keys arrive in random order (a UUID RequestId, or (AccountId, QueryCallName,
 * QueryDateUs) with thousands of (account, call) pairs active at once) dirties about one page per
 * record: 4 KiB written twice to store a 60-byte entry. A bigger page cache does not help: the cost is
 * writing pages, not reading them (measured: cache_size 2 MiB → 256 MiB changed 9,900 → 10,700 records/s).
 * So the layout below keeps every insertion point *local*:
 *
 * 1. `logs` is a rowid table whose rowid is ArrivalSeq: rows are appended at the right edge of the
 *    B-tree, pages fill completely and each is written once. Big text columns come last.
 *
 * 2. Filter indexes start with (AccountId, hour bucket): `(AccountId, QueryDateUs / 3600000000, <col>,
 *    QueryDateUs)`. Records arrive roughly in date order, so all inserts of a batch land in the current
 *    hour's region of each account, a few pages, instead of one page per (account, value) pair.
 *    Measured on 2M records: 27,000 → 37,000 records/s for the same five indexes (identity included).
 *    Readers list the hours of their window (`IN (json_each(?))`) and order by (hour, QueryDateUs,
 *    ArrivalSeq), which is the same order as (QueryDateUs, ArrivalSeq) since the hour is a monotonic
 *    function of the date; SQLite then only sorts within one hour ("TEMP B-TREE FOR LAST 2 TERMS") and
 *    stops at LIMIT. One-day buckets measured the same on import and sort 24 times more per step;
 *    15-minute buckets imported no faster and multiply the seeks of long windows.
 *
 * 3. Identity (AccountId, RequestId) is a 48-bit hash (`identityHash`, 6 bytes on disk) in a two-level
 *    table pair, checked exactly against the row on every hash match, so a collision never drops a
 *    distinct record:
 *      log_ids_recent  the last ~200,000 identities: small, so a batch dirties at most its few hundred pages;
 *      log_ids         everything older, merged from log_ids_recent in hash order in one pass when it is
 *                      full, so each page of log_ids is written once per merge rather than once per record.
 *    Measured on 2M records with the indexes of point 2: a single table of hashes falls from 39,000
 *    to 25,000 records/s as it grows; the two levels hold 35,000-40,000.
 *    The same table serves the RequestIds filter: hash → ArrivalSeq → row, then the exact comparison.
 *
 * 4. The WAL is copied into the database (checkpointed) on a worker thread, so the writer never does
 *    it inline (see checkpointer.ts). Measured: 37,000 → 48,000 records/s.
 *
 * 5. 16 KiB pages: the same bytes in a quarter of the WAL frames and system calls. Measured 48,000 →
 *    53,000 records/s; row fetches read 16 KiB pages from the OS cache, which the read figures absorb.
 *
 * Every index costs about 2 µs of CPU per record and its hot pages on each commit; each one here
 * serves a filter that would otherwise scan the whole window of the account (rare IPs, rare status
 * codes, rare call names, one access key). QueryUserAgents and QueryApiNames have no index: an account
 * has a handful of user agents and one API name, so a scan of the time index finds matches at once;
 * a value the account never used costs a scan of the window.
 *
 * Retention: `purgeBefore` deletes by (AccountId, QueryDateUs) through `logs_by_time`, a chunk per
 * transaction, with the identities of the deleted rows.
 */
import type { Database } from 'better-sqlite3';

/** Page size of new databases (fixed when the file is created; see point 5 above). */
export const PAGE_SIZE_BYTES = 16_384;

/** Width of the date buckets that lead the filter indexes (see point 2 above). */
export const BUCKET_US = 3_600_000_000;

/** The bucket expression, exactly as the filter indexes declare it: queries must repeat it verbatim. */
export const BUCKET_SQL = 'QueryDateUs / 3600000000';

export interface Migration {
  version: number;
  summary: string;
  statements: readonly string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    summary: 'logs with arrival order, bucketed filter indexes, two-level identity',
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
      // Window-only reads, unindexed filters, purge; ArrivalSeq (the rowid) is its implicit last column.
      'CREATE INDEX logs_by_time ON logs (AccountId, QueryDateUs)',
      `CREATE INDEX logs_by_call ON logs (AccountId, ${BUCKET_SQL}, QueryCallName, QueryDateUs)`,
      `CREATE INDEX logs_by_ip ON logs (AccountId, ${BUCKET_SQL}, QueryIpAddress, QueryDateUs)`,
      `CREATE INDEX logs_by_status ON logs (AccountId, ${BUCKET_SQL}, ResponseStatusCode, QueryDateUs)`,
      `CREATE INDEX logs_by_key ON logs (AccountId, ${BUCKET_SQL}, QueryAccessKey, QueryDateUs)`,
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
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

/**
 * Brings the file to SCHEMA_VERSION. Runs under BEGIN IMMEDIATE so that two processes opening a new
 * file at the same time apply each migration once. A file from a newer version is refused.
 */
export function migrateSchema(db: Database): void {
  const migrate = db.transaction(() => {
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > SCHEMA_VERSION) {
      throw new RangeError(`schema version ${current} is newer than this program's ${SCHEMA_VERSION}`);
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
