/**
 * The ClickHouse schema of the log store: versioned DDL, applied in order on first start and recorded
 * in `schema_version`. Written for Debian's ClickHouse 18.16 and valid on current versions.
 *
 * Features deliberately not used, because 18.16 lacks them (or has them only behind experimental
 * flags) and OMS must run on it:
 *   - DateTime64: dates are Int64 microseconds since the epoch (QueryDateUs), exact and sortable.
 *   - TTL: retention drops whole day partitions (ALTER TABLE ... DROP PARTITION), see purgeBefore.
 *   - query parameters ({name:Type}): every value is an escaped literal (literals.ts).
 *   - LowCardinality, column CODECs, data-skipping indexes: experimental or absent in 18.16. The
 *     compression method is the server's: docs/deployment.md has operators select ZSTD for every
 *     part (`<compression>` in the server config, valid on 18.16 and current versions), which keeps
 *     the random hex of the headers in about 40 % less space than the default LZ4.
 *   - insert deduplication of plain MergeTree (non_replicated_deduplication_window, 20.x+), lightweight
 *     DELETE, optimize_read_in_order, optimize_skip_unused_shards: all later than 18.16.
 *   - ON CLUSTER DDL: it needs ZooKeeper/Keeper even for a non-replicated cluster, so OMS runs each
 *     statement on every node it is given instead (one HTTP endpoint per shard).
 *
 * Tables (one set per database; in cluster mode, `logs_local` and `log_ids_local` live on every shard
 * and `logs` is a Distributed table over them, present on every node). The shard count is fixed once
 * records exist: an account's rows must stay on the shard its sharding key names (resharding means
 * copying the rows into a new cluster, docs/deployment.md):
 *
 *   logs / logs_local   the records. See LOGS_COLUMNS.
 *   log_ids(_local)     identity index: (IdHash, ArrivalSeq) -> (AccountId, RequestId, QueryDateUs),
 *                       for the duplicate check before each insert. On the shard of the account.
 *   writers             writer slots and the highest ArrivalSeq each has stored (the high-water mark).
 *   purges              retention cutoffs whose rows may still be on disk (see purgeBefore).
 *   schema_version      applied migrations.
 * (The identities shared by every replica, accounts, users and access_keys, are the credential
 * store's: src/identity/clickhouse-credential-store.ts.)
 * The small tables (writers, purges, schema_version, identities) live on the first node only: they
 * are tiny, and one place keeps them consistent without replication.
 */

/** One UTC day in microseconds: the partition width. */
export const US_PER_DAY = 86_400_000_000;

/** The partition expression, an integer day number: QueryDateUs may exceed DateTime's 2106 limit. */
export const PARTITION_SQL = 'intDiv(QueryDateUs, 86400000000)';

/**
 * The 16 fields under their OUTSCALE names plus ArrivalSeq, in the order rows are read back
 * (toStoredRecord in the store reads them by position).
 *
 *   AccountId            String: the first sort key column, so one account's rows are contiguous.
 *   QueryDateUs          Int64 microseconds (no DateTime64 in 18.16); second sort key column.
 *   ArrivalSeq           UInt64, assigned by the writer (sequence.ts); third sort key column, so
 *                        (AccountId, QueryDateUs, ArrivalSeq) is the read order and a keyset cursor.
 *   ResponseStatusCode   UInt16 (0-599 in practice).
 *   sizes, CallDuration  UInt64 (up to 2^53 - 1, what a JSON number holds exactly).
 *   the texts            String; the long ones (QueryPayloadRaw, QueryHeaderRaw) are read only for
 *                        the rows of a page, never scanned.
 */
export const LOGS_COLUMNS: readonly [string, string][] = [
  ['ArrivalSeq', 'UInt64'],
  ['AccountId', 'String'],
  ['CallDuration', 'UInt64'],
  ['QueryAccessKey', 'String'],
  ['QueryApiName', 'String'],
  ['QueryApiVersion', 'String'],
  ['QueryCallName', 'String'],
  ['QueryDateUs', 'Int64'],
  ['QueryHeaderRaw', 'String'],
  ['QueryHeaderSize', 'UInt64'],
  ['QueryIpAddress', 'String'],
  ['QueryPayloadRaw', 'String'],
  ['QueryPayloadSize', 'UInt64'],
  ['QueryUserAgent', 'String'],
  ['RequestId', 'String'],
  ['ResponseSize', 'UInt64'],
  ['ResponseStatusCode', 'UInt16'],
];

