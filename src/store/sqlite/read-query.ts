/**
 * The SQL of reads: a few fixed shapes, each a pure function of (kind, plan, lengths of the filter
 * lists). Every value is a bound parameter, lists included (`IN (?, ?, ?)`); nothing from a query is
 * ever written into the SQL text, so a shape's text is the same for every caller and its prepared
 * statement can be cached (StatementCache, bounded).
 *
 * Plans are chosen in code (choosePlan in sqlite-log-store.ts) and pinned with INDEXED BY. Left to
 * itself, with sqlite_stat4 present, the SQLite planner picked the time index and a full sort for
 * small accounts (p99 47-72 ms on 2M records) and the call index for "common call AND status 500"
 * (p99 300 ms).
 *
 *   time        logs_by_time (hour, AccountId, QueryDateUs[, ArrivalSeq]), hour by hour: window
 *               only, or only unindexed filters (QueryUserAgents, QueryApiNames). Rows directly.
 *   requestIds  log_ids + log_ids_recent by identity hash, then rows by ArrivalSeq. Rows directly.
 *   <filter>    logs_by_<filter> (hour, AccountId, value, QueryDateUs[, ArrivalSeq]), one "keys"
 *               statement per value of the filter's list: with `value = ?` and the hours of the window
 *               as a JSON list, SQLite seeks (hour, account, value) hour after hour and returns
 *               (QueryDateUs, ArrivalSeq) already in order, from the index alone when no other filter
 *               is given. The store merges the keys of all values, keeps the first `limit + 1` and
 *               reads those rows by ArrivalSeq. A single `value IN (?, ?)` statement would sort within
 *               each hour, and once statistics existed SQLite chose to seek (hour, account) only and
 *               scan every entry of the hour: a rare call name over 32 days of the large account took
 *               80 ms instead of 2.
 */
import { BUCKET_SQL, TEXT_BYTES_SQL } from './schema.js';
import type { LogQuery } from '../log-store.js';

export type ListFilterKey = 'callNames' | 'accessKeys' | 'apiNames' | 'ipAddresses' | 'userAgents' | 'requestIds' | 'statusCodes';

export interface ListFilter {
  key: ListFilterKey;
  column: string;
  /** The bucketed index that serves this filter, if any. */
  index: string | undefined;
}

/** The seven list filters of LogQuery, in the order their values are bound. */
export const LIST_FILTERS: readonly ListFilter[] = [
  { key: 'callNames', column: 'QueryCallName', index: 'logs_by_call' },
  { key: 'accessKeys', column: 'QueryAccessKey', index: 'logs_by_key' },
  { key: 'apiNames', column: 'QueryApiName', index: undefined },
  { key: 'ipAddresses', column: 'QueryIpAddress', index: 'logs_by_ip' },
  { key: 'userAgents', column: 'QueryUserAgent', index: undefined },
  { key: 'requestIds', column: 'RequestId', index: undefined },
  { key: 'statusCodes', column: 'ResponseStatusCode', index: 'logs_by_status' },
];

/** 'time', 'requestIds', or the key of a list filter with a bucketed index. */
export type ReadPlan = 'time' | 'requestIds' | 'callNames' | 'accessKeys' | 'ipAddresses' | 'statusCodes';

/**
 * page: rows, ordered, LIMIT (time and requestIds plans).
 * keys: (QueryDateUs, ArrivalSeq), ordered, LIMIT; for a bucketed plan, of one value of its filter.
 * count: count(*) (for a bucketed plan, of one value).
 */
export type ReadKind = 'page' | 'keys' | 'count';

export interface ReadShape {
  kind: ReadKind;
  plan: ReadPlan;
  /** Length of each list of LIST_FILTERS, 0 when absent or empty; 1 for the plan's own filter. */
  lengths: readonly number[];
}

/** Column order of page rows; `toStoredRecord` in the store reads them by position. */
export const ROW_COLUMNS =
  'ArrivalSeq, AccountId, CallDuration, QueryAccessKey, QueryApiName, QueryApiVersion, QueryCallName, ' +
  'QueryDateUs, QueryHeaderRaw, QueryHeaderSize, QueryIpAddress, QueryPayloadRaw, QueryPayloadSize, ' +
  'QueryUserAgent, RequestId, ResponseSize, ResponseStatusCode';

// The microseconds within the second, and the whole seconds, of QueryDateUs, both rounded down for
// dates before 1970 too (SQLite's % and / truncate towards zero).
const MICROS_SQL = '((QueryDateUs % 1000000) + 1000000) % 1000000';
/** QueryDate as `2021-08-11T09:55:02.842375Z`, formatIsoUs in SQL (years 0000 to 9999, what records can hold). */
export const ISO_DATE_SQL =
  `strftime('%Y-%m-%dT%H:%M:%S', (QueryDateUs - ${MICROS_SQL}) / 1000000, 'unixepoch') || printf('.%06dZ', ${MICROS_SQL})`;

