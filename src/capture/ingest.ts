import { isUtf8 } from 'node:buffer';
import type { Clock, LogRecord } from '../domain/index.js';
import { OmsError, parseLogLine, recordDateLimits, validateLog, type LogValidationLimits } from '../domain/index.js';
import type { LogStore } from '../store/index.js';

/**
 * The ingest use case (SPEC section 8, POST /oms/v1/ingest): a batch of Log records shipped by an API
 * front end (Fluent Bit, Vector, another gateway), each judged alone by the validator `oms admin
 * import` uses, the good ones appended in one store call, and an answer that accounts for every line.
 *
 *   body ──▶ NDJSON lines | JSON array elements ──▶ parseLogLine/validateLog ──▶ store.append ──▶ report
 *                                                         │ rejected (Index, reason)
 *
 * Whole-body faults (empty, not UTF-8, not a JSON array) throw InvalidParameterValue and store nothing.
 */
export type IngestFormat = 'ndjson' | 'json-array';

export interface IngestRejection {
  /** 0-based line of the NDJSON body (blank lines count), or 0-based element of the JSON array. */
  Index: number;
  Error: string;
}

export interface IngestReport {
  Accepted: number;
  Duplicates: number;
  Rejected: IngestRejection[];
}

export interface ParsedIngestBody {
  records: LogRecord[];
  rejected: IngestRejection[];
}

export interface IngestDeps {
  committer: IngestCommitter;
  clock: Clock;
  retentionDays: number;
  maxLineBytes: number;
  /**
   * Lines (or array elements) a batch may hold: what bounds the memory of the Rejected list when a
   * body is made of tiny bad lines. A valid record is at least ~330 bytes, so one per 128 bytes of the
   * body limit never refuses a real batch (see ingestRecordLimit).
   */
  maxRecords: number;
  /** Seconds a shipper is told to wait when the store does not take the batch. */
  storeRetryAfterSec?: number;
}

const LINE_FEED = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const OPEN_BRACE = 0x7b;
// JSON's own whitespace (RFC 8259 section 2): a line of only these is blank, not a record.
const BLANK = /^[ \t\r]*$/;

/**
 * Splits and validates a body. NDJSON: one record per line (LF or CRLF), blank lines skipped but
 * counted in Index; a line longer than `maxLineBytes` is rejected without being parsed. JSON array:
 * one record per element. Throws OmsError('InvalidParameterValue') when the body as a whole is unusable.
 */
export function parseIngestBody(body: Buffer, format: IngestFormat, limits: { maxLineBytes: number; maxRecords: number }, dates: LogValidationLimits): ParsedIngestBody {
  if (body.length === 0) {
    throw new OmsError('InvalidParameterValue', 'The request body is empty: send NDJSON or a JSON array of Log records.');
  }
  // One native pass over the bytes; each line can then be decoded without a checking decoder.
  if (!isUtf8(body)) throw new OmsError('InvalidParameterValue', 'The request body is not valid UTF-8; nothing was stored.');
  return format === 'ndjson' ? parseNdjson(body, limits.maxLineBytes, limits.maxRecords, dates) : parseJsonArray(body, limits.maxRecords, dates);
}

/** The record limit of a batch for a body limit: one record per 128 bytes, at least 1,000. */
export function ingestRecordLimit(maxBodyBytes: number): number {
  return Math.max(1_000, Math.floor(maxBodyBytes / 128));
}

function tooManyRecords(maxRecords: number): OmsError {
  return new OmsError('RequestTooLarge', `The request body holds more than ${maxRecords} records; send smaller batches. Nothing was stored.`);
}

function parseNdjson(body: Buffer, maxLineBytes: number, maxRecords: number, dates: LogValidationLimits): ParsedIngestBody {
  const records: LogRecord[] = [];
  const rejected: IngestRejection[] = [];
  const length = body.length;
  let start = 0;
  let index = 0;
  let seen = 0;
  while (start < length) {
    let end = body.indexOf(LINE_FEED, start);
    if (end === -1) end = length;
    const stop = end > start && body[end - 1] === CARRIAGE_RETURN ? end - 1 : end;
    const lineIndex = index++;
    const lineStart = start;
    start = end + 1;
    if (stop === lineStart) continue;
    if (++seen > maxRecords) throw tooManyRecords(maxRecords);
    if (stop - lineStart > maxLineBytes) {
      rejected.push({ Index: lineIndex, Error: `line is longer than ${maxLineBytes} bytes` });
      continue;
    }
    const text = body.toString('utf8', lineStart, stop);
    if (body[lineStart] !== OPEN_BRACE && BLANK.test(text)) {
      seen--;
      continue;
    }
    const checked = parseLogLine(text, dates);
    if (checked.ok) records.push(checked.record);
    else rejected.push({ Index: lineIndex, Error: checked.error });
  }
  return { records, rejected };
}