export const ROW_COLUMNS_SQL = LOGS_COLUMNS.map(([name]) => name).join(', ');

/** Where the statements of a migration run. */
export type MigrationTarget = 'every-node' | 'first-node';

export interface SchemaNames {
  /** Database name, an identifier ([A-Za-z_][A-Za-z0-9_]*, checked when the store is configured). */
  db: string;
  /** Present in cluster mode: the remote_servers cluster the Distributed table spans (an identifier). */
  cluster: string | undefined;
}

export interface ClickHouseMigration {
  version: number;
  summary: string;
  statements(names: SchemaNames): { target: MigrationTarget; sql: string }[];
}

/** Name of the table holding the records on each node (queried directly on that node). */
export function localLogsTable(names: SchemaNames): string {
  return `${names.db}.${names.cluster === undefined ? 'logs' : 'logs_local'}`;
}

export function localIdsTable(names: SchemaNames): string {
  return `${names.db}.${names.cluster === undefined ? 'log_ids' : 'log_ids_local'}`;
}

/** The sharding expression: every row of an account on one shard, so its reads and checks touch one. */
export const SHARDING_SQL = 'cityHash64(AccountId)';

export const CLICKHOUSE_MIGRATIONS: readonly ClickHouseMigration[] = [
  {
    version: 1,
    summary: 'records by (account, date, arrival), day partitions, identity index, writers, purges',
    statements: (names) => {
      const columns = LOGS_COLUMNS.map(([name, type]) => `${name} ${type}`).join(', ');
      const every: { target: MigrationTarget; sql: string }[] = [
        // ReplacingMergeTree: a copy left by an insert retried after a lost answer carries the same
        // ArrivalSeq as the attempt it retries (the store reuses the allocation), so it is an identical
        // row with an identical sort key; background merges drop it, and until then reads collapse
        // equal (QueryDateUs, ArrivalSeq) keys (LIMIT 1 BY). Nothing else ever shares a sort key.
        // PARTITION BY the UTC day: retention drops whole partitions (no TTL in 18.16), and a window
        // read only opens the parts of its days. ORDER BY (AccountId, QueryDateUs, ArrivalSeq): the
        // primary index narrows every read to one account's range of dates, and the order is the
        // read order, so a page's keys come from a contiguous range. index_granularity 256 (default
        // 8192): fetching the 100 rows of a page decompresses whole granules of the wide text columns
        // (about 850 bytes a row), and a filtered page (rare status codes, one IP) has its rows spread
        // over up to 100 granules. On 600,000 records, 256 rather than 1,024 took the server time of
        // the rare-status page from 27 to 13 ms at p50 (55 to 18 ms at p95); the index stays small
        // (one entry per 256 rows). Databases created with 1,024 (before this was set) read the same
        // rows, more slowly: the setting is fixed when a table is created.
        {
          target: 'every-node',
          sql:
            `CREATE TABLE IF NOT EXISTS ${localLogsTable(names)} (${columns}) ` +
            `ENGINE = ReplacingMergeTree PARTITION BY ${PARTITION_SQL} ` +
            `ORDER BY (AccountId, QueryDateUs, ArrivalSeq) SETTINGS index_granularity = 256`,
        },
        // The duplicate check looks up a batch's identities by hash: ordered by IdHash, a lookup reads
        // one 1,024-row block per partition and hash. AccountId and RequestId are kept to confirm a
        // hash match exactly (a collision never drops a distinct record); QueryDateUs and ArrivalSeq to
        // tell a live row from a purged one and a retried insert from a duplicate. Same partitions as
        // the records, dropped with them.
        {
          target: 'every-node',
          sql:
            `CREATE TABLE IF NOT EXISTS ${localIdsTable(names)} (IdHash UInt64, ArrivalSeq UInt64, AccountId String, ` +
            `RequestId String, QueryDateUs Int64) ENGINE = ReplacingMergeTree PARTITION BY ${PARTITION_SQL} ` +
            `ORDER BY (IdHash, ArrivalSeq) SETTINGS index_granularity = 1024`,
        },
      ];
      if (names.cluster !== undefined) {
        // Writes go to the local table of the account's shard directly, chosen with this same
        // sharding key (clickhouse-log-store.ts): synchronous and durable when the insert returns
        // (a Distributed insert is queued on the node that receives it unless insert_distributed_sync
        // is set), one hop, and the duplicate check sits on the same shard. Reads of one account go
        // to its shard only, which holds all of its rows. The Distributed table serves the queries
        // over every account (the purge count) and operators; with skip_unavailable_shards at 0 it
        // fails when a shard is missing rather than answer in part. Rows inserted through it by
        // other tools land on the shard OMS reads them from.
        every.push({
          target: 'every-node',
          sql:
            `CREATE TABLE IF NOT EXISTS ${names.db}.logs (${columns}) ` +
            `ENGINE = Distributed(${names.cluster}, ${names.db}, logs_local, ${SHARDING_SQL})`,
        });
      }
      return [
        ...every,
        // WriterId: a slot claimed by each writing process; Seq: the highest ArrivalSeq it stored.
        // The high-water mark is max(Seq). ReplacingMergeTree(AtMs) keeps one row per (slot, instance).
        {
          target: 'first-node',
          sql:
            `CREATE TABLE IF NOT EXISTS ${names.db}.writers (WriterId UInt16, InstanceId String, Seq UInt64, AtMs UInt64) ` +
            `ENGINE = ReplacingMergeTree(AtMs) ORDER BY (WriterId, InstanceId)`,
        },
        // A purge (CutoffUs, MaxSeq) hides every row dated before CutoffUs with ArrivalSeq <= MaxSeq
        // until the partitions holding them are dropped (see purgeBefore).
        {
          target: 'first-node',
          sql:
            `CREATE TABLE IF NOT EXISTS ${names.db}.purges (EntryId String, CutoffUs Int64, MaxSeq UInt64, AtMs UInt64) ` +
            `ENGINE = MergeTree ORDER BY (CutoffUs, MaxSeq)`,
        },
      ];
    },
  },
];

