import Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';
import type { LogRecord, StoredLogRecord } from '../../domain/log.js';
import { OmsError } from '../../domain/oms-error.js';
import { recordsWithinBudget, type AppendResult, type LogPage, type LogQuery, type LogStore, type WireLogPage } from '../log-store.js';
import { WalCheckpointer } from './checkpointer.js';
import { toStoreError } from './driver-errors.js';
import {
  buildEstimateSql,
  HOURS_WITH_RECORDS_SQL,
  buildReadSql,
  isBucketed,
  LIST_FILTERS,
  listOf,
  rowsBySeqSql,
  shapeKey,
  shapeOf,
  StatementCache,
  TEXT_BYTES_BY_SEQ_SQL,
  WIRE_PAGE_BY_SEQ_SQL,
  type ReadKind,
  type ReadPlan,
} from './read-query.js';
import { InlineWriter, PURGE_CHUNK_ROWS, type IdentityFilterOptions, type LogWriter } from './appender.js';
import { BUCKET_US, identityHash, migrateSchema, PAGE_SIZE_BYTES, SCHEMA_VERSION } from './schema.js';
import { WriteThread } from './write-thread.js';

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
  /**
   * Writes on a worker thread with its own connection (default true), so that a commit never stalls
   * the calling thread; false writes in the calling thread, for a bulk tool with nothing else to do.
   */
  writeThread?: boolean;
  /** Open an existing store for reading only; appends and purges fail with StoreUnavailable. */
  readOnly?: boolean;
  /** Prepared read statements kept, one per query shape. Default 128. */
  statementCacheSize?: number;
  /**
   * Identities kept in log_ids_recent before they are merged into log_ids (schema.ts, point 3).
   * Default: adapts to the size of the store, about 200,000 for 2 million records.
   */
  recentIdentities?: number;
  /** Sizing of the appender's identity filter (appender.ts); tests shrink it to exercise its rebuilds. */
  identityFilter?: IdentityFilterOptions;
}

/** Beyond this many hours in a window, bucketed reads list only the hours that hold records. */
const MAX_LISTED_HOURS = 1_000;
/** Matches counted per candidate index when several indexed filters compete for a query. */
const ESTIMATE_CAP_ROWS = 2_000;

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
 * for the reads. Two connections: this thread's reads (statements prepared per shape on first use,
 * kept in a bounded cache), and the write thread's (write-thread.ts, appender.ts), which performs
 * every append, purge chunk and statistics refresh, so a commit never stalls the thread that serves
 * HTTP. In WAL mode readers see each commit as soon as it is done and never wait for the writer.
 */
export class SqliteLogStore implements LogStore {
  readonly #db: Database.Database;
  readonly #checkpointer: WalCheckpointer | undefined;
  /** Every write goes through the write thread; undefined for a read-only store. */
  readonly #writer: LogWriter | undefined;
  readonly #highWaterMark: Statement<[], number>;
  readonly #hoursWithRecords: Statement<[number, number], string>;
  readonly #pageRowsBySeq: Statement<[string], PageRow>;
  readonly #wireRowsBySeq: Statement<[string], WireRow>;
  readonly #wirePageBySeq: Statement<[string], [Buffer, string]>;
  readonly #maxRecordTextBytes: Statement<[], number>;
  readonly #textBytesBySeq: Statement<[string], number>;
  readonly #reads: StatementCache<Statement<unknown[]>>;
  readonly #readTransaction: <T>(read: () => T) => T;
  #closed = false;
  #purgeInProgress: Promise<number> | undefined;

