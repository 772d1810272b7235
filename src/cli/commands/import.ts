import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { PassThrough, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { parseLogLine, recordDateLimits, type Clock, type LogRecord } from '../../domain/index.js';
import type { LogStore } from '../../store/index.js';

export interface ImportReport {
  Imported: number;
  Duplicates: number;
  Rejected: { Line: number; Error: string }[];
}

export interface ImportOptions {
  retentionDays: number;
  clock: Clock;
  /** Where progress goes; shown only when it is a terminal. */
  progress?: NodeJS.WriteStream;
  batchSize?: number;
}

/** Lines longer than this are rejected without being parsed. */
export const MAX_LINE_CHARS = 4 * 1024 * 1024;

/** Gunzips the stream when it starts with the gzip magic bytes, whatever the file is called. */
async function maybeGunzip(input: Readable): Promise<Readable> {
  const out = new PassThrough();
  const first: Buffer | null = await new Promise((resolve, reject) => {
    const onReadable = () => {
      cleanup();
      resolve(input.read() as Buffer | null);
    };
    const onEnd = () => {
      cleanup();
      resolve(null);
    };
    const onError = (err: unknown) => {
      cleanup();
      reject(err);
    };
    const cleanup = () => {
      input.off('readable', onReadable);
      input.off('end', onEnd);
      input.off('error', onError);
    };
    input.once('readable', onReadable);
    input.once('end', onEnd);
    input.once('error', onError);
  });
  if (first === null) {
    out.end();
    return out;
  }
  input.unshift(first);
  if (first.length >= 2 && first[0] === 0x1f && first[1] === 0x8b) {
    const gunzip = createGunzip();
    input.on('error', (err) => gunzip.destroy(err));
    return input.pipe(gunzip);
  }
  return input;
}

/**
 * Reads NDJSON Log records (plain or gzip), validates each line alone and appends them in batches.
 * Every line is accounted for: imported, duplicate, or rejected with its line number and reason;
 * blank lines are not records and are skipped.
 */
export async function importRecords(file: string, store: LogStore, options: ImportOptions): Promise<ImportReport> {
  let raw: Readable;
  if (file === '-') {
    raw = process.stdin;
  } else {
    // Opened first so that a missing or unreadable file is one clear error before anything is read.
    try {
      raw = (await open(file, 'r')).createReadStream();
    } catch (err) {
      throw new ImportInputError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  const input = await maybeGunzip(raw);
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });

  const batchSize = options.batchSize ?? 5_000;
  const report: ImportReport = { Imported: 0, Duplicates: 0, Rejected: [] };
  const showProgress = options.progress?.isTTY === true;
  const started = Date.now();
  let lastProgress = 0;
  let batch: LogRecord[] = [];
  let lineNumber = 0;

  // One append in flight while the next batch is parsed: the store writes on its own thread
  // (sqlite/write-thread.ts), so reading and validating use the other core. Appends stay in order.
  let inFlight: Promise<void> | undefined;
  let appendFailure: unknown;
  const settle = async () => {
    await inFlight;
    inFlight = undefined;
    if (appendFailure !== undefined) throw appendFailure;
  };
  const flush = async () => {
    if (batch.length === 0) return;
    const sending = batch;
    batch = [];
    await settle();
    inFlight = store.append(sending).then(
      (result) => {
        report.Imported += result.inserted;
        report.Duplicates += result.duplicateIndexes.length;
        showProgressLine();
      },
      (err: unknown) => {
        appendFailure = err;
      },
    );
  };
  const showProgressLine = () => {
    if (showProgress && Date.now() - lastProgress > 250) {
      lastProgress = Date.now();
      const seconds = (lastProgress - started) / 1000;
      const rate = Math.round((report.Imported + report.Duplicates) / Math.max(seconds, 0.001));
      options.progress?.write(`\rimported ${report.Imported}, duplicates ${report.Duplicates}, rejected ${report.Rejected.length} (${rate} records/s)   `);
    }
  };

  try {
    for await (const line of lines) {
      lineNumber++;
      if (line.trim() === '') continue;
      if (line.length > MAX_LINE_CHARS) {
        report.Rejected.push({ Line: lineNumber, Error: `line is longer than ${MAX_LINE_CHARS} characters` });
        continue;
      }
      const checked = parseLogLine(line, recordDateLimits(options.clock.nowUs(), options.retentionDays));
      if (!checked.ok) {
        report.Rejected.push({ Line: lineNumber, Error: checked.error });
        continue;
      }
      batch.push(checked.record);
      if (batch.length >= batchSize) await flush();
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR' || code === 'ERR_STREAM_PREMATURE_CLOSE') {
      await flush();
      await settle();
      throw new ImportInputError(`${file}: the gzip data is damaged after line ${lineNumber} (${report.Imported} records imported before it)`);
    }
    throw err;
  }
  await flush();
  await settle();
  if (showProgress) options.progress?.write('\n');
  return report;
}

/** The input cannot be read: one line for the operator, exit code 1. */
export class ImportInputError extends Error {
  override name = 'ImportInputError';
}