/**
 * A log's wire JSON, built by SQLite: the same text as JSON.stringify(toWireLog(record)) (json_object
 * escapes as JSON.stringify does and keeps the key order; SQLite strings are valid UTF-8, so no lone
 * surrogate can need escaping).
 */
export const WIRE_JSON_SQL =
  `json_object('AccountId', AccountId, 'CallDuration', CallDuration, ` +
  `'QueryAccessKey', QueryAccessKey, 'QueryApiName', QueryApiName, 'QueryApiVersion', QueryApiVersion, ` +
  `'QueryCallName', QueryCallName, 'QueryDate', ${ISO_DATE_SQL}, 'QueryHeaderRaw', QueryHeaderRaw, ` +
  `'QueryHeaderSize', QueryHeaderSize, 'QueryIpAddress', QueryIpAddress, 'QueryPayloadRaw', QueryPayloadRaw, ` +
  `'QueryPayloadSize', QueryPayloadSize, 'QueryUserAgent', QueryUserAgent, 'RequestId', RequestId, ` +
  `'ResponseSize', ResponseSize, 'ResponseStatusCode', ResponseStatusCode)`;

/** Rows by ArrivalSeq, in no particular order. Parameter: a JSON list of ArrivalSeq. */
export function rowsBySeqSql(kind: 'page' | 'wire'): string {
  const columns = kind === 'page' ? ROW_COLUMNS : `ArrivalSeq, ${WIRE_JSON_SQL}`;
  return `SELECT ${columns} FROM logs WHERE ArrivalSeq IN (SELECT value FROM json_each(?))`;
}

/**
 * A whole page's wire JSON in one value: the logs of a JSON list of ArrivalSeq, in the list's order,
 * their texts joined by commas, as a BLOB (a Buffer in JavaScript: the UTF-8 bytes of the answer as
 * they are, no string per log, no join, no encoding); then the ArrivalSeq in the order they were joined.
 * CROSS JOIN makes the list the outer loop, so rows are visited, and aggregated, in its order; SQLite
 * documents the order of group_concat as arbitrary, so the caller compares the second column with the
 * list it sent and falls back to rowsBySeqSql('wire') if they ever differ. group_concat's own ORDER BY
 * would guarantee it, at the cost of sorting the 1 MB of a 1000-log page. From the statements to the
 * answer's bytes, 1000-log window-only pages of a 2M-record store (same process, alternating, 300 windows,
 * p50): this way 2.96-3.03 ms, keys and order check included (2.89-2.96 without the check); with
 * group_concat's ORDER BY 5.09-5.36; a JSON text per row, joined and encoded in JavaScript (the way
 * before), 4.07-4.31; a BLOB per row, 3.76-3.86.
 */
export const WIRE_PAGE_BY_SEQ_SQL =
  `SELECT CAST(group_concat(j, ',') AS BLOB), json_group_array(s) FROM (` +
  `SELECT logs.ArrivalSeq AS s, ${WIRE_JSON_SQL} AS j FROM json_each(?) AS k CROSS JOIN logs ON logs.ArrivalSeq = k.value)`;

/** The text bytes of the logs of a JSON list of ArrivalSeq, in the list's order (a budgeted page's cut). */
export const TEXT_BYTES_BY_SEQ_SQL =
  `SELECT ${TEXT_BYTES_SQL} FROM json_each(?) AS k CROSS JOIN logs ON logs.ArrivalSeq = k.value ORDER BY k.key`;

export function listOf(query: Omit<LogQuery, 'after' | 'limit'>, key: ListFilterKey): readonly (string | number)[] {
  return query[key] ?? [];
}

export function isBucketed(plan: ReadPlan): boolean {
  return plan !== 'time' && plan !== 'requestIds';
}

export function shapeOf(kind: ReadKind, plan: ReadPlan, query: Omit<LogQuery, 'after' | 'limit'>): ReadShape {
  return {
    kind,
    plan,
    lengths: LIST_FILTERS.map((f) => (f.key === plan && isBucketed(plan) ? 1 : listOf(query, f.key).length)),
  };
}

export function shapeKey(shape: ReadShape): string {
  return `${shape.kind}:${shape.plan}:${shape.lengths.join(',')}`;
}

function placeholders(n: number): string {
  return new Array<string>(n).fill('?').join(', ');
}

function indexOf(plan: ReadPlan): string {
  const filter = LIST_FILTERS.find((f) => f.key === plan);
  if (filter?.index === undefined) throw new RangeError(`no index for plan ${plan}`);
  return filter.index;
}

/**
 * Parameters, in order:
 *   bucketed plans   the JSON list of hour buckets
 *   requestIds       the identity hashes, twice (log_ids, then log_ids_recent)
 *   all              AccountId, cursor QueryDateUs, cursor ArrivalSeq, toUs, maxSeq,
 *                    then the values of each non-empty list in LIST_FILTERS order
 *                    (for a bucketed plan, its own filter takes one value)
 *   page, keys       the row limit
 * The lower bound is one row-value comparison: the first page passes (fromUs, 0), which is
 * QueryDateUs >= fromUs since ArrivalSeq starts at 1; later pages pass the cursor. A single lower bound
 * lets SQLite start its index range exactly there, so deep pages cost what the first one does.
 */
