/**
 * The SQL of reads. Every value is a literal escaped by the type of its column (literals.ts): 18.16
 * has no query parameters.
 *
 * A page is read in two queries, keys first:
 *   1. keys   (QueryDateUs, ArrivalSeq) of the first limit + 1 matches after the cursor: reads only the
 *             sort key and the filtered columns of the account's range of the primary index.
 *   2. rows   the 16 fields of those keys, found through the primary index by (AccountId, date, seq).
 * On 18.16 a single `SELECT <all columns> ... ORDER BY ... LIMIT 100` decompresses the wide text
 * columns (QueryHeaderRaw, QueryPayloadRaw) of every row of the range before sorting (no
 * optimize_read_in_order before 19.14): 50-100 ms at p50 on 2M records, against 20-25 ms for the
 * two queries (figures in BENCHMARKS.md).
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

export function buildKeysSql(table: string, condition: string, limit: number): string {
  return (
    `SELECT QueryDateUs, ArrivalSeq FROM ${table} WHERE ${condition} ` +
    `ORDER BY QueryDateUs, ArrivalSeq LIMIT 1 BY QueryDateUs, ArrivalSeq LIMIT ${integerLiteral(limit, 1)}`
  );
}

/** The rows of `keys` (all of one account), in no particular order, each once. */
export function buildRowsSql(table: string, accountId: string, keys: readonly [number, number][]): string {
  let minDate = Infinity;
  let maxDate = -Infinity;
  const dates = new Set<number>();
  for (const [date] of keys) {
    dates.add(date);
    if (date < minDate) minDate = date;
    if (date > maxDate) maxDate = date;
  }
  const pairs = keys.map(([date, seq]) => `(${integerLiteral(date)}, ${integerLiteral(seq, 0)})`).join(', ');
  return (
    `SELECT ${ROW_COLUMNS_SQL} FROM ${table} WHERE AccountId = ${stringLiteral(accountId)} ` +
    `AND QueryDateUs >= ${integerLiteral(minDate)} AND QueryDateUs <= ${integerLiteral(maxDate)} ` +
    `AND QueryDateUs IN ${listLiteral('Int64', [...dates])} AND (QueryDateUs, ArrivalSeq) IN (${pairs}) ` +
    `LIMIT 1 BY ArrivalSeq`
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
