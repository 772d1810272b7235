import type { Database, Statement } from 'better-sqlite3';
import { recordTextBytesBound, type LogRecord } from '../../domain/log.js';
import type { AppendResult } from '../log-store.js';
import { toStoreError } from './driver-errors.js';
import { IdentityFilter } from './identity-filter.js';
import { BUCKET_SQL, BUCKET_US, identityHash, recentIdsMergeThreshold } from './schema.js';

/** The writes of the store, on the write thread (write-thread.ts) or in the calling thread (InlineWriter). */
export interface LogWriter {
  append(records: readonly LogRecord[]): Promise<AppendResult>;
  purgeChunk(cutoffUs: number): Promise<number>;
  optimize(): Promise<void>;
  checkpoint(): Promise<void>;
  close(): Promise<void>;
}

/** Rows deleted per purge transaction, so that appends can interleave with a long purge. */
export const PURGE_CHUNK_ROWS = 5_000;

/** How the appender sizes and builds its identity filter; the defaults suit any store, tests shrink them. */
export interface IdentityFilterOptions {
  /** Smallest capacity, in identities: 1,000,000 (2 MiB), the room a new store grows into. */
  minCapacity?: number;
  /**
   * Identity entries read into a filter being built, per append, at least (twice the batch is read when
   * larger): 4,096, about 1.4 ms, so that the small commits of a gateway stay short during a build.
   */
  scanRows?: number;
}

export interface AppenderOptions {
  recentIdentities?: number;
  identityFilter?: IdentityFilterOptions;
}

/**
 * The writes of the log store on one connection: appends (idempotent on AccountId + RequestId) and
 * retention purges. It runs on the store's write thread (write-thread.ts), the only writer of the file
 * in this process; schema.ts explains the layout it writes.
 */
export class SqliteAppender {
  readonly #db: Database;
  readonly #recentIdentities: number | undefined;
  readonly #readMeta: Statement<[string], number>;
  readonly #writeMeta: Statement<[number, string]>;
  readonly #raiseMaxTextBytes: Statement<[number, number]>;
  readonly #knownHashes: Statement<[string], number>;
  readonly #oldestSeq: Statement<[], number | null>;
  readonly #scanIds: Record<FilterBuild['table'], Statement<[number, number], number>>;
  readonly #identitiesBetween: Statement<[number, number], { AccountId: string; RequestId: string }>;
  readonly #seqsForHash: Statement<[number, number], number>;
  readonly #sameIdentity: Statement<[number, string, string], number>;
  readonly #insertIds: Statement<[number, string]>;
  readonly #insertRow: Statement<unknown[]>;
  readonly #mergeIds: Statement<[]>;
  readonly #clearRecentIds: Statement<[]>;
  readonly #deleteRows: Statement<[number, number, number], { ArrivalSeq: number; AccountId: string; RequestId: string }>;
  readonly #deleteId: Statement<[number, number]>;
  readonly #deleteRecentId: Statement<[number, number]>;
  readonly #appendTransaction: (records: readonly LogRecord[]) => AppendResult;
  readonly #purgeTransaction: (lastHour: number, cutoffUs: number) => number;
  readonly #filterMinCapacity: number;
  readonly #filterScanRows: number;
  /** Holds every stored identity with ArrivalSeq below #filterSeq; undefined until first built. */
  #filter: IdentityFilter | undefined;
  /** A filter being filled: the identity tables are read `scanRows` at a time, new rows added as they come. */
  #nextFilter: FilterBuild | undefined;
  #filterSeq = 0;
  /** MaxRecordTextBytes is at least this (another writer of the file may have raised it further). */
  #maxTextBytesWritten = 0;

