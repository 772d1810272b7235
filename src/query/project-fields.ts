import { LOG_FIELDS, type Log, type LogField, type LogRecord } from '../domain/log.js';
import { formatIsoUs } from '../domain/time.js';

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

/**
 * `With` (SPEC section 4, step 4): a field set to false is left out of every log. The common case,
 * every field, takes the direct path.
 */
export function projectLog(r: LogRecord, fields: readonly LogField[]): Partial<Log> {
  const full = toWireLog(r);
  if (fields.length === LOG_FIELDS.length) return full;
  const out: Partial<Record<LogField, string | number>> = {};
  for (const field of fields) out[field] = full[field];
  return out as Partial<Log>;
}