export function buildReadSql(shape: ReadShape): string {
  const where: string[] = [];
  let from: string;
  let order: string;
  if (shape.plan === 'requestIds') {
    const n = shape.lengths[LIST_FILTERS.findIndex((f) => f.key === 'requestIds')] ?? 0;
    from = 'logs NOT INDEXED';
    where.push(
      `ArrivalSeq IN (SELECT ArrivalSeq FROM log_ids WHERE IdHash IN (${placeholders(n)}) ` +
        `UNION ALL SELECT ArrivalSeq FROM log_ids_recent WHERE IdHash IN (${placeholders(n)}))`,
    );
    order = 'QueryDateUs, ArrivalSeq';
  } else {
    if (shape.plan !== 'time' && shape.kind === 'page') throw new RangeError('a filter plan reads keys');
    from = `logs INDEXED BY ${shape.plan === 'time' ? 'logs_by_time' : indexOf(shape.plan)}`;
    where.push(`${BUCKET_SQL} IN (SELECT value FROM json_each(?))`);
    // The hour is a non-decreasing function of QueryDateUs: this is the (QueryDateUs, ArrivalSeq)
    // order, in the words of the index, so SQLite reads it in order and sorts nothing.
    order = `${BUCKET_SQL}, QueryDateUs, ArrivalSeq`;
  }
  where.push('AccountId = ?', '(QueryDateUs, ArrivalSeq) > (?, ?)', 'QueryDateUs < ?', 'ArrivalSeq <= ?');
  LIST_FILTERS.forEach((filter, i) => {
    const n = shape.lengths[i] ?? 0;
    if (filter.key === shape.plan && isBucketed(shape.plan)) where.push(`${filter.column} = ?`);
    else if (n > 0) where.push(`${filter.column} IN (${placeholders(n)})`);
  });
  const condition = where.join(' AND ');
  if (shape.kind === 'count') return `SELECT count(*) FROM ${from} WHERE ${condition}`;
  const columns = shape.kind === 'keys' ? 'QueryDateUs, ArrivalSeq' : ROW_COLUMNS;
  return `SELECT ${columns} FROM ${from} WHERE ${condition} ORDER BY ${order} LIMIT ?`;
}

/**
 * How many rows of one bucketed index match one value in the window, counting no further than a
 * cap: enough to tell a selective filter from a common one. Reads the index only.
 * Parameters: hours JSON, AccountId, the value, fromUs, toUs, the cap.
 */
export function buildEstimateSql(plan: ReadPlan): string {
  const filter = LIST_FILTERS.find((f) => f.key === plan);
  if (filter?.index === undefined) throw new RangeError(`no index for plan ${plan}`);
  return (
    `SELECT count(*) FROM (SELECT 1 FROM logs INDEXED BY ${filter.index} ` +
    `WHERE ${BUCKET_SQL} IN (SELECT value FROM json_each(?)) AND AccountId = ? AND ${filter.column} = ? ` +
    `AND QueryDateUs >= ? AND QueryDateUs < ? LIMIT ?)`
  );
}

/**
 * The JSON list of the hour buckets in [firstHour, lastHour] that hold any record, by a loose scan
 * of logs_by_time (one seek per such hour). Used instead of listing every hour when a window spans
 * far more than a month: a store holding one record dated 1970 and one dated 2200 would otherwise
 * make a window over both list two million hours. Parameters: firstHour, lastHour.
 */
export const HOURS_WITH_RECORDS_SQL =
  `WITH RECURSIVE hours(h, last) AS (` +
  `SELECT (SELECT ${BUCKET_SQL} FROM logs INDEXED BY logs_by_time WHERE ${BUCKET_SQL} >= ? ORDER BY 1 LIMIT 1), ? ` +
  `UNION ALL SELECT (SELECT ${BUCKET_SQL} FROM logs INDEXED BY logs_by_time WHERE ${BUCKET_SQL} > hours.h ORDER BY 1 LIMIT 1), last ` +
  `FROM hours WHERE hours.h < last) ` +
  `SELECT json_group_array(h) FROM hours WHERE h IS NOT NULL AND h <= last`;

/** A bounded map of prepared statements, least recently used evicted first (Map keeps insertion order). */
export class StatementCache<S> {
  readonly #entries = new Map<string, S>();
  readonly #capacity: number;

  constructor(capacity: number) {
    this.#capacity = Math.max(1, capacity);
  }

  get(key: string, prepare: () => S): S {
    const hit = this.#entries.get(key);
    if (hit !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, hit);
      return hit;
    }
    const created = prepare();
    this.#entries.set(key, created);
    if (this.#entries.size > this.#capacity) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
    return created;
  }

  get size(): number {
    return this.#entries.size;
  }

  clear(): void {
    this.#entries.clear();
  }
}