  constructor(db: Database, options: AppenderOptions = {}) {
    this.#db = db;
    this.#recentIdentities = options.recentIdentities === undefined ? undefined : Math.max(1, Math.trunc(options.recentIdentities));
    this.#filterMinCapacity = Math.max(1, Math.trunc(options.identityFilter?.minCapacity ?? 1_000_000));
    this.#filterScanRows = Math.max(1, Math.trunc(options.identityFilter?.scanRows ?? 4_096));
    this.#readMeta = db.prepare('SELECT Value FROM store_meta WHERE Name = ?').pluck() as Statement<[string], number>;
    this.#writeMeta = db.prepare('UPDATE store_meta SET Value = ? WHERE Name = ?');
    this.#raiseMaxTextBytes = db.prepare(`UPDATE store_meta SET Value = ? WHERE Name = 'MaxRecordTextBytes' AND Value < ?`);
    // The hashes of a batch that some stored record already has, while no identity filter is ready.
    this.#knownHashes = db
      .prepare(
        'SELECT j.value FROM json_each(?) AS j WHERE EXISTS (SELECT 1 FROM log_ids WHERE IdHash = j.value) ' +
          'OR EXISTS (SELECT 1 FROM log_ids_recent WHERE IdHash = j.value)',
      )
      .pluck() as Statement<[string], number>;
    // Rows stored are at most NextArrivalSeq minus this (a count(*) of log_ids would read all of it).
    this.#oldestSeq = db.prepare('SELECT min(ArrivalSeq) FROM logs').pluck() as Statement<[], number | null>;
    // The hashes of an identity table in order, from after a hash, to fill a filter being built. Entries
    // that share the last hash of a chunk are skipped: the filter has that hash. (Paging by the
    // (IdHash, ArrivalSeq) row value cost 1.2 µs an entry against 0.34.)
    const scanIds = (table: string) =>
      db.prepare(`SELECT IdHash FROM ${table} WHERE IdHash > ? ORDER BY IdHash LIMIT ?`).pluck() as Statement<[number, number], number>;
    this.#scanIds = { log_ids_recent: scanIds('log_ids_recent'), log_ids: scanIds('log_ids') };
    // The rows that other writers of the file appended since this one last looked.
    this.#identitiesBetween = db.prepare('SELECT AccountId, RequestId FROM logs WHERE ArrivalSeq >= ? AND ArrivalSeq < ?') as Statement<
      [number, number],
      { AccountId: string; RequestId: string }
    >;
    this.#seqsForHash = db
      .prepare('SELECT ArrivalSeq FROM log_ids WHERE IdHash = ? UNION ALL SELECT ArrivalSeq FROM log_ids_recent WHERE IdHash = ?')
      .pluck() as Statement<[number, number], number>;
    this.#sameIdentity = db
      .prepare('SELECT 1 FROM logs WHERE ArrivalSeq = ? AND AccountId = ? AND RequestId = ?')
      .pluck() as Statement<[number, string, string], number>;
    // Identities of a batch in hash order: neighbouring inserts share pages. The batch's new records
    // have consecutive ArrivalSeqs, so the first one and the hashes in order say it all: passing
    // [hash, seq] pairs, each one parsed again by `->>`, cost 2.5 µs a record against 1.55.
    this.#insertIds = db.prepare(
      'INSERT INTO log_ids_recent (IdHash, ArrivalSeq) SELECT value, ? + key FROM json_each(?) ORDER BY 1, 2',
    );
    this.#insertRow = db.prepare(
      'INSERT INTO logs (ArrivalSeq, AccountId, QueryDateUs, QueryCallName, QueryAccessKey, QueryIpAddress, ' +
        'ResponseStatusCode, QueryUserAgent, QueryApiName, QueryApiVersion, RequestId, CallDuration, ' +
        'QueryHeaderSize, QueryPayloadSize, ResponseSize, QueryPayloadRaw, QueryHeaderRaw) ' +
        'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    // log_ids_recent is read in primary key order, so log_ids receives one sorted run.
    this.#mergeIds = db.prepare('INSERT INTO log_ids (IdHash, ArrivalSeq) SELECT IdHash, ArrivalSeq FROM log_ids_recent');
    this.#clearRecentIds = db.prepare('DELETE FROM log_ids_recent');
    // The oldest hours first, through the time index; the hour bound makes it a range scan.
    this.#deleteRows = db.prepare(
      'DELETE FROM logs WHERE ArrivalSeq IN (SELECT ArrivalSeq FROM logs INDEXED BY logs_by_time ' +
        `WHERE ${BUCKET_SQL} <= ? AND QueryDateUs < ? LIMIT ?) RETURNING ArrivalSeq, AccountId, RequestId`,
    );
    this.#deleteId = db.prepare('DELETE FROM log_ids WHERE IdHash = ? AND ArrivalSeq = ?');
    this.#deleteRecentId = db.prepare('DELETE FROM log_ids_recent WHERE IdHash = ? AND ArrivalSeq = ?');
    const appendBatch = db.transaction((records: readonly LogRecord[]) => this.#appendBatch(records));
    this.#appendTransaction = (records) => appendBatch.immediate(records);
    const purgeChunk = db.transaction((lastHour: number, cutoffUs: number) => {
      const deleted = this.#deleteRows.all(lastHour, cutoffUs, PURGE_CHUNK_ROWS);
      for (const row of deleted) {
        const hash = identityHash(row.AccountId, row.RequestId);
        this.#deleteId.run(hash, row.ArrivalSeq);
        this.#deleteRecentId.run(hash, row.ArrivalSeq);
      }
      return deleted.length;
    });
    this.#purgeTransaction = (lastHour, cutoffUs) => purgeChunk.immediate(lastHour, cutoffUs);
  }

  append(records: readonly LogRecord[]): AppendResult {
    if (records.length === 0) return { inserted: 0, duplicateIndexes: [] };
    try {
      return this.#appendTransaction(records);
    } catch (err) {
      // Rolled back: #filterSeq may have moved past rows that other writers will now append, and
      // MaxRecordTextBytes may not have been raised.
      this.#filter = undefined;
      this.#nextFilter = undefined;
      this.#maxTextBytesWritten = 0;
      throw err;
    }
  }

  /** Deletes up to PURGE_CHUNK_ROWS records dated before `cutoffUs`, oldest hours first; returns how many. */
  purgeChunk(cutoffUs: number): number {
    return this.#purgeTransaction(Math.floor((cutoffUs - 1) / BUCKET_US), cutoffUs);
  }

  /** Since SQLite 3.46 this analyses, with a row limit, only the tables that changed enough to matter. */
  optimize(): void {
    this.#db.pragma('optimize');
  }

  /** Runs inside BEGIN IMMEDIATE: the counters read here cannot change until COMMIT. */
  #appendBatch(records: readonly LogRecord[]): AppendResult {
    const n = records.length;
    const firstSeq = this.#readMeta.get('NextArrivalSeq') as number;
    const mergedSeq = this.#readMeta.get('MergedArrivalSeq') as number;
    const filter = this.#updateFilters(firstSeq, n);

    const hashes = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      const record = records[i] as LogRecord;
      hashes[i] = identityHash(record.AccountId, record.RequestId);
    }
    const known = filter === undefined ? new Set(this.#knownHashes.all(JSON.stringify(hashes))) : undefined;
    const mayBeStored = (hash: number): boolean => (filter === undefined ? (known as Set<number>).has(hash) : filter.mightContain(hash));
    let nextSeq = firstSeq;
    const seqs = new Array<number>(n).fill(0);
    const firstWithHash = new Map<number, number>();
    const duplicateIndexes: number[] = [];
    const newHashes: number[] = [];
    for (let i = 0; i < n; i++) {
      const record = records[i] as LogRecord;
      const hash = hashes[i] as number;
      const duplicate =
        (mayBeStored(hash) && this.#isStored(hash, record)) || isEarlierInBatch(records, hashes, seqs, firstWithHash, i);
      if (duplicate) {
        duplicateIndexes.push(i);
        continue;
      }
      if (!firstWithHash.has(hash)) firstWithHash.set(hash, i);
      seqs[i] = nextSeq;
      newHashes.push(hash);
      nextSeq++;
    }
    if (newHashes.length > 0) this.#insertIds.run(firstSeq, JSON.stringify(newHashes));
    // Rows in arrival order: ArrivalSeq grows with the rowid, appended at the right edge of `logs`.
    let maxTextBytes = 0;
    for (let i = 0; i < n; i++) {
      const seq = seqs[i] as number;
      if (seq === 0) continue;
      const r = records[i] as LogRecord;
      maxTextBytes = Math.max(maxTextBytes, recordTextBytesBound(r));
      this.#insertRow.run(
        seq,
        r.AccountId,
        r.QueryDateUs,
        r.QueryCallName,
        r.QueryAccessKey,
        r.QueryIpAddress,
        r.ResponseStatusCode,
        r.QueryUserAgent,
        r.QueryApiName,
        r.QueryApiVersion,
        r.RequestId,
        r.CallDuration,
        r.QueryHeaderSize,
        r.QueryPayloadSize,
        r.ResponseSize,
        r.QueryPayloadRaw,
        r.QueryHeaderRaw,
      );
    }
    this.#writeMeta.run(nextSeq, 'NextArrivalSeq');
    if (maxTextBytes > this.#maxTextBytesWritten) {
      this.#raiseMaxTextBytes.run(maxTextBytes, maxTextBytes);
      this.#maxTextBytesWritten = maxTextBytes;
    }
    if (nextSeq - 1 - mergedSeq >= (this.#recentIdentities ?? recentIdsMergeThreshold(mergedSeq))) {
      this.#mergeIds.run();
      this.#clearRecentIds.run();
      this.#writeMeta.run(nextSeq - 1, 'MergedArrivalSeq');
    }
    for (const hash of newHashes) {
      filter?.add(hash);
      this.#nextFilter?.filter.add(hash);
    }
    this.#filterSeq = nextSeq;
    return { inserted: newHashes.length, duplicateIndexes };
  }

  /**
   * Brings the identity filters up to `nextSeq` and returns the one to probe, undefined while none is
   * ready (the batch then probes the identity tables in SQL). A filter is built without stalling the
   * writes: each append reads the next `scanRows` entries of the identity tables into it, and adds what
   * is appended meanwhile. It is built on the first append, then again, twice the size of what is
   * stored, once the current one is full (stale hashes of purged rows count too; rebuilding drops them).
   *
   * log_ids_recent is read before log_ids: a merge moves entries from the first to the second, so an
   * entry not yet read in log_ids_recent is found in log_ids, and one that a merge moves later was either
   * read already or appended after the build began.
   */
  #updateFilters(nextSeq: number, incoming: number): IdentityFilter | undefined {
    if (nextSeq > this.#filterSeq) {
      // Rows of other writers of the file: all in [#filterSeq, nextSeq), ArrivalSeq being assigned under the write lock.
      const filters = [this.#filter, this.#nextFilter?.filter].filter((f) => f !== undefined);
      if (filters.length > 0) {
        for (const row of this.#identitiesBetween.iterate(this.#filterSeq, nextSeq)) {
          const hash = identityHash(row.AccountId, row.RequestId);
          for (const filter of filters) filter.add(hash);
        }
      }
      this.#filterSeq = nextSeq;
    }
    const current = this.#filter;
    if (this.#nextFilter === undefined && (current === undefined || current.count + incoming > current.capacity)) {
      const stored = nextSeq - (this.#oldestSeq.get() ?? nextSeq);
      const capacity = Math.max(this.#filterMinCapacity, 2 * (stored + incoming));
      this.#nextFilter = { filter: new IdentityFilter(capacity), table: 'log_ids_recent', afterHash: Number.MIN_SAFE_INTEGER };
    }
    const build = this.#nextFilter;
    if (build !== undefined) {
      // At least twice what is appended, so that the build outpaces the appends and the filter in use
      // fills to at most 1.5 times its capacity meanwhile (under 5 % false positives).
      const scanRows = Math.max(this.#filterScanRows, 2 * incoming);
      const hashes = this.#scanIds[build.table].all(build.afterHash, scanRows);
      for (const hash of hashes) build.filter.add(hash);
      build.afterHash = hashes[hashes.length - 1] ?? build.afterHash;
      if (hashes.length < scanRows) {
        if (build.table === 'log_ids_recent') {
          Object.assign(build, { table: 'log_ids', afterHash: Number.MIN_SAFE_INTEGER });
        } else {
          this.#filter = build.filter;
          this.#nextFilter = undefined;
        }
      }
    }
    return this.#filter;
  }

  /**
   * Exact check behind a hash match: a stored row with the same AccountId and RequestId. An identity
   * entry whose row was purged by another process matches no row, so it is harmless.
   */
  #isStored(hash: number, record: LogRecord): boolean {
    for (const seq of this.#seqsForHash.all(hash, hash)) {
      if (this.#sameIdentity.get(seq, record.AccountId, record.RequestId) !== undefined) return true;
    }
    return false;
  }
}

interface FilterBuild {
  filter: IdentityFilter;
  /** The table being read, and the last hash read from it. */
  table: 'log_ids_recent' | 'log_ids';
  afterHash: number;
}

function isEarlierInBatch(
  records: readonly LogRecord[],
  hashes: readonly number[],
  seqs: readonly number[],
  firstWithHash: ReadonlyMap<number, number>,
  i: number,
): boolean {
  const hash = hashes[i] as number;
  const first = firstWithHash.get(hash);
  if (first === undefined) return false;
  const record = records[i] as LogRecord;
  for (let j = first; j < i; j++) {
    if (seqs[j] === 0 || hashes[j] !== hash) continue;
    const earlier = records[j] as LogRecord;
    if (earlier.AccountId === record.AccountId && earlier.RequestId === record.RequestId) return true;
  }
  return false;
}

/**
 * The writes performed by the calling thread, on its own connection: for bulk tools that do nothing
 * else meanwhile (oms admin import), where handing each batch to a thread would only add the copy.
 */
export class InlineWriter implements LogWriter {
  readonly #db: Database;
  readonly #appender: SqliteAppender;

  constructor(db: Database, options: AppenderOptions = {}) {
    this.#db = db;
    this.#appender = new SqliteAppender(db, options);
  }

  async append(records: readonly LogRecord[]): Promise<AppendResult> {
    return this.#mapped(() => this.#appender.append(records));
  }

  async purgeChunk(cutoffUs: number): Promise<number> {
    return this.#mapped(() => this.#appender.purgeChunk(cutoffUs));
  }

  async optimize(): Promise<void> {
    this.#mapped(() => this.#appender.optimize());
  }

  async checkpoint(): Promise<void> {
    this.#mapped(() => this.#db.pragma('wal_checkpoint(PASSIVE)'));
  }

  /** The connection is the store's own; it closes it. */
  async close(): Promise<void> {}

  #mapped<T>(write: () => T): T {
    try {
      return write();
    } catch (err) {
      throw toStoreError(err);
    }
  }
}
