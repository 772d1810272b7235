import Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';
import type { LogRecord, StoredLogRecord } from '../../domain/log.js';
import { OmsError } from '../../domain/oms-error.js';
import type { AppendResult, LogPage, LogQuery, LogStore } from '../log-store.js';
import { WalCheckpointer } from './checkpointer.js';
import { toStoreError } from './driver-errors.js';
import {
  buildEstimateSql,
  HOURS_WITH_RECORDS_SQL,
  buildReadSql,
  isBucketed,
  LIST_FILTERS,
  listOf,
  ROWS_BY_SEQ_SQL,
  shapeKey,
  shapeOf,
  StatementCache,
  type ReadKind,
  type ReadPlan,
} from './read-query.js';
import {
  BUCKET_SQL,
  BUCKET_US,
  identityHash,
  migrateSchema,
  PAGE_SIZE_BYTES,
  recentIdsMergeThreshold,
  SCHEMA_VERSION,
} from './schema.js';

export interface SqliteLogStoreOptions {
  /** The database file; created, with its schema, when missing. Its directory must exist. */
  path: string;
  /** Page cache of this connection, in MiB. Default 256: the hot pages of every index of a busy store. */
  cacheSizeMb?: number;
  /**
   * 'normal' (default): a commit is durable once it is in the WAL file, which survives a crash of the
   * process but may be lost with the last transactions on power loss or an OS crash
   * (https://www.sqlite.org/pragma.html#pragma_synchronous, WAL mode).
   * 'full': each commit also waits for fsync of the WAL, durable against power loss, at the cost of
   * one fsync per append.
   */
  synchronous?: 'normal' | 'full';
  /** How long a write waits for another process holding the write lock (oms admin on the same file). Default 5000. */
  busyTimeoutMs?: number;
  /** Copy the WAL into the database on a worker thread (see checkpointer.ts). Default true. */
  backgroundCheckpoint?: boolean;
  /** Size of the WAL beyond which the writer checkpoints once itself. Default 64 MiB. */
  walLimitMb?: number;
  /** Open an existing store for reading only; appends and purges fail with StoreUnavailable. */
  readOnly?: boolean;
  /** Prepared read statements kept, one per query shape. Default 128. */
  statementCacheSize?: number;
  /**
   * Identities kept in log_ids_recent before they are merged into log_ids (schema.ts, point 3).
   * Default: adapts to the size of the store, about 200,000 for 2 million records.
   */
  recentIdentities?: number;
}

/** Rows deleted per purge transaction, so that appends can interleave with a long purge. */
const PURGE_CHUNK_ROWS = 5_000;
/** Beyond this many hours in a window, bucketed reads list only the hours that hold records. */
const MAX_LISTED_HOURS = 1_000;
/** Matches counted per candidate index when several indexed filters compete for a query. */
const ESTIMATE_CAP_ROWS = 2_000;

interface AppendStatements {
  readMeta: Statement<[string], number>;
  writeMeta: Statement<[number, string]>;
  knownHashes: Statement<[string], number>;
  seqsForHash: Statement<[number, number], number>;
  sameIdentity: Statement<[number, string, string], number>;
  insertIds: Statement<[string]>;
  insertRow: Statement<unknown[]>;
  mergeIds: Statement<[]>;
  clearRecentIds: Statement<[]>;
}

interface PurgeStatements {
  deleteRows: Statement<[number, number, number], { ArrivalSeq: number; AccountId: string; RequestId: string }>;
  deleteId: Statement<[number, number]>;
  deleteRecentId: Statement<[number, number]>;
}

/** A read window with its lower bound as a row-value cursor. */
interface EffectiveWindow {
  cursorDateUs: number;
  cursorSeq: number;
  /** Inclusive start of the dates to visit (for the hour list): the cursor's date. */
  startUs: number;
  toUs: number;
  /** The JSON list of hour buckets to visit, computed on first use by bucketed reads. */
  hours: string | undefined;
}

/**
 * The embedded log store. See schema.ts for the layout and the measurements behind it, read-query.ts
 * for the reads. All statements of the write path are prepared here once; read statements are
 * prepared per shape on first use and kept in a bounded cache.
 */
