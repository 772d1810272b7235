import { LOG_FIELDS, toWireLog, type Log, type LogField, type LogRecord } from '../domain/log.js';

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