export const CLICKHOUSE_SCHEMA_VERSION = CLICKHOUSE_MIGRATIONS[CLICKHOUSE_MIGRATIONS.length - 1]?.version ?? 0;

/** `schema_version` itself, created before anything else on the first node. */
export function schemaVersionTableSql(names: SchemaNames): string {
  return `CREATE TABLE IF NOT EXISTS ${names.db}.schema_version (Version UInt32, AppliedAtMs UInt64) ENGINE = MergeTree ORDER BY Version`;
}

/**
 * The identity hash of (AccountId, RequestId): 53 bits, so that it is a safe JavaScript integer and a
 * UInt64 in ClickHouse. Two multiply-xorshift lanes over the UTF-16 code units, each string preceded
 * by its length. Stored in log_ids: changing it requires a migration. Matches are always confirmed
 * against the stored AccountId and RequestId.
 */
export function idHash(accountId: string, requestId: string): number {
  let a = 0x9e3779b9 ^ accountId.length;
  let b = 0x85ebca6b ^ requestId.length;
  for (let i = 0; i < accountId.length; i++) {
    const c = accountId.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b + c, 0xc2b2ae35);
  }
  a = Math.imul(a ^ 0xff, 0x27d4eb2d);
  for (let i = 0; i < requestId.length; i++) {
    const c = requestId.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b + c, 0xc2b2ae35);
  }
  a ^= a >>> 15;
  a = Math.imul(a, 0x2c1b3c6d) ^ Math.imul(b ^ (b >>> 13), 0x297a2d39);
  b ^= b >>> 16;
  b = Math.imul(b, 0x85ebca6b) ^ Math.imul(a ^ (a >>> 12), 0xcc9e2d51);
  a ^= a >>> 16;
  return (b & 0x1fffff) * 4_294_967_296 + (a >>> 0);
}