export class SqliteLogStore implements LogStore {
  readonly #db: Database.Database;
  readonly #readOnly: boolean;
  readonly #recentIdentities: number | undefined;
  readonly #checkpointer: WalCheckpointer | undefined;
  readonly #append: AppendStatements | undefined;
  readonly #purge: PurgeStatements | undefined;
  readonly #highWaterMark: Statement<[], number>;
  readonly #hoursWithRecords: Statement<[number, number], string>;
  readonly #rowsBySeq: Statement<[string], unknown[]>;
  readonly #reads: StatementCache<Statement<unknown[]>>;
  readonly #appendTransaction: (records: readonly LogRecord[]) => AppendResult;
  readonly #readTransaction: <T>(read: () => T) => T;
  #closed = false;
  #purgeInProgress: Promise<number> | undefined;

  constructor(options: SqliteLogStoreOptions) {
    this.#readOnly = options.readOnly ?? false;
    this.#recentIdentities =
      options.recentIdentities === undefined ? undefined : Math.max(1, Math.trunc(options.recentIdentities));
    const synchronous = options.synchronous === 'full' ? 'FULL' : 'NORMAL';
    let db: Database.Database | undefined;
    try {
      db = new Database(options.path, { readonly: this.#readOnly, fileMustExist: this.#readOnly });
    } catch (err) {
      // better-sqlite3 checks the directory itself and throws a plain TypeError when it is missing.
      const mapped = toStoreError(err);
      if (mapped.kind === 'StoreUnavailable') throw mapped;
      throw new OmsError('StoreUnavailable', 'the log store file cannot be opened', { cause: err });
    }
    try {
      db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5_000))}`);
      db.pragma(`cache_size = ${-1024 * Math.max(1, Math.trunc(options.cacheSizeMb ?? 256))}`);
      if (this.#readOnly) {
        const version = db.pragma('user_version', { simple: true }) as number;
        if (version !== SCHEMA_VERSION) {
          throw new OmsError('StoreUnavailable', 'the log store file has another schema version');
        }
      } else {
        // page_size only applies to a file without content; it must precede journal_mode=WAL, which writes the header.
        db.pragma(`page_size = ${PAGE_SIZE_BYTES}`);
        db.pragma('journal_mode = WAL');
        db.pragma(`synchronous = ${synchronous}`);
        migrateSchema(db);
      }
    } catch (err) {
      db?.close();
      throw toStoreError(err);
    }
    this.#db = db;
    this.#highWaterMark = db
      .prepare(`SELECT Value - 1 FROM store_meta WHERE Name = 'NextArrivalSeq'`)
      .pluck() as Statement<[], number>;
    this.#hoursWithRecords = db.prepare(HOURS_WITH_RECORDS_SQL).pluck() as Statement<[number, number], string>;
    this.#rowsBySeq = db.prepare(ROWS_BY_SEQ_SQL).raw(true) as Statement<[string], unknown[]>;
    this.#reads = new StatementCache(options.statementCacheSize ?? 128);
    // Reads of more than one statement (keys then rows, estimates then keys) see one snapshot.
    const inReadTransaction = db.transaction((read: () => unknown) => read());
    this.#readTransaction = <T>(read: () => T): T => inReadTransaction(read) as T;

    if (this.#readOnly) {
      this.#appendTransaction = () => {
        throw new OmsError('StoreUnavailable', 'the log store is read-only');
      };
      return;
    }
    this.#append = {
      readMeta: db.prepare('SELECT Value FROM store_meta WHERE Name = ?').pluck() as Statement<[string], number>,
      writeMeta: db.prepare('UPDATE store_meta SET Value = ? WHERE Name = ?'),
      // The hashes of a batch that some stored record already has: usually none.
      knownHashes: db
        .prepare(
          'SELECT j.value FROM json_each(?) AS j WHERE EXISTS (SELECT 1 FROM log_ids WHERE IdHash = j.value) ' +
            'OR EXISTS (SELECT 1 FROM log_ids_recent WHERE IdHash = j.value)',
        )
        .pluck() as Statement<[string], number>,
      seqsForHash: db
        .prepare(
          'SELECT ArrivalSeq FROM log_ids WHERE IdHash = ? UNION ALL SELECT ArrivalSeq FROM log_ids_recent WHERE IdHash = ?',
        )
        .pluck() as Statement<[number, number], number>,
      sameIdentity: db
        .prepare('SELECT 1 FROM logs WHERE ArrivalSeq = ? AND AccountId = ? AND RequestId = ?')
        .pluck() as Statement<[number, string, string], number>,
      // Identities of a batch in hash order: neighbouring inserts share pages.
      insertIds: db.prepare(
        'INSERT INTO log_ids_recent (IdHash, ArrivalSeq) SELECT value ->> 0, value ->> 1 FROM json_each(?) ORDER BY 1, 2',
      ),
      insertRow: db.prepare(
        'INSERT INTO logs (ArrivalSeq, AccountId, QueryDateUs, QueryCallName, QueryAccessKey, QueryIpAddress, ' +
          'ResponseStatusCode, QueryUserAgent, QueryApiName, QueryApiVersion, RequestId, CallDuration, ' +
          'QueryHeaderSize, QueryPayloadSize, ResponseSize, QueryPayloadRaw, QueryHeaderRaw) ' +
          'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      // log_ids_recent is read in primary key order, so log_ids receives one sorted run.
      mergeIds: db.prepare('INSERT INTO log_ids (IdHash, ArrivalSeq) SELECT IdHash, ArrivalSeq FROM log_ids_recent'),
      clearRecentIds: db.prepare('DELETE FROM log_ids_recent'),
    };
    this.#purge = {
      // The oldest hours first, through the time index; the hour bound makes it a range scan.
      deleteRows: db.prepare(
        'DELETE FROM logs WHERE ArrivalSeq IN (SELECT ArrivalSeq FROM logs INDEXED BY logs_by_time ' +
          `WHERE ${BUCKET_SQL} <= ? AND QueryDateUs < ? LIMIT ?) RETURNING ArrivalSeq, AccountId, RequestId`,
      ),
      deleteId: db.prepare('DELETE FROM log_ids WHERE IdHash = ? AND ArrivalSeq = ?'),
      deleteRecentId: db.prepare('DELETE FROM log_ids_recent WHERE IdHash = ? AND ArrivalSeq = ?'),
    };
    const appendBatch = db.transaction((records: readonly LogRecord[]) => this.#appendBatch(records));
    this.#appendTransaction = (records) => appendBatch.immediate(records);

    if (options.backgroundCheckpoint ?? true) {
      const walLimitBytes = Math.max(1, options.walLimitMb ?? 64) * 1024 * 1024;
      db.pragma('wal_autocheckpoint = 0');
      db.pragma(`journal_size_limit = ${walLimitBytes}`);
      this.#checkpointer = new WalCheckpointer({
        path: options.path,
        synchronous,
        walLimitBytes,
        pageSizeBytes: db.pragma('page_size', { simple: true }) as number,
      });
    }
  }

  async append(records: readonly LogRecord[]): Promise<AppendResult> {
    this.#assertOpen();
    if (records.length === 0) return { inserted: 0, duplicateIndexes: [] };
    let result: AppendResult;
    try {
      result = this.#appendTransaction(records);
    } catch (err) {
      throw toStoreError(err);
    }
    this.#afterCommit();
    return result;
  }

  async readPage(query: LogQuery): Promise<LogPage> {
    this.#assertOpen();
    if (!Number.isInteger(query.limit) || query.limit < 1) throw new RangeError('limit must be a positive integer');
    try {
      return this.#readTransaction(() => this.#readPage(query));
    } catch (err) {
      throw toStoreError(err);
    }
  }

  async count(query: Omit<LogQuery, 'after' | 'limit'>): Promise<number> {
    this.#assertOpen();
    try {
      return this.#readTransaction(() => this.#count(query));
    } catch (err) {
      throw toStoreError(err);
    }
  }

  async highWaterMark(): Promise<number> {
    this.#assertOpen();
    try {
      return this.#highWaterMark.get() ?? 0;
    } catch (err) {
      throw toStoreError(err);
    }
  }

  async purgeBefore(cutoffUs: number): Promise<number> {
    this.#assertOpen();
    if (this.#readOnly) throw new OmsError('StoreUnavailable', 'the log store is read-only');
    // One purge at a time: a second caller waits for the first and then runs its own pass.
    while (this.#purgeInProgress !== undefined) await this.#purgeInProgress.catch(() => undefined);
    this.#assertOpen();
    const running = this.#purgeAll(cutoffUs);
    this.#purgeInProgress = running;
    try {
      return await running;
    } finally {
      this.#purgeInProgress = undefined;
    }
  }

  /**
   * Reads pin their index (read-query.ts), so their plans do not depend on statistics: the bench
   * measures the same figures with none, with PRAGMA optimize's and after a full ANALYZE (2 s on 2M
   * records). Statistics still help any other query, such as an operator's in the sqlite3 shell.
   */
  async optimize(): Promise<void> {
    this.#assertOpen();
    if (this.#readOnly) return;
    try {
      // Since SQLite 3.46 this analyses, with a row limit, only the tables that changed enough to matter.
      this.#db.pragma('optimize');
    } catch (err) {
      throw toStoreError(err);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // A purge stops at its next chunk boundary once #closed is set.
    await this.#purgeInProgress?.catch(() => undefined);
    await this.#checkpointer?.close();
    this.#reads.clear();
    // Closing the last connection checkpoints the WAL and removes it.
    this.#db.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw new OmsError('StoreUnavailable', 'the log store is closed');
  }

  #afterCommit(): void {
    const checkpointer = this.#checkpointer;
    if (checkpointer === undefined) return;
    checkpointer.notifyCommit();
    if (!checkpointer.shouldCatchUp()) return;
    try {
      this.#db.pragma('wal_checkpoint(PASSIVE)');
    } catch {
      // The commit is done; the worker or the next append will checkpoint.
    }
  }

  /** Runs inside BEGIN IMMEDIATE: the counters read here cannot change until COMMIT. */
  #appendBatch(records: readonly LogRecord[]): AppendResult {
    const st = this.#append as AppendStatements;
    const n = records.length;
    let nextSeq = st.readMeta.get('NextArrivalSeq') as number;
    const mergedSeq = st.readMeta.get('MergedArrivalSeq') as number;

    const hashes = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      const record = records[i] as LogRecord;
      hashes[i] = identityHash(record.AccountId, record.RequestId);
    }
    const known = new Set(st.knownHashes.all(JSON.stringify(hashes)));
    const seqs = new Array<number>(n).fill(0);
    const firstWithHash = new Map<number, number>();
    const duplicateIndexes: number[] = [];
    const idPairs: [number, number][] = [];
    for (let i = 0; i < n; i++) {
      const record = records[i] as LogRecord;
      const hash = hashes[i] as number;
      const duplicate =
        (known.has(hash) && this.#isStored(st, hash, record)) ||
        this.#isEarlierInBatch(records, hashes, seqs, firstWithHash, i);
      if (duplicate) {
        duplicateIndexes.push(i);
        continue;
      }
      if (!firstWithHash.has(hash)) firstWithHash.set(hash, i);
      seqs[i] = nextSeq;
      idPairs.push([hash, nextSeq]);
      nextSeq++;
    }
    if (idPairs.length > 0) st.insertIds.run(JSON.stringify(idPairs));
    // Rows in arrival order: ArrivalSeq grows with the rowid, appended at the right edge of `logs`.
    for (let i = 0; i < n; i++) {
      const seq = seqs[i] as number;
      if (seq === 0) continue;
      const r = records[i] as LogRecord;
      st.insertRow.run(
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
    st.writeMeta.run(nextSeq, 'NextArrivalSeq');
    if (nextSeq - 1 - mergedSeq >= (this.#recentIdentities ?? recentIdsMergeThreshold(mergedSeq))) {
      st.mergeIds.run();
      st.clearRecentIds.run();
      st.writeMeta.run(nextSeq - 1, 'MergedArrivalSeq');
    }
    return { inserted: idPairs.length, duplicateIndexes };
  }

  /**
   * Exact check behind a hash match: a stored row with the same AccountId and RequestId. An identity
   * entry whose row was purged by another process matches no row, so it is harmless.
   */
  #isStored(st: AppendStatements, hash: number, record: LogRecord): boolean {
    for (const seq of st.seqsForHash.all(hash, hash)) {
      if (st.sameIdentity.get(seq, record.AccountId, record.RequestId) !== undefined) return true;
    }
    return false;
  }

  #isEarlierInBatch(
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

  #readPage(query: LogQuery): LogPage {
    const window = this.#effectiveWindow(query);
    if (window === undefined) return { records: [], hasMore: false };
    const plan = this.#choosePlan(query, window);
    if (!isBucketed(plan)) {
      const rows = this.#statement('page', plan, query)
        .raw(true)
        .all(...this.#bindings(plan, query, window, undefined), query.limit + 1) as unknown[][];
      const hasMore = rows.length > query.limit;
      const records = new Array<StoredLogRecord>(hasMore ? query.limit : rows.length);
      for (let i = 0; i < records.length; i++) records[i] = toStoredRecord(rows[i] as unknown[]);
      return { records, hasMore };
    }
    // Bucketed: the first limit + 1 keys over all values of the plan's filter, then those rows.
    const keys = this.#mergedKeys(plan, query, window, query.limit + 1);
    const hasMore = keys.length > query.limit;
    if (hasMore) keys.length = query.limit;
    if (keys.length === 0) return { records: [], hasMore };
    const bySeq = new Map<number, StoredLogRecord>();
    for (const row of this.#rowsBySeq.all(JSON.stringify(keys.map((k) => k[1])))) {
      const record = toStoredRecord(row);
      bySeq.set(record.ArrivalSeq, record);
    }
    const records = keys.map(([, seq]) => bySeq.get(seq) as StoredLogRecord);
    return { records, hasMore };
  }

  #count(query: Omit<LogQuery, 'after' | 'limit'>): number {
    const window = this.#effectiveWindow(query);
    if (window === undefined) return 0;
    const plan = this.#choosePlan(query, window);
    const statement = this.#statement('count', plan, query).pluck();
    if (!isBucketed(plan)) return statement.get(...this.#bindings(plan, query, window, undefined)) as number;
    let total = 0;
    for (const value of distinctValues(query, plan)) {
      total += statement.get(...this.#bindings(plan, query, window, value)) as number;
    }
    return total;
  }

  /**
   * (QueryDateUs, ArrivalSeq) of the first `limit` matches, over one keys statement per value of the
   * plan's filter. Each statement returns its keys in order; the union is sorted and cut.
   */
  #mergedKeys(plan: ReadPlan, query: LogQuery, window: EffectiveWindow, limit: number): [number, number][] {
    const statement = this.#statement('keys', plan, query).raw(true);
    const values = distinctValues(query, plan);
    let keys: [number, number][] = [];
    for (const value of values) {
      const found = statement.all(...this.#bindings(plan, query, window, value), limit) as [number, number][];
      keys = keys.length === 0 ? found : keys.concat(found);
    }
    if (values.length > 1) {
      keys.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      if (keys.length > limit) keys.length = limit;
    }
    return keys;
  }

  #statement(kind: ReadKind, plan: ReadPlan, query: Omit<LogQuery, 'after' | 'limit'>): Statement<unknown[]> {
    const shape = shapeOf(kind, plan, query);
    return this.#reads.get(shapeKey(shape), () => this.#db.prepare(buildReadSql(shape)));
  }

  /** Parameters in the order of buildReadSql (the limit excepted). */
  #bindings(
    plan: ReadPlan,
    query: Omit<LogQuery, 'after' | 'limit'>,
    window: EffectiveWindow,
    planValue: string | number | undefined,
  ): unknown[] {
    const args: unknown[] = [];
    if (plan === 'requestIds') {
      const hashes = listOf(query, 'requestIds').map((id) => identityHash(query.accountId, String(id)));
      args.push(...hashes, ...hashes);
    } else {
      args.push(this.#hoursOf(window));
    }
    const maxSeq = query.maxSeq ?? Number.MAX_SAFE_INTEGER;
    args.push(query.accountId, window.cursorDateUs, window.cursorSeq, window.toUs, maxSeq);
    for (const filter of LIST_FILTERS) {
      if (filter.key === plan && isBucketed(plan)) args.push(planValue);
      else args.push(...listOf(query, filter.key));
    }
    return args;
  }

  /** Every hour of the window, or for very long windows only the hours that hold records. */
  #hoursOf(window: EffectiveWindow): string {
    if (window.hours !== undefined) return window.hours;
    const first = Math.floor(window.startUs / BUCKET_US);
    const last = Math.floor((window.toUs - 1) / BUCKET_US);
    if (last - first < MAX_LISTED_HOURS) {
      const hours = new Array<number>(last - first + 1);
      for (let i = 0; i < hours.length; i++) hours[i] = first + i;
      window.hours = JSON.stringify(hours);
    } else {
      window.hours = this.#hoursWithRecords.get(first, last) as string;
    }
    return window.hours;
  }

  #effectiveWindow(query: LogQuery | Omit<LogQuery, 'after' | 'limit'>): EffectiveWindow | undefined {
    const after = 'after' in query ? query.after : undefined;
    let cursorDateUs = query.fromUs;
    let cursorSeq = 0;
    if (after !== undefined && after.dateUs >= query.fromUs) {
      cursorDateUs = after.dateUs;
      cursorSeq = after.seq;
    }
    if (!(cursorDateUs < query.toUs)) return undefined;
    return { cursorDateUs, cursorSeq, startUs: cursorDateUs, toUs: query.toUs, hours: undefined };
  }

  /**
   * RequestIds when given (each matches at most one record); else the most selective indexed filter,
   * by counting its matches in the window up to a cap; else the time index.
   */
  #choosePlan(query: Omit<LogQuery, 'after' | 'limit'>, window: EffectiveWindow): ReadPlan {
    if (listOf(query, 'requestIds').length > 0) return 'requestIds';
    const candidates = LIST_FILTERS.filter((f) => f.index !== undefined && listOf(query, f.key).length > 0).map(
      (f) => f.key as ReadPlan,
    );
    if (candidates.length === 0) return 'time';
    if (candidates.length === 1) return candidates[0] as ReadPlan;
    const hours = this.#hoursOf(window);
    let best = candidates[0] as ReadPlan;
    let bestCount = Infinity;
    for (const plan of candidates) {
      const statement = this.#reads.get(`estimate:${plan}`, () => this.#db.prepare(buildEstimateSql(plan))).pluck();
      let count = 0;
      for (const value of distinctValues(query, plan)) {
        count += statement.get(hours, query.accountId, value, window.startUs, window.toUs, ESTIMATE_CAP_ROWS) as number;
        if (count >= bestCount) break;
      }
      if (count < bestCount) {
        best = plan;
        bestCount = count;
      }
    }
    return best;
  }

  async #purgeAll(cutoffUs: number): Promise<number> {
    const st = this.#purge as PurgeStatements;
    const lastHour = Math.floor((cutoffUs - 1) / BUCKET_US);
    const purgeChunk = this.#db.transaction(() => {
      const deleted = st.deleteRows.all(lastHour, cutoffUs, PURGE_CHUNK_ROWS);
      for (const row of deleted) {
        const hash = identityHash(row.AccountId, row.RequestId);
        st.deleteId.run(hash, row.ArrivalSeq);
        st.deleteRecentId.run(hash, row.ArrivalSeq);
      }
      return deleted.length;
    });
    let total = 0;
    try {
      while (!this.#closed) {
        const deleted = purgeChunk.immediate();
        total += deleted;
        if (deleted > 0) this.#afterCommit();
        if (deleted < PURGE_CHUNK_ROWS) break;
        // Let appends and reads of this process run between chunks.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } catch (err) {
      throw toStoreError(err);
    }
    return total;
  }
}

function distinctValues(query: Omit<LogQuery, 'after' | 'limit'>, plan: ReadPlan): (string | number)[] {
  const filter = LIST_FILTERS.find((f) => f.key === plan);
  return filter === undefined ? [] : [...new Set(listOf(query, filter.key))];
}

/** Positions follow ROW_COLUMNS in read-query.ts. */
function toStoredRecord(row: unknown[]): StoredLogRecord {
  return {
    AccountId: row[1] as string,
    CallDuration: row[2] as number,
    QueryAccessKey: row[3] as string,
    QueryApiName: row[4] as string,
    QueryApiVersion: row[5] as string,
    QueryCallName: row[6] as string,
    QueryDateUs: row[7] as number,
    QueryHeaderRaw: row[8] as string,
    QueryHeaderSize: row[9] as number,
    QueryIpAddress: row[10] as string,
    QueryPayloadRaw: row[11] as string,
    QueryPayloadSize: row[12] as number,
    QueryUserAgent: row[13] as string,
    RequestId: row[14] as string,
    ResponseSize: row[15] as number,
    ResponseStatusCode: row[16] as number,
    ArrivalSeq: row[0] as number,
  };
}
