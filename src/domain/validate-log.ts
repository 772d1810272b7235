import { LOG_FIELDS, type Log, type LogRecord } from './log.js';
import { parseIsoDate, US_PER_DAY, US_PER_SECOND } from './time.js';

/**
 * Validation of log records that come from outside (import files, the ingest endpoint): each record is
 * judged alone, and a rejection says which field is wrong and why, so that nothing is dropped silently.
 */

export const MAX_RAW_FIELD_CHARS = 1_048_576;
export const MAX_SHORT_FIELD_CHARS = 1_024;

export interface LogValidationLimits {
  /** Records older than this (QueryDate) are rejected: they would be purged at once. */
  minDateUs?: number;
  /** Records newer than this are rejected: a clock that far ahead is a bug or a forgery. */
  maxDateUs?: number;
}

export type LogValidation = { ok: true; record: LogRecord } | { ok: false; error: string };

const FIELD_SET: ReadonlySet<string> = new Set(LOG_FIELDS);
const ACCOUNT_ID = /^\d{12}$/;
// Printable ASCII without spaces: request ids, access keys, api names, call names, versions.
const TOKEN = /^[\x21-\x7e]+$/;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

const RAW_FIELDS = new Set<keyof Log>(['QueryHeaderRaw', 'QueryPayloadRaw']);
const TOKEN_FIELDS = new Set<keyof Log>(['RequestId', 'QueryAccessKey', 'QueryApiName', 'QueryApiVersion', 'QueryCallName']);

function checkString(name: keyof Log, value: unknown): string | undefined {
  if (typeof value !== 'string') return `${name} must be a string`;
  // Lone surrogates cannot be stored as UTF-8 without altering the record.
  if (!value.isWellFormed()) return `${name} is not valid Unicode`;
  const max = RAW_FIELDS.has(name) ? MAX_RAW_FIELD_CHARS : MAX_SHORT_FIELD_CHARS;
  if (value.length > max) return `${name} is longer than ${max} characters`;
  if (TOKEN_FIELDS.has(name) && !TOKEN.test(value)) return `${name} must be non-empty printable ASCII without spaces`;
  return undefined;
}

function checkInteger(name: keyof Log, value: unknown, min: number, max: number): string | undefined {
  if (typeof value !== 'number' || !Number.isInteger(value)) return `${name} must be an integer`;
  if (value < min || value > max) return `${name} must be between ${min} and ${max}`;
  return undefined;
}

/** Validates one external record (a wire `Log` with all 16 fields) and converts it to a LogRecord. */
export function validateLog(input: unknown, limits: LogValidationLimits = {}): LogValidation {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, error: 'a record must be a JSON object' };
  }
  const obj = input as Record<string, unknown>;
  // Own keys are distinct: 16 known ones are the 16 fields, and the missing-field pass is only for errors.
  let known = 0;
  for (const key of Object.keys(obj)) {
    if (!FIELD_SET.has(key)) return { ok: false, error: `unknown field ${JSON.stringify(key.slice(0, 64))}` };
    known++;
  }
  if (known !== LOG_FIELDS.length) {
    for (const field of LOG_FIELDS) {
      if (!(field in obj)) return { ok: false, error: `missing field ${field}` };
    }
  }
  const error =
    checkString('AccountId', obj.AccountId) ??
    (ACCOUNT_ID.test(obj.AccountId as string) ? undefined : 'AccountId must be 12 digits') ??
    checkInteger('CallDuration', obj.CallDuration, 0, MAX_SAFE) ??
    checkString('QueryAccessKey', obj.QueryAccessKey) ??
    checkString('QueryApiName', obj.QueryApiName) ??
    checkString('QueryApiVersion', obj.QueryApiVersion) ??
    checkString('QueryCallName', obj.QueryCallName) ??
    checkString('QueryDate', obj.QueryDate) ??
    checkString('QueryHeaderRaw', obj.QueryHeaderRaw) ??
    checkInteger('QueryHeaderSize', obj.QueryHeaderSize, 0, MAX_SAFE) ??
    checkString('QueryIpAddress', obj.QueryIpAddress) ??
    checkString('QueryPayloadRaw', obj.QueryPayloadRaw) ??
    checkInteger('QueryPayloadSize', obj.QueryPayloadSize, 0, MAX_SAFE) ??
    checkString('QueryUserAgent', obj.QueryUserAgent) ??
    checkString('RequestId', obj.RequestId) ??
    checkInteger('ResponseSize', obj.ResponseSize, 0, MAX_SAFE) ??
    checkInteger('ResponseStatusCode', obj.ResponseStatusCode, 100, 599);
  if (error !== undefined) return { ok: false, error };

  const log = obj as unknown as Log;
  const date = parseIsoDate(log.QueryDate);
  if (date === undefined || date.dateOnly) {
    return { ok: false, error: 'QueryDate must be an ISO 8601 date-time such as 2021-08-11T09:55:02.842375Z' };
  }
  if (limits.minDateUs !== undefined && date.us < limits.minDateUs) {
    return { ok: false, error: 'QueryDate is older than the retention period' };
  }
  if (limits.maxDateUs !== undefined && date.us > limits.maxDateUs) {
    return { ok: false, error: 'QueryDate is in the future' };
  }
  // Built field by field (one object of one shape) rather than by rest and spread, which copy twice:
  // on the ingest path this is per record.
  const record: LogRecord = {
    AccountId: log.AccountId,
    CallDuration: log.CallDuration,
    QueryAccessKey: log.QueryAccessKey,
    QueryApiName: log.QueryApiName,
    QueryApiVersion: log.QueryApiVersion,
    QueryCallName: log.QueryCallName,
    QueryDateUs: date.us,
    QueryHeaderRaw: log.QueryHeaderRaw,
    QueryHeaderSize: log.QueryHeaderSize,
    QueryIpAddress: log.QueryIpAddress,
    QueryPayloadRaw: log.QueryPayloadRaw,
    QueryPayloadSize: log.QueryPayloadSize,
    QueryUserAgent: log.QueryUserAgent,
    RequestId: log.RequestId,
    ResponseSize: log.ResponseSize,
    ResponseStatusCode: log.ResponseStatusCode,
  };
  return { ok: true, record };
}

/** How far ahead of the server clock a record may be dated: clocks of front ends drift a little. */
export const FUTURE_TOLERANCE_US = 300 * US_PER_SECOND;

/**
 * The date bounds of every external record (import and ingest alike): not older than the retention,
 * since it would be purged at once, and not more than FUTURE_TOLERANCE_US ahead of `nowUs`.
 */
export function recordDateLimits(nowUs: number, retentionDays: number): Required<LogValidationLimits> {
  return { minDateUs: nowUs - retentionDays * US_PER_DAY, maxDateUs: nowUs + FUTURE_TOLERANCE_US };
}

/**
 * One line of NDJSON (or one element's text) to a validated record: JSON.parse, then validateLog.
 * The caller decides what a blank line is and how long a line may be.
 */
export function parseLogLine(text: string, limits: LogValidationLimits = {}): LogValidation {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, error: 'not valid JSON' };
  }
  return validateLog(value, limits);
}