function parseJsonArray(body: Buffer, maxRecords: number, dates: LogValidationLimits): ParsedIngestBody {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new OmsError('InvalidParameterValue', 'The request body is not valid JSON: with Content-Type application/json it must be one JSON array of Log records; nothing was stored.');
  }
  if (!Array.isArray(value)) {
    throw new OmsError('InvalidParameterValue', 'The request body must be a JSON array of Log records (or NDJSON with Content-Type application/x-ndjson); nothing was stored.');
  }
  if (value.length > maxRecords) throw tooManyRecords(maxRecords);
  const records: LogRecord[] = [];
  const rejected: IngestRejection[] = [];
  for (let i = 0; i < value.length; i++) {
    const checked = validateLog(value[i], dates);
    if (checked.ok) records.push(checked.record);
    else rejected.push({ Index: i, Error: checked.error });
  }
  return { records, rejected };
}

/**
 * Validates a batch and hands its good records to the committer. Resolves once they are durable
 * (LogStore.append's promise); a store that cannot take them is StoreUnavailable with a Retry-After,
 * so the shipper sends the batch again (records already stored then count as Duplicates).
 */
export async function ingestBatch(body: Buffer, format: IngestFormat, deps: IngestDeps): Promise<IngestReport> {
  const parsed = parseIngestBody(body, format, deps, recordDateLimits(deps.clock.nowUs(), deps.retentionDays));
  let outcome: CommitOutcome = { inserted: 0, duplicates: 0 };
  if (parsed.records.length > 0) {
    try {
      outcome = await deps.committer.append(parsed.records);
    } catch (err) {
      if (err instanceof OmsError && err.kind === 'StoreUnavailable') {
        throw new OmsError('StoreUnavailable', 'The log store is not accepting records; send the batch again later.', {
          cause: err,
          retryAfterSec: deps.storeRetryAfterSec ?? 5,
        });
      }
      throw err;
    }
  }
  return { Accepted: outcome.inserted, Duplicates: outcome.duplicates, Rejected: parsed.rejected };
}

export interface CommitOutcome {
  inserted: number;
  duplicates: number;
}

interface PendingBatch {
  records: readonly LogRecord[];
  resolve: (outcome: CommitOutcome) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit for ingest: the batches that finished parsing while the previous append ran go to the
 * store together, in one append (one SQLite transaction), and each learns its own counts. A store
 * transaction costs a fixed part (the WAL frames of every index page it touches) plus a part per
 * record, so several shippers posting at once share the fixed part. Appends never overlap, so a
 * record posted twice at once is stored once and reported as a Duplicate to the later batch, exactly
 * as if they had come one after the other. A failed append rejects every batch it carried: none of
 * them is acknowledged.
 *
 *   append(a) ─┐
 *   append(b) ─┼─▶ queue ─▶ store.append(a ++ b ++ c) ─▶ split duplicateIndexes by offset ─▶ resolve a, b, c
 *   append(c) ─┘    (up to maxRecordsPerAppend)
 */
export class IngestCommitter {
  readonly #store: LogStore;
  readonly #maxRecordsPerAppend: number;
  #queue: PendingBatch[] = [];
  #running = false;

  constructor(store: LogStore, options: { maxRecordsPerAppend?: number } = {}) {
    this.#store = store;
    this.#maxRecordsPerAppend = options.maxRecordsPerAppend ?? 20_000;
  }

  append(records: readonly LogRecord[]): Promise<CommitOutcome> {
    if (records.length === 0) return Promise.resolve({ inserted: 0, duplicates: 0 });
    return new Promise<CommitOutcome>((resolve, reject) => {
      this.#queue.push({ records, resolve, reject });
      // After the current I/O phase: the bodies that completed in it join this append.
      if (!this.#running && this.#queue.length === 1) setImmediate(() => void this.#drain());
    });
  }

  async #drain(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      while (this.#queue.length > 0) {
        let take = 0;
        let count = 0;
        while (take < this.#queue.length && (take === 0 || count + (this.#queue[take] as PendingBatch).records.length <= this.#maxRecordsPerAppend)) {
          count += (this.#queue[take] as PendingBatch).records.length;
          take++;
        }
        const group = this.#queue.splice(0, take);
        await this.#commit(group, count);
      }
    } finally {
      this.#running = false;
    }
  }

  async #commit(group: readonly PendingBatch[], count: number): Promise<void> {
    const all = group.length === 1 ? (group[0] as PendingBatch).records : new Array<LogRecord>(count);
    if (group.length > 1) {
      let at = 0;
      for (const pending of group) for (const record of pending.records) (all as LogRecord[])[at++] = record;
    }
    let duplicateIndexes: readonly number[];
    try {
      // Sorted here because the LogStore contract does not promise an order.
      duplicateIndexes = [...(await this.#store.append(all)).duplicateIndexes].sort((a, b) => a - b);
    } catch (err) {
      for (const pending of group) pending.reject(err);
      return;
    }
    // Walk the ascending indexes once against each batch's range of the merged array.
    let d = 0;
    let start = 0;
    for (const pending of group) {
      const end = start + pending.records.length;
      let duplicates = 0;
      while (d < duplicateIndexes.length && (duplicateIndexes[d] as number) < end) {
        duplicates++;
        d++;
      }
      pending.resolve({ inserted: pending.records.length - duplicates, duplicates });
      start = end;
    }
  }
}
