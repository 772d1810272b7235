import { wireLogJson, type LogRecord, type StoredLogRecord } from '../domain/log.js';

/**
 * The replaceable store of log records. SQLite (embedded) implements it now; ClickHouse will.
 * Every implementation passes test/store/log-store.suite.ts unchanged.
 *
 * Order: records are read by (QueryDateUs, ArrivalSeq). ArrivalSeq is assigned by the store when a
 * record is first appended, strictly increasing in arrival order, so ties on QueryDate keep arrival
 * order and (QueryDateUs, ArrivalSeq) is a total order usable as a keyset cursor. (A store written by
 * several processes at once, ClickHouse with several replicas, orders each writer's records by arrival
 * and different writers' by the millisecond they arrived: see store/clickhouse/arrival-sequence.ts.)
 */
export interface LogStore {
  /**
   * Appends records, idempotently on (AccountId, RequestId): a record whose identity is already stored
   * (or appears earlier in the same batch) is not stored again and is reported in `duplicateIndexes`.
   * When the promise resolves, the inserted records are durable.
   * Throws OmsError('StoreUnavailable') when the store cannot take writes.
   */
  append(records: readonly LogRecord[]): Promise<AppendResult>;

  /** One page of records matching `query`, oldest first. */
  readPage(query: LogQuery): Promise<LogPage>;

  /**
   * The same page as `readPage`, each log already in wire form: the JSON text ReadApiLogs sends for it.
   * This is the read path of every default ReadApiLogs call; a store that keeps the wire form answers
   * without building an object per record. `wirePageOf(await this.readPage(query))` is a correct
   * implementation for a store that does not.
   */
  readWirePage(query: LogQuery): Promise<WireLogPage>;

  /** The highest ArrivalSeq stored so far (0 when empty): the snapshot bound of a paging session. */
  highWaterMark(): Promise<number>;

  /** Counts the records matching `query` (ignores `after` and `limit`). For tests, metrics and tools. */
  count(query: Omit<LogQuery, 'after' | 'limit'>): Promise<number>;

  /** Deletes every record whose QueryDateUs is before `cutoffUs`; returns how many were deleted. */
  purgeBefore(cutoffUs: number): Promise<number>;

  /** Refreshes planner statistics, if the implementation has any. Cheap enough to run periodically. */
  optimize(): Promise<void>;

  /** Flushes and releases resources. Appends in flight complete first. */
  close(): Promise<void>;
}

/** What a writer needs of a store: appends alone (a store, or a writer thread in front of one). */
export type LogAppender = Pick<LogStore, 'append'>;

export interface AppendResult {
  inserted: number;
  /** Indexes, in the input array, of records that were already stored. */
  duplicateIndexes: number[];
}

/** A position in the (QueryDateUs, ArrivalSeq) order: the last record of the previous page. */
export interface LogCursor {
  dateUs: number;
  seq: number;
}

/**
 * What to read. Every list is OR within itself; lists combine with AND; an empty or absent list is no
 * constraint. The window is [fromUs, toUs).
 */
export interface LogQuery {
  accountId: string;
  fromUs: number;
  toUs: number;
  /** Only records with ArrivalSeq <= maxSeq (the snapshot taken when paging began). */
  maxSeq?: number;
  callNames?: readonly string[];
  accessKeys?: readonly string[];
  apiNames?: readonly string[];
  ipAddresses?: readonly string[];
  userAgents?: readonly string[];
  requestIds?: readonly string[];
  statusCodes?: readonly number[];
  /** Start strictly after this position. */
  after?: LogCursor;
  /** Page size, 1..1000. */
  limit: number;
  /**
   * A byte budget for the page: it ends before the first record that would take the sum of its
   * records' text bytes (recordTextBytes) past maxBytes, and then has hasMore true. Its first record is
   * always returned, whatever its size. Absent: `limit` alone decides. Keeps the memory of one read, and
   * the size of one answer, bounded when records carry large raw fields.
   */
  maxBytes?: number;
}

export interface LogPage {
  records: StoredLogRecord[];
  /** true when at least one more record matches after the last one returned. */
  hasMore: boolean;
}

export interface WireLogPage {
  /**
   * `wireLogJson(record)` of each record of the page, in page order (16 fields in Log order), joined by
   * commas, as UTF-8: the bytes that go between the brackets of `"Logs":[...]`. Empty for no record.
   */
  logsJson: Buffer;
  /** How many logs `logsJson` holds. */
  count: number;
  /** The position of the last log of the page, for the next page's cursor; undefined when empty. */
  last: LogCursor | undefined;
  hasMore: boolean;
}

/**
 * The byte budget of one page (LogQuery.maxBytes), filled record by record in page order: a record is
 * taken while the text bytes taken stay within the budget, and the first is always taken, so that
 * paging always moves on. The one definition of the cut, for every store.
 */
export class PageBudget {
  #left: number;
  #taken = 0;

  constructor(maxBytes: number | undefined) {
    this.#left = maxBytes ?? Number.POSITIVE_INFINITY;
  }

  /** Takes the next record of `textBytes` if it fits; false ends the page before it. */
  take(textBytes: number): boolean {
    if (this.#taken > 0 && textBytes > this.#left) return false;
    this.#left -= textBytes;
    this.#taken++;
    return true;
  }
}

/** How many of a page's first records fit `maxBytes`, from their text bytes in page order. */
export function recordsWithinBudget(textBytes: readonly number[], maxBytes: number | undefined): number {
  const budget = new PageBudget(maxBytes);
  let fit = 0;
  while (fit < textBytes.length && budget.take(textBytes[fit] as number)) fit++;
  return fit;
}

/** The wire form of a page read as records. */
export function wirePageOf(page: LogPage): WireLogPage {
  const logs = new Array<string>(page.records.length);
  for (let i = 0; i < logs.length; i++) logs[i] = wireLogJson(page.records[i] as StoredLogRecord);
  const last = page.records[page.records.length - 1];
  return {
    logsJson: Buffer.from(logs.join(',')),
    count: logs.length,
    last: last === undefined ? undefined : { dateUs: last.QueryDateUs, seq: last.ArrivalSeq },
    hasMore: page.hasMore,
  };
}
