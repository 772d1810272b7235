/**
 * The SQL of reads. Every value is a literal escaped by the type of its column (literals.ts): 18.16
 * has no query parameters.
 *
 * A page is one query that selects keys first:
 *   inner   (QueryDateUs, ArrivalSeq) of the first limit + 1 matches after the cursor: reads only the
 *           sort key and the filtered columns of the account's range of the primary index;
 *   outer   the 16 fields of the rows whose key is in that set: ClickHouse builds the set first and
 *           uses it in the primary index analysis, so only the granules holding those rows are read.
 * On 18.16 a plain `SELECT <all columns> ... ORDER BY ... LIMIT 100` decompresses the wide text
 * columns (QueryHeaderRaw, QueryPayloadRaw) of every row of the range before sorting (no
 * optimize_read_in_order before 19.14): on 100,000 records, a 48-hour window of the big account read
 * 5.3 MB in 10-50 ms, against 0.2 MB for the keys and 0.1 MB for the rows, 2-4 ms in all. One query
 * rather than two saves a round trip (figures in BENCHMARKS.md).
 *
 * Identical rows (a copy left by a retried insert, same ArrivalSeq) are collapsed by LIMIT 1 BY on
 * the sort key until a merge removes them; two different records never share an ArrivalSeq.
 */
import type { LogQuery } from '../log-store.js';
import { integerLiteral, listLiteral, stringLiteral, type LiteralType } from './literals.js';
import { ROW_COLUMNS_SQL } from './schema.js';

type ListKey = 'callNames' | 'accessKeys' | 'apiNames' | 'ipAddresses' | 'userAgents' | 'requestIds' | 'statusCodes';

/** The seven list filters of LogQuery with their column and its declared type. */
const LIST_FILTERS: readonly { key: ListKey; column: string; type: LiteralType }[] = [
  { key: 'callNames', column: 'QueryCallName', type: 'String' },
  { key: 'accessKeys', column: 'QueryAccessKey', type: 'String' },
  { key: 'apiNames', column: 'QueryApiName', type: 'String' },
  { key: 'ipAddresses', column: 'QueryIpAddress', type: 'String' },
  { key: 'userAgents', column: 'QueryUserAgent', type: 'String' },
  { key: 'requestIds', column: 'RequestId', type: 'String' },
  { key: 'statusCodes', column: 'ResponseStatusCode', type: 'UInt16' },
];

/** A retention cutoff still in force: rows dated before cutoffUs with ArrivalSeq <= maxSeq are gone. */
export interface PurgeEntry {
  cutoffUs: number;
  maxSeq: number;
}

/**
 * The WHERE clause of a query, or undefined when nothing can match (an empty window, or a list
 * whose values no stored row can hold, such as a status code outside UInt16).
 */
export function buildCondition(
  query: Omit<LogQuery, 'limit'>,
  purges: readonly PurgeEntry[],
): string | undefined {
  let cursorDateUs = query.fromUs;
  let cursorSeq = -1;
  if (query.after !== undefined && query.after.dateUs >= query.fromUs) {
    cursorDateUs = query.after.dateUs;
    cursorSeq = query.after.seq;
  }
  if (!(cursorDateUs < query.toUs)) return undefined;
  const where = [
    `AccountId = ${stringLiteral(query.accountId)}`,
    `QueryDateUs >= ${integerLiteral(clampDate(cursorDateUs))}`,
    `QueryDateUs < ${integerLiteral(clampDate(query.toUs))}`,
  ];
  // The keyset lower bound (QueryDateUs, ArrivalSeq) > cursor, split so the index sees the date bound.
  if (cursorSeq >= 0) where.push(`(QueryDateUs > ${integerLiteral(clampDate(cursorDateUs))} OR ArrivalSeq > ${integerLiteral(Math.max(0, cursorSeq))})`);
  if (query.maxSeq !== undefined) {
    if (query.maxSeq < 1) return undefined;
    where.push(`ArrivalSeq <= ${integerLiteral(Math.min(query.maxSeq, Number.MAX_SAFE_INTEGER))}`);
  }
  for (const filter of LIST_FILTERS) {
    const values = query[filter.key];
    if (values === undefined || values.length === 0) continue;
    const usable = [...new Set<string | number>(values)].filter((v) => fitsColumn(filter.type, v));
    if (usable.length === 0) return undefined;
    where.push(`${filter.column} IN ${listLiteral(filter.type, usable)}`);
  }
  const dead = purgeCondition(purges);
  if (dead !== undefined) where.push(`NOT (${dead})`);
  return where.join(' AND ');
}

/** Rows hidden by retention cutoffs whose partitions are not dropped yet. */
export function purgeCondition(purges: readonly PurgeEntry[]): string | undefined {
  if (purges.length === 0) return undefined;
  return purges
    .map((p) => `(QueryDateUs < ${integerLiteral(clampDate(p.cutoffUs))} AND ArrivalSeq <= ${integerLiteral(p.maxSeq, 0)})`)
    .join(' OR ');
}

/** Up to `limit` rows matching `condition`, in (QueryDateUs, ArrivalSeq) order, each once. */
export function buildPageSql(table: string, condition: string, limit: number): string {
  const keys =
    `SELECT QueryDateUs, ArrivalSeq FROM ${table} WHERE ${condition} ` +
    `ORDER BY QueryDateUs, ArrivalSeq LIMIT 1 BY QueryDateUs, ArrivalSeq LIMIT ${integerLiteral(limit, 1)}`;
  return (
    `SELECT ${ROW_COLUMNS_SQL} FROM ${table} WHERE ${condition} AND (QueryDateUs, ArrivalSeq) IN (${keys}) ` +
    `ORDER BY QueryDateUs, ArrivalSeq LIMIT 1 BY QueryDateUs, ArrivalSeq`
  );
}

export function buildCountSql(table: string, condition: string): string {
  return `SELECT uniqExact(ArrivalSeq) FROM ${table} WHERE ${condition}`;
}

function fitsColumn(type: LiteralType, value: string | number): boolean {
  if (type === 'String') return typeof value === 'string';
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && (type !== 'UInt16' || value <= 65_535);
}

/** Dates outside the safe range cannot be stored; bounds beyond it mean "no bound". */
function clampDate(us: number): number {
  if (us >= Number.MAX_SAFE_INTEGER) return Number.MAX_SAFE_INTEGER;
  if (us <= Number.MIN_SAFE_INTEGER) return Number.MIN_SAFE_INTEGER;
  return Math.trunc(us);
}
