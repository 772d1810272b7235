import { formatIsoUs } from './time.js';

/**
 * The log record, with the field names and types of `Log` in the OUTSCALE API description
 * (reference/outscale-api-readapilogs.yaml). The names stay PascalCase end to end, store columns included.
 */
export const LOG_FIELDS = [
  'AccountId',
  'CallDuration',
  'QueryAccessKey',
  'QueryApiName',
  'QueryApiVersion',
  'QueryCallName',
  'QueryDate',
  'QueryHeaderRaw',
  'QueryHeaderSize',
  'QueryIpAddress',
  'QueryPayloadRaw',
  'QueryPayloadSize',
  'QueryUserAgent',
  'RequestId',
  'ResponseSize',
  'ResponseStatusCode',
] as const;

export type LogField = (typeof LOG_FIELDS)[number];

/** A log as it travels on the wire: QueryDate is `2021-08-11T09:55:02.842375Z`. */
export interface Log {
  AccountId: string;
  CallDuration: number;
  QueryAccessKey: string;
  QueryApiName: string;
  QueryApiVersion: string;
  QueryCallName: string;
  QueryDate: string;
  QueryHeaderRaw: string;
  QueryHeaderSize: number;
  QueryIpAddress: string;
  QueryPayloadRaw: string;
  QueryPayloadSize: number;
  QueryUserAgent: string;
  RequestId: string;
  ResponseSize: number;
  ResponseStatusCode: number;
}

/**
 * A log as the stores keep it: the same fields, QueryDate as integer microseconds since the epoch
 * (exact, sortable, and what both SQLite and ClickHouse 18.16 can hold without DateTime64).
 */
export interface LogRecord extends Omit<Log, 'QueryDate'> {
  QueryDateUs: number;
}

/** A stored record with its arrival sequence: the tie-breaker for records sharing a QueryDate. */
export interface StoredLogRecord extends LogRecord {
  ArrivalSeq: number;
}

/** The wire Log of a stored record, all 16 fields, in the order of the Log schema. */
export function toWireLog(r: LogRecord): Log {
  return {
    AccountId: r.AccountId,
    CallDuration: r.CallDuration,
    QueryAccessKey: r.QueryAccessKey,
    QueryApiName: r.QueryApiName,
    QueryApiVersion: r.QueryApiVersion,
    QueryCallName: r.QueryCallName,
    QueryDate: formatIsoUs(r.QueryDateUs),
    QueryHeaderRaw: r.QueryHeaderRaw,
    QueryHeaderSize: r.QueryHeaderSize,
    QueryIpAddress: r.QueryIpAddress,
    QueryPayloadRaw: r.QueryPayloadRaw,
    QueryPayloadSize: r.QueryPayloadSize,
    QueryUserAgent: r.QueryUserAgent,
    RequestId: r.RequestId,
    ResponseSize: r.ResponseSize,
    ResponseStatusCode: r.ResponseStatusCode,
  };
}

/** The JSON text of a record's wire Log, as ReadApiLogs sends it (16 fields in Log order). */
export function wireLogJson(r: LogRecord): string {
  return JSON.stringify(toWireLog(r));
}

export const STRING_FIELDS = [
  'AccountId',
  'QueryAccessKey',
  'QueryApiName',
  'QueryApiVersion',
  'QueryCallName',
  'QueryHeaderRaw',
  'QueryIpAddress',
  'QueryPayloadRaw',
  'QueryUserAgent',
  'RequestId',
] as const satisfies readonly LogField[];

export const INTEGER_FIELDS = [
  'CallDuration',
  'QueryHeaderSize',
  'QueryPayloadSize',
  'ResponseSize',
  'ResponseStatusCode',
] as const satisfies readonly LogField[];

/**
 * The text bytes of a record: the UTF-8 bytes of its string fields, what page byte budgets count
 * (LogQuery.maxBytes). SQLite's octet_length and ClickHouse's length give the same figure from the
 * columns without reading the text.
 */
export function recordTextBytes(r: LogRecord): number {
  let bytes = 0;
  for (const field of STRING_FIELDS) bytes += Buffer.byteLength(r[field], 'utf8');
  return bytes;
}

/** An upper bound of recordTextBytes without encoding: a UTF-16 code unit takes at most 3 bytes of UTF-8. */
export function recordTextBytesBound(r: LogRecord): number {
  let units = 0;
  for (const field of STRING_FIELDS) units += r[field].length;
  return 3 * units;
}