  constructor(options: SqliteLogStoreOptions) {
    const readOnly = options.readOnly ?? false;
    const busyTimeoutMs = Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5_000));
    const cacheSizeMb = Math.max(1, Math.trunc(options.cacheSizeMb ?? 256));
    const synchronous = options.synchronous === 'full' ? 'FULL' : 'NORMAL';
    let db: Database.Database | undefined;
    try {
      db = new Database(options.path, { readonly: readOnly, fileMustExist: readOnly });
    } catch (err) {
      // better-sqlite3 checks the directory itself and throws a plain TypeError when it is missing.
      const mapped = toStoreError(err);
      if (mapped.kind === 'StoreUnavailable') throw mapped;
      throw new OmsError('StoreUnavailable', 'the log store file cannot be opened', { cause: err });
    }
    try {
      db.pragma(`busy_timeout = ${busyTimeoutMs}`);
      db.pragma(`cache_size = ${-1024 * cacheSizeMb}`);
      if (readOnly) {
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
    this.#pageRowsBySeq = db.prepare(rowsBySeqSql('page')).raw(true) as Statement<[string], PageRow>;
    this.#wireRowsBySeq = db.prepare(rowsBySeqSql('wire')).raw(true) as Statement<[string], WireRow>;
    this.#wirePageBySeq = db.prepare(WIRE_PAGE_BY_SEQ_SQL).raw(true) as Statement<[string], [Buffer, string]>;
    this.#maxRecordTextBytes = db.prepare(`SELECT Value FROM store_meta WHERE Name = 'MaxRecordTextBytes'`).pluck() as Statement<[], number>;
    this.#textBytesBySeq = db.prepare(TEXT_BYTES_BY_SEQ_SQL).pluck() as Statement<[string], number>;
    this.#reads = new StatementCache(options.statementCacheSize ?? 128);
    const inReadTransaction = db.transaction((read: () => unknown) => read());
    this.#readTransaction = <T>(read: () => T): T => inReadTransaction(read) as T;

    if (readOnly) {
      this.#writer = undefined;
      this.#checkpointer = undefined;
      return;
    }
    const walLimitBytes = Math.max(1, options.walLimitMb ?? 64) * 1024 * 1024;
    if (options.writeThread ?? true) {
      this.#writer = new WriteThread({
        path: options.path,
        synchronous,
        busyTimeoutMs,
        cacheSizeMb,
        walLimitBytes,
        recentIdentities: options.recentIdentities,
        identityFilter: options.identityFilter,
        backgroundCheckpoint: options.backgroundCheckpoint ?? true,
      });
    } else {
      if (options.backgroundCheckpoint ?? true) {
        db.pragma('wal_autocheckpoint = 0');
        db.pragma(`journal_size_limit = ${walLimitBytes}`);
      }
      this.#writer = new InlineWriter(db, { recentIdentities: options.recentIdentities, identityFilter: options.identityFilter });
    }
    if (options.backgroundCheckpoint ?? true) {
      this.#checkpointer = new WalCheckpointer({
        path: options.path,
        synchronous,
        walLimitBytes,
        pageSizeBytes: db.pragma('page_size', { simple: true }) as number,
      });
    } else {
      this.#checkpointer = undefined;
    }
  }

  async append(records: readonly LogRecord[]): Promise<AppendResult> {
    this.#assertOpen();
    if (records.length === 0) return { inserted: 0, duplicateIndexes: [] };
    const result = await this.#writable().append(records);
    this.#afterCommit();
    return result;
  }

  async readPage(query: LogQuery): Promise<LogPage> {
    return this.#read(query, () => {
      const { rows, hasMore } = this.#readPageRows(query);
      const records = new Array<StoredLogRecord>(rows.length);
      for (let i = 0; i < rows.length; i++) records[i] = toStoredRecord(rows[i] as PageRow);
      return { records, hasMore };
    });
  }

  /**
   * The page's keys, then its logs' JSON written and joined by SQLite in one value (WIRE_PAGE_BY_SEQ_SQL
   * in read-query.ts): no object, no string per log.
   */
  async readWirePage(query: LogQuery): Promise<WireLogPage> {
    return this.#read(query, () => {
      const window = this.#effectiveWindow(query);
      if (window === undefined) return { logsJson: EMPTY, count: 0, last: undefined, hasMore: false };
      const keys = this.#pageKeys(this.#choosePlan(query, window), query, window, query.limit + 1);
      let hasMore = keys.length > query.limit;
      if (hasMore) keys.length = query.limit;
      if (keys.length === 0) return { logsJson: EMPTY, count: 0, last: undefined, hasMore };
      let seqs = new Array<number>(keys.length);
      for (let i = 0; i < keys.length; i++) seqs[i] = (keys[i] as [number, number])[1];
      const fit = this.#withinBudget(query, seqs);
      if (fit < keys.length) {
        keys.length = fit;
        seqs = seqs.slice(0, fit);
        hasMore = true;
      }
      const last = keys[keys.length - 1] as [number, number];
      const seqList = JSON.stringify(seqs);
      const [joined, joinedSeqs] = this.#wirePageBySeq.get(seqList) as [Buffer, string];
      // The fallback, should SQLite ever join in another order: the logs' texts, ordered here.
      const logsJson =
        joinedSeqs === seqList ? joined : Buffer.from(inSeqOrder(seqs, this.#wireRowsBySeq.all(seqList)).map((row) => row[1]).join(','));
      return { logsJson, count: keys.length, last: { dateUs: last[0], seq: last[1] }, hasMore };
    });
  }

  #read<T>(query: LogQuery, read: () => T): T {
    this.#assertOpen();
    if (!Number.isInteger(query.limit) || query.limit < 1) throw new RangeError('limit must be a positive integer');
    try {
      // Reads of more than one statement (estimates, keys, rows) see one snapshot.
      return this.#readTransaction(read);
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
    this.#writable();
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
    await this.#writer?.optimize();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // A purge stops at its next chunk boundary once #closed is set.
    await this.#purgeInProgress?.catch(() => undefined);
    await this.#writer?.close();
    await this.#checkpointer?.close();
    this.#reads.clear();
    // Closing the last connection checkpoints the WAL and removes it.
    this.#db.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw new OmsError('StoreUnavailable', 'the log store is closed');
  }

  #writable(): LogWriter {
    if (this.#writer === undefined) throw new OmsError('StoreUnavailable', 'the log store is read-only');
    return this.#writer;
  }

  #afterCommit(): void {
    const checkpointer = this.#checkpointer;
    if (checkpointer === undefined) return;
    checkpointer.notifyCommit();
    // The commit is done whatever this says; the checkpointer or a later append will checkpoint.
    if (checkpointer.shouldCatchUp()) this.#writer?.checkpoint().catch(() => undefined);
  }

  #readPageRows(query: LogQuery): { rows: PageRow[]; hasMore: boolean } {
    const window = this.#effectiveWindow(query);
    if (window === undefined) return { rows: [], hasMore: false };
    const plan = this.#choosePlan(query, window);
    const budgeted = this.#mayPassBudget(query, query.limit);
    if (!isBucketed(plan) && !budgeted) {
      const rows = this.#statement('page', plan, query)
        .raw(true)
        .all(...this.#bindings(plan, query, window, undefined), query.limit + 1) as PageRow[];
      const hasMore = rows.length > query.limit;
      if (hasMore) rows.length = query.limit;
      return { rows, hasMore };
    }
    // Bucketed, or a page that may pass its byte budget: the first limit + 1 keys (over all values of
    // the plan's filter), the rows of those that fit.
    const keys = this.#pageKeys(plan, query, window, query.limit + 1);
    let hasMore = keys.length > query.limit;
    if (hasMore) keys.length = query.limit;
    if (keys.length === 0) return { rows: [], hasMore };
    let seqs = keys.map((k) => k[1]);
    const fit = budgeted ? this.#measuredFit(query, seqs) : seqs.length;
    if (fit < seqs.length) {
      seqs = seqs.slice(0, fit);
      hasMore = true;
    }
    return { rows: inSeqOrder(seqs, this.#pageRowsBySeq.all(JSON.stringify(seqs))), hasMore };
  }

  /**
   * Whether `count` records could pass the query's byte budget: false when no stored record is large
   * enough for that (MaxRecordTextBytes), the common case, which then costs no measuring of rows.
   */
  #mayPassBudget(query: LogQuery, count: number): boolean {
    if (query.maxBytes === undefined) return false;
    const largest = this.#maxRecordTextBytes.get();
    return largest === undefined || largest * count > query.maxBytes;
  }

  /** How many of the page's first records (by ArrivalSeq, in page order) fit the query's byte budget. */
  #withinBudget(query: LogQuery, seqs: readonly number[]): number {
    return this.#mayPassBudget(query, seqs.length) ? this.#measuredFit(query, seqs) : seqs.length;
  }

  /** The same, measuring the rows' text bytes (octet_length reads no text). */
  #measuredFit(query: LogQuery, seqs: readonly number[]): number {
    return recordsWithinBudget(this.#textBytesBySeq.all(JSON.stringify(seqs)), query.maxBytes);
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
   * (QueryDateUs, ArrivalSeq) of the first `limit` matches. Bucketed plans: one keys statement per value
   * of the plan's filter, each returning its keys in order; the union is sorted and cut.
   */
  #pageKeys(plan: ReadPlan, query: LogQuery, window: EffectiveWindow, limit: number): [number, number][] {
    const statement = this.#statement('keys', plan, query).raw(true);
    if (!isBucketed(plan)) return statement.all(...this.#bindings(plan, query, window, undefined), limit) as [number, number][];
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
    const writer = this.#writable();
    let total = 0;
    // A chunk per message: appends sent meanwhile are committed between two chunks.
    while (!this.#closed) {
      const deleted = await writer.purgeChunk(cutoffUs);
      total += deleted;
      if (deleted > 0) this.#afterCommit();
      if (deleted < PURGE_CHUNK_ROWS) break;
    }
    return total;
  }
}

function distinctValues(query: Omit<LogQuery, 'after' | 'limit'>, plan: ReadPlan): (string | number)[] {
  const filter = LIST_FILTERS.find((f) => f.key === plan);
  return filter === undefined ? [] : [...new Set(listOf(query, filter.key))];
}

const EMPTY = Buffer.alloc(0);

/**
 * `rows` (ArrivalSeq first, read in any order) in the order of `seqs`. Keys and rows are read in one
 * transaction: a key without its row is a bug, not a gap to skip.
 */
export function inSeqOrder<R extends readonly [number, ...unknown[]]>(seqs: readonly number[], rows: Iterable<R>): R[] {
  const bySeq = new Map<number, R>();
  for (const row of rows) bySeq.set(row[0], row);
  const ordered = new Array<R>(seqs.length);
  for (let i = 0; i < seqs.length; i++) {
    const row = bySeq.get(seqs[i] as number);
    if (row === undefined) throw new Error(`no row for ArrivalSeq ${seqs[i]}`);
    ordered[i] = row;
  }
  return ordered;
}

/** A row of rowsBySeqSql('wire'): ArrivalSeq, the log's JSON text. */
type WireRow = [number, string];

/** A page row, in the order of ROW_COLUMNS (read-query.ts). */
type PageRow = [number, string, number, string, string, string, string, number, string, number, string, string, number, string, string, number, number];

function toStoredRecord(row: PageRow): StoredLogRecord {
  return {
    AccountId: row[1],
    CallDuration: row[2],
    QueryAccessKey: row[3],
    QueryApiName: row[4],
    QueryApiVersion: row[5],
    QueryCallName: row[6],
    QueryDateUs: row[7],
    QueryHeaderRaw: row[8],
    QueryHeaderSize: row[9],
    QueryIpAddress: row[10],
    QueryPayloadRaw: row[11],
    QueryPayloadSize: row[12],
    QueryUserAgent: row[13],
    RequestId: row[14],
    ResponseSize: row[15],
    ResponseStatusCode: row[16],
    ArrivalSeq: row[0],
  };
}
